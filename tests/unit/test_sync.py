"""File sync: the ssh/scp shims' argument handling, ignore translation, status parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kodama.store import Store
from kodama.sync import session as sync
from kodama.sync import shims
from kodama.sync.ignore import (
    GIT_LOOKALIKES,
    local_files,
    mutagen_ignores,
    translate,
    translate_line,
)
from kodama.sync.shims import ShimError, parse_host, parse_scp, parse_ssh, split_options

# -- shims -------------------------------------------------------------------------------------

# What mutagen 0.18's SSH transport passes (pkg/agent/transport/ssh/transport.go).
MUTAGEN_SSH_ARGS = [
    "-oConnectTimeout=5",
    "-oServerAliveInterval=10",
    "-oServerAliveCountMax=1",
    "fix-login.team-a.kodama",
    ".mutagen/agents/0.18.1/mutagen-agent synchronizer --log-level=info",
]
MUTAGEN_SCP_ARGS = [
    "-C",
    "-oConnectTimeout=5",
    "-oServerAliveInterval=10",
    "-oServerAliveCountMax=1",
    "mutagen-agent123",
    "fix-login.team-a.kodama:.mutagen-agent0f2c",
]


def test_host_round_trip() -> None:
    assert shims.host_for("team-a", "fix-login") == "fix-login.team-a.kodama"
    assert parse_host("fix-login.team-a.kodama") == ("team-a", "fix-login")
    assert parse_host("user@fix-login.team-a.kodama") == ("team-a", "fix-login")


@pytest.mark.parametrize("host", ["example.com", "a.kodama", "a.b.c.kodama", ".ns.kodama"])
def test_foreign_hosts_are_refused(host: str) -> None:
    with pytest.raises(ShimError):
        parse_host(host)


def test_parse_ssh_as_mutagen_calls_it() -> None:
    call = parse_ssh(MUTAGEN_SSH_ARGS)
    assert call.host == "fix-login.team-a.kodama"
    assert call.command == ".mutagen/agents/0.18.1/mutagen-agent synchronizer --log-level=info"


def test_parse_ssh_option_forms() -> None:
    call = parse_ssh(
        ["-p", "2222", "-Ct", "-o", "X=Y", "-lroot", "h.n.kodama", "uname", "-s", "-m"]
    )
    assert call.host == "h.n.kodama"
    assert call.command == "uname -s -m"
    opts, rest = split_options(["-Cp22", "host"], frozenset("p"))
    assert opts == {"C": "", "p": "22"} and rest == ["host"]


def test_parse_ssh_without_command_is_refused() -> None:
    with pytest.raises(ShimError, match="interactive"):
        parse_ssh(["-oConnectTimeout=5", "h.n.kodama"])
    with pytest.raises(ShimError, match="needs a value"):
        parse_ssh(["-p"])


def test_parse_scp_as_mutagen_calls_it() -> None:
    call = parse_scp(MUTAGEN_SCP_ARGS)
    assert (call.source, call.host, call.path) == (
        "mutagen-agent123",
        "fix-login.team-a.kodama",
        ".mutagen-agent0f2c",
    )
    assert parse_scp(["-P", "22", "f", "u@h.n.kodama:~/x/y"]).path == "x/y"


@pytest.mark.parametrize(
    "args",
    [
        ["h.n.kodama:remote", "local"],
        ["a", "b"],
        ["a", "b", "h.n.kodama:c"],
        ["f", "h.n.kodama:d/"],
    ],
)
def test_parse_scp_refuses_other_copies(args: list[str]) -> None:
    with pytest.raises(ShimError):
        parse_scp(args)


def test_shim_builds_exec_with_the_sessions_coordinates(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write(
        "team-a",
        "fix-login",
        {
            "name": "fix-login",
            "sync": {
                "kubeconfig": "/k/config",
                "context": "prod",
                "pod": "kodama-fix-login",
                "container": None,
            },
        },
    )
    target = shims.resolve("fix-login.team-a.kodama", store.home)
    argv = shims.ssh_argv(parse_ssh(MUTAGEN_SSH_ARGS), target)
    i = argv.index("exec")
    assert argv[1:i] == ["--kubeconfig", "/k/config", "--context", "prod", "-n", "team-a"]
    assert argv[i : i + 6] == ["exec", "-i", "kodama-fix-login", "-c", "agent", "--"]
    assert argv[-1] == ".mutagen/agents/0.18.1/mutagen-agent synchronizer --log-level=info"
    scp = shims.scp_argv(parse_scp(MUTAGEN_SCP_ARGS), target)
    assert scp[-1] == ".mutagen-agent0f2c" and 'cat > "$1.kodama-tmp"' in scp[-3]


def test_shim_without_record_explains(tmp_path: Path) -> None:
    with pytest.raises(ShimError, match="sync start"):
        shims.resolve("x.y.kodama", Store(tmp_path).home)


def test_shim_reads_the_record_where_the_store_writes_it(tmp_path: Path) -> None:
    """The shim reads the files itself (no models): each namespace's record, as Store.read."""
    store = Store(tmp_path)
    for ns in ("team-a", "team-b"):  # the second one lands in `fix.team-b.yaml`
        store.write(ns, "fix", {"sync": {"pod": f"pod-{ns}", "context": ns, "session": "m"}})
    store.write("team-c", "other", {"localPath": "/src"})  # known, not synced
    assert sorted(p.name for p in store.sessions_dir.glob("*.yaml")) == [
        "fix.team-b.yaml",
        "fix.yaml",
        "other.yaml",
    ]
    for ns in ("team-a", "team-b"):
        want = store.read(ns, "fix")
        assert want is not None
        got = shims.sync_record(tmp_path, ns, "fix")
        assert got is not None
        assert {k: got.get(k) for k in ("pod", "context")} == {"pod": f"pod-{ns}", "context": ns}
        assert shims.resolve(f"fix.{ns}.kodama", tmp_path).pod == want["sync"]["pod"]
    assert store.read("team-c", "other") is not None
    assert shims.sync_record(tmp_path, "team-c", "other") is None
    assert shims.sync_record(tmp_path, "team-d", "fix") is None
    assert shims.sync_record(tmp_path, "team-a", "..") is None


def test_the_shim_imports_no_models() -> None:
    """mutagen starts a shim per connection and waits for it: pydantic is most of a start-up."""
    probe = "import kodama.sync.shims, json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-P", "-c", probe], capture_output=True, text=True, check=True
    )
    mods = set(json.loads(out.stdout))
    assert "kodama.k8s.kubectl" in mods
    heavy = {"pydantic", "kodama.models", "kodama.store", "kodama.config"}
    assert mods & heavy == set()


def test_ssh_script_runs_the_command_in_home_and_keeps_exit_codes(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        ["sh", "-c", shims.SSH_SCRIPT, "kodama", "pwd"], env=env, capture_output=True, text=True
    )
    assert ok.stdout.strip() == str(tmp_path)
    missing = subprocess.run(
        ["sh", "-c", shims.SSH_SCRIPT, "kodama", ".mutagen/agents/x/mutagen-agent synchronizer"],
        env=env,
        capture_output=True,
    )
    assert missing.returncode == 127  # mutagen's cue to install the agent
    copied = subprocess.run(
        ["sh", "-c", shims.SCP_SCRIPT, "kodama", "sub/.agent"], env=env, input=b"#!/bin/sh\n"
    )
    assert copied.returncode == 0
    assert (tmp_path / "sub" / ".agent").stat().st_mode & 0o111


def test_shim_main_reports_errors_like_ssh(capsys: pytest.CaptureFixture[str]) -> None:
    assert shims.main(["ssh", "example.com", "true"]) == 255
    assert "kodama-ssh:" in capsys.readouterr().err
    assert shims.main(["nope"]) == 2


# -- ignores -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "base", "expected"),
    [
        ("", "", None),
        ("# comment", "", None),
        ("*.log", "", "*.log"),
        ("build/", "", "build/"),
        ("/dist", "", "/dist"),
        ("docs/_build", "", "/docs/_build"),
        ("!keep.log", "", "!keep.log"),
        ("**/tmp", "", "/**/tmp"),
        ("trailing   ", "", "trailing"),
        ("escaped\\ ", "", "escaped "),
        ("\\#hash", "", "#hash"),
        ("*.o", "sub/dir", "/sub/dir/**/*.o"),
        ("out/", "sub", "/sub/**/out/"),
        ("/only-here", "sub", "/sub/only-here"),
        ("a/b", "sub", "/sub/a/b"),
        ("!a/b/", "sub", "!/sub/a/b/"),
        ("/", "", None),
    ],
)
def test_translate_line(line: str, base: str, expected: str | None) -> None:
    assert translate_line(line, base) == expected


def test_translate_text() -> None:
    assert translate("# x\n\nnode_modules/\r\n*.pyc\n") == ["node_modules/", "*.pyc"]


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "sub" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("*.log\nbuild/\n!keep.log\n")
    (root / "sub" / ".gitignore").write_text("*.tmp\n/local-only\n")
    (root / ".git" / "info" / "exclude").write_text("secret.txt\n")
    for rel in [
        "a.txt",
        "x.log",
        "keep.log",
        "build/out.o",
        "sub/b.txt",
        "sub/c.tmp",
        "sub/deep/d.tmp",
        "sub/local-only",
        "secret.txt",
        "notes/draft.md",
        "big/blob.bin",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    subprocess.run(["git", "-C", str(root), "add", "a.txt", ".gitignore"], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-f", "x.log"], check=True)  # tracked, ignored
    return root


def test_mutagen_ignores_follow_gits_precedence(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert mutagen_ignores(root, ["notes/", "*.bin"]) == [
        *GIT_LOOKALIKES,
        "secret.txt",
        "*.log",
        "build/",
        "!keep.log",
        "/sub/**/*.tmp",
        "/sub/local-only",
        "notes/",
        "*.bin",
    ]


def test_a_negated_exclude_cannot_reinclude_git_ignored_files(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    patterns = mutagen_ignores(root, ["notes/", "!secret.txt", "!/sub/local-only"])
    assert patterns[-1] == "notes/" and not any(p.startswith("!/sub") for p in patterns)
    assert "!secret.txt" not in patterns
    assert "secret.txt" not in local_files(root, "", ["!secret.txt"])


def test_local_files_apply_the_same_rules(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert local_files(root, "", ["notes/", "*.bin"]) == [
        ".gitignore",
        "a.txt",
        "keep.log",
        "sub/.gitignore",
        "sub/b.txt",
    ]
    assert local_files(root, "sub") == ["sub/.gitignore", "sub/b.txt"]


# -- status ------------------------------------------------------------------------------------

LISTED = {
    "identifier": "sync_abc",
    "name": "kodama-team-a-fix-login",
    "labels": {"kodama-session": "fix-login", "kodama-namespace": "team-a"},
    "paused": False,
    "status": "staging-beta",
    "alpha": {"protocol": "local", "path": "/src/app", "connected": True, "scanned": True},
    "beta": {
        "protocol": "ssh",
        "host": "fix-login.team-a.kodama",
        "path": "/workspace",
        "connected": True,
        "scanned": True,
        "transitionProblems": [{"path": "bin/tool", "error": "permission denied"}],
    },
    "conflicts": [
        {
            "root": "a.txt",
            "alphaChanges": [
                {"path": "a.txt", "old": {"kind": "file"}, "new": {"kind": "file"}},
            ],
            "betaChanges": [{"path": "a.txt", "old": {"kind": "file"}, "new": None}],
        },
        {
            "root": "new",
            "alphaChanges": [{"path": "new", "old": None, "new": {"kind": "directory"}}],
            "betaChanges": [
                {"path": "new", "old": None, "new": {"kind": "file"}},
                {"path": "new/x", "old": None, "new": {"kind": "file"}},
            ],
        },
    ],
}


def test_parse_status() -> None:
    st = sync.parse_status("fix-login", LISTED)
    assert st.state == "staging" and st.activity == "staging-beta" and st.connected
    assert st.mutagen_session == "kodama-team-a-fix-login" and st.local_path == "/src/app"
    assert [(c.path, c.alpha, c.beta) for c in st.conflicts] == [
        ("a.txt", "modified file", "deleted"),
        ("new", "created directory", "created file (+1 more)"),
    ]
    assert st.problems == ["pod: bin/tool: permission denied"]
    assert st.last_error is None


def test_parse_status_halted_and_paused() -> None:
    halted = sync.parse_status("s", {"status": "halted-on-root-deletion", "alpha": {}, "beta": {}})
    assert halted.state == "halted" and "deleted" in (halted.last_error or "")
    paused = sync.parse_status("s", {"status": "disconnected", "paused": True})
    assert paused.state == "paused" and not paused.connected
    err = sync.parse_status("s", {"status": "connecting-beta", "lastError": "kodama-ssh: boom"})
    assert err.state == "connecting" and err.last_error == "kodama-ssh: boom"


def test_status_is_none_without_a_sync_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KODAMA_HOME", str(tmp_path))
    assert sync.status(Store(), "ns", "nothing") is None
    Store(tmp_path).write("ns", "s", {"name": "s", "sync": {"session": "kodama-ns-s"}})
    monkeypatch.setenv("KODAMA_MUTAGEN", str(tmp_path / "missing"))
    st = sync.status(Store(), "ns", "s")
    assert st is not None and st.state == "unavailable"


def test_names_and_selectors() -> None:
    assert sync.session_name("team-a", "fix-login") == "kodama-team-a-fix-login"
    assert sync.selector("team-a", "fix-login") == (
        "kodama-session=fix-login,kodama-namespace=team-a"
    )
