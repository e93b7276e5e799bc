"""Branch naming, --repo URL checks, credentials, the credential helper (no cluster)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

import kodama
from kodama.errors import InvalidInput
from kodama.git import remote
from kodama.git import session as git
from tests.fixtures.repo import make_repo

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
HELPER = Path(kodama.__file__).parent / "incluster" / "git-credential-kodama"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", files={"a.txt": "a\n"})


# -- branch names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kodama/fix-1", "feature/a.b", "x", "a/b/c", "UPPER_case-9"])
def test_valid_branch_names(name: str) -> None:
    assert git.validate_branch(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "@", "a b", "a..b", "a/", "/a", "a.", "a.lock", "a/b.lock/c", ".a", "a/.b", "-a",
     "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a@{1}", "a//b", "a\x7f"],
)  # fmt: skip
def test_invalid_branch_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid branch name"):
        git.validate_branch(name)


def test_branch_names_agree_with_git(repo: Path) -> None:
    for name in ["ok/name", "a..b", "a.lock", ".x", "-x", "a b", "x/", "a@{b"]:
        ours = True
        try:
            git.validate_branch(name)
        except InvalidInput:
            ours = False
        theirs = subprocess.run(
            ["git", "check-ref-format", "--branch", name], cwd=repo, capture_output=True
        )
        assert ours == (theirs.returncode == 0), name


def test_plan_default_branch_and_base(repo: Path) -> None:
    head = sh(repo, "git", "rev-parse", "HEAD")
    p = git.plan(repo, "fix", prefix="kodama/", branch=None, base=None, repo=None, now=NOW)
    assert (p.branch, p.base_branch, p.base_commit, p.local_root) == (
        "kodama/fix",
        "main",
        head,
        repo,
    )


def test_plan_taken_name_gets_a_timestamp(repo: Path) -> None:
    sh(repo, "git", "branch", "kodama/fix")
    p = git.plan(repo, "fix", prefix="kodama/", branch=None, base=None, repo=None, now=NOW)
    assert p.branch == "kodama/fix-20250102-030405"


def test_plan_name_taken_on_a_remote_tracking_branch(repo: Path) -> None:
    sh(repo, "git", "update-ref", "refs/remotes/origin/kodama/fix", "HEAD")
    p = git.plan(repo, "fix", prefix="kodama/", branch=None, base=None, repo=None, now=NOW)
    assert p.branch == "kodama/fix-20250102-030405"


def test_plan_explicit_existing_branch_is_continued(repo: Path) -> None:
    sh(repo, "git", "checkout", "-q", "-b", "topic")
    (repo / "b").write_text("b")
    sh(repo, "git", "add", "b")
    sh(repo, "git", "commit", "-q", "-m", "two")
    tip = sh(repo, "git", "rev-parse", "HEAD")
    sh(repo, "git", "checkout", "-q", "main")
    p = git.plan(repo, "s", prefix="kodama/", branch="topic", base=None, repo=None)
    assert (p.branch, p.base_branch, p.base_commit) == ("topic", "topic", tip)


def test_plan_base_ref_and_errors(repo: Path, tmp_path: Path) -> None:
    first = sh(repo, "git", "rev-parse", "HEAD")
    sh(repo, "git", "commit", "-q", "--allow-empty", "-m", "two")
    p = git.plan(repo, "s", prefix="k/", branch=None, base="HEAD~1", repo=None)
    assert p.base_commit == first
    with pytest.raises(InvalidInput, match="not a commit"):
        git.plan(repo, "s", prefix="k/", branch=None, base="nope", repo=None)
    with pytest.raises(InvalidInput, match="invalid branch name"):
        git.plan(repo, "s", prefix="k/", branch="bad..name", base=None, repo=None)
    empty = tmp_path / "empty"
    empty.mkdir()
    sh(empty, "git", "init", "-q")
    with pytest.raises(InvalidInput, match="no commits yet"):
        git.plan(empty, "s", prefix="k/", branch=None, base=None, repo=None)


def test_plan_outside_a_repository(tmp_path: Path) -> None:
    p = git.plan(tmp_path, "s", prefix="k/", branch=None, base=None, repo=None)
    assert (p.branch, p.base_commit, p.local_root) == ("k/s", None, None)
    with pytest.raises(InvalidInput, match="--base needs a git repository"):
        git.plan(tmp_path, "s", prefix="k/", branch=None, base="main", repo=None)


def test_plan_repo_reads_the_remote(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    sh(tmp_path, "git", "clone", "-q", "--bare", str(repo), str(bare))
    head = sh(repo, "git", "rev-parse", "HEAD")
    p = git.plan(tmp_path, "s", prefix="kodama/", branch=None, base=None, repo="bare.git", now=NOW)
    assert (p.repo, p.branch, p.base_branch, p.base_commit) == (
        str(bare),
        "kodama/s",
        "main",
        head,
    )
    sh(bare, "git", "update-ref", "refs/heads/kodama/s", head)
    p = git.plan(
        tmp_path, "s", prefix="kodama/", branch=None, base=None, repo=f"file://{bare}", now=NOW
    )
    assert p.branch == "kodama/s-20250102-030405"
    # Unreachable remote: the pod resolves the base when it clones.
    p = git.plan(tmp_path, "s", prefix="k/", branch=None, base="dev", repo=str(tmp_path / "no"))
    assert (p.branch, p.base_branch, p.base_commit) == ("k/s", "dev", None)


def test_plan_repo_whose_head_names_no_branch(repo: Path, tmp_path: Path) -> None:
    """issue 21: `git init --bare` (HEAD on master) then a push of main: use main."""
    bare = tmp_path / "bare.git"
    sh(tmp_path, "git", "init", "-q", "--bare", "-b", "master", str(bare))
    sh(repo, "git", "push", "-q", str(bare), "main")
    head = sh(repo, "git", "rev-parse", "HEAD")
    p = git.plan(tmp_path, "s", prefix="kodama/", branch=None, base=None, repo=str(bare), now=NOW)
    assert (p.branch, p.base_branch, p.base_commit) == ("kodama/s", "main", head)
    # Two branches and no default: one line, before anything exists.
    sh(repo, "git", "push", "-q", str(bare), "main:dev")
    with pytest.raises(InvalidInput) as err:
        git.plan(tmp_path, "s", prefix="kodama/", branch=None, base=None, repo=str(bare), now=NOW)
    assert err.value.message == (
        f"--repo {bare}: its HEAD names no branch and it has 2 branches (dev, main): "
        "choose one with --base BRANCH"
    )
    p = git.plan(tmp_path, "s", prefix="kodama/", branch=None, base="dev", repo=str(bare), now=NOW)
    assert (p.base_branch, p.base_commit) == ("dev", head)


# -- --repo URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@github.com/org/repo.git",
        "https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/org/repo.git",
        "https://oauth2:glpat-xxxx@gitlab.com/org/repo.git",
        "https://github_pat_11AAAA@github.com/org/repo",
        "ssh://git:pw@host/org/repo.git",
        "user:pw@host:org/repo.git",
        "http://u:p@localhost:8080/r.git",
    ],
)
def test_urls_with_credentials_are_rejected(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="contains credentials") as exc:
        git.parse_repo(url, tmp_path)
    assert "secret" not in exc.value.message and "pw" not in exc.value.message
    assert exc.value.hint and "--git-token-env" in exc.value.hint


@pytest.mark.parametrize(
    ("url", "kind", "scope"),
    [
        ("https://github.com/org/repo.git", "https", "https://github.com"),
        ("https://alice@git.example.com:8443/r.git", "https", "https://git.example.com:8443"),
        ("http://127.0.0.1:9000/r.git", "http", "http://127.0.0.1:9000"),
        ("git@github.com:org/repo.git", "ssh", None),
        ("ssh://git@host:2222/org/repo.git", "ssh", None),
        ("file:///srv/repo.git", "file", None),
    ],
)
def test_accepted_urls(url: str, kind: str, scope: str | None, tmp_path: Path) -> None:
    parsed = git.parse_repo(url, tmp_path)
    assert (parsed.url, parsed.kind, parsed.credential_scope) == (url, kind, scope)


def test_local_paths_are_made_absolute(tmp_path: Path) -> None:
    assert git.parse_repo("sub/r.git", tmp_path).url == str(tmp_path / "sub" / "r.git")
    assert git.parse_repo("./a:b", tmp_path).kind == "local"


@pytest.mark.parametrize(
    "url", ["ext::sh -c evil", "ftp://host/r", "file://relative/r", "https://h/r?private_token=x"]
)
def test_unsupported_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        git.parse_repo(url, tmp_path)


# -- credentials -------------------------------------------------------------------------------


def test_token_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MY_TOKEN", "  tok-123\n")
    data = git.credentials("https://github.com/o/r", tmp_path, token_env="MY_TOKEN")
    assert data == {"git-token": b"tok-123"}


def test_token_from_file(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("abc\n")
    data = git.credentials("https://h/o/r", tmp_path, token_file=str(tmp_path / "t"))
    assert data == {"git-token": b"abc"}


def test_credential_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(InvalidInput, match="only applies with --repo"):
        git.credentials(None, tmp_path, token_env="NOPE")
    with pytest.raises(InvalidInput, match="NOPE is empty or not set"):
        git.credentials("https://h/r", tmp_path, token_env="NOPE")
    with pytest.raises(InvalidInput, match="use --git-ssh-key"):
        git.credentials("git@h:r", tmp_path, token_file="/dev/null")
    with pytest.raises(InvalidInput, match="need an ssh --repo"):
        git.credentials("https://h/r", tmp_path, ssh_key="/dev/null")
    with pytest.raises(InvalidInput, match="cannot read --git-token-file"):
        git.credentials("https://h/r", tmp_path, token_file=str(tmp_path / "missing"))


def test_ssh_key_and_known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "id"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n")
    known = tmp_path / "kh"
    known.write_text("github.com ssh-ed25519 AAAA\n")
    data = git.credentials(
        "git@github.com:o/r.git", tmp_path, ssh_key=str(key), known_hosts=str(known)
    )
    assert data["known_hosts"] == known.read_bytes()
    assert data["ssh-privatekey"] == key.read_bytes()
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts there
    with pytest.raises(InvalidInput, match=r"no known_hosts entry for github\.com"):
        git.credentials("git@github.com:o/r.git", tmp_path, ssh_key=str(key))
    with pytest.raises(InvalidInput, match="not a private key"):
        git.credentials("git@github.com:o/r.git", tmp_path, ssh_key=str(known))


# -- the credential helper ---------------------------------------------------------------------


def run_helper(secrets: Path | None, action: str, stdin: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "KODAMA_SECRETS"}
    if secrets is not None:
        env["KODAMA_SECRETS"] = str(secrets)
    return subprocess.run(
        ["sh", str(HELPER), action], input=stdin, env=env, capture_output=True, text=True
    ).stdout


def test_credential_helper_answers_get_from_the_token_file(tmp_path: Path) -> None:
    (tmp_path / "git").mkdir()
    (tmp_path / "git" / "token").write_text("s3cr3t-token\n")
    query = "protocol=https\nhost=github.com\n\n"
    assert run_helper(tmp_path, "get", query) == "username=x-access-token\npassword=s3cr3t-token\n"
    named = "protocol=https\nhost=h\nusername=alice\n\n"
    assert run_helper(tmp_path, "get", named) == "username=alice\npassword=s3cr3t-token\n"
    assert run_helper(tmp_path, "store", query + "password=x\n") == ""
    assert run_helper(tmp_path, "erase", query) == ""


def test_credential_helper_is_silent_without_a_token(tmp_path: Path) -> None:
    assert run_helper(tmp_path, "get", "protocol=https\nhost=h\n\n") == ""
    assert run_helper(None, "get", "protocol=https\nhost=h\n\n") == ""


def test_credential_helper_through_git(tmp_path: Path) -> None:
    """Wired the way the pod wires it: scoped to the repository's host, path from $HOME."""
    home = tmp_path / "home"
    (home / ".kodama" / "bin").mkdir(parents=True)
    helper = home / ".kodama" / "bin" / "git-credential-kodama"
    helper.write_text(HELPER.read_text())
    helper.chmod(0o755)
    (tmp_path / "secrets" / "git").mkdir(parents=True)
    (tmp_path / "secrets" / "git" / "token").write_text("tok\n")
    env = dict(os.environ, HOME=str(home), KODAMA_SECRETS=str(tmp_path / "secrets"))
    env["GIT_TERMINAL_PROMPT"] = "0"
    conf = [
        "-c",
        'credential.https://example.com.helper=!"$HOME/.kodama/bin/git-credential-kodama"',
    ]

    def fill(host: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *conf, "credential", "fill"],
            input=f"protocol=https\nhost={host}\n\n",
            env=env,
            capture_output=True,
            text=True,
        )

    out = fill("example.com")
    assert "password=tok" in out.stdout and "username=x-access-token" in out.stdout
    assert fill("evil.example.org").returncode != 0  # other hosts never get the token


# -- issue 16 item 6: arguments are not options ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "-oProxyCommand=touch /tmp/x:repo",
        "--upload-pack=touch x",
        "-u",
        " -x:y",
        "ssh://-oProxyCommand=x/r",
        "git@-oProxyCommand=x:r",
    ],
)
def test_repo_values_starting_with_a_dash_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="must not start with '-'"):
        git.parse_repo(url, tmp_path)


def test_ls_remote_treats_a_dashed_url_as_a_repository(repo: Path, tmp_path: Path) -> None:
    """Even past parse_repo, a value like --upload-pack=CMD reaches git after `--`."""
    sh(repo, "git", "remote", "add", "origin", str(repo))
    mark = tmp_path / "pwned"
    cwd = os.getcwd()
    os.chdir(repo)  # `git ls-remote` without a repository falls back to the cwd's origin
    try:
        assert remote.ls_remote(f"--upload-pack=touch {mark}; git-upload-pack", ["HEAD"]) is None
    finally:
        os.chdir(cwd)
    assert not mark.exists()


def test_base_starting_with_a_dash_is_refused(repo: Path) -> None:
    with pytest.raises(InvalidInput, match="start with '-'"):
        git.plan(repo, "s1", prefix="kodama/", branch=None, base="--output=/tmp/x", repo=None)
