"""Issue 3 on the test control plane: the session lifecycle, through the real CLI."""

from __future__ import annotations

import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from kodama import present
from kodama.models import Session
from tests.fixtures import fake_kubectl

from .conftest import Kodama, as_service_account, poll

pytestmark = pytest.mark.cluster


def exec_in(testenv: Any, ns: str, name: str, script: str) -> str:
    proc = testenv.kubectl(
        "exec", "-n", ns, f"kodama-{name}", "-c", "agent", "--", "sh", "-c", script
    )
    return str(proc.stdout)


def test_whole_lifecycle(kodama: Kodama, testenv: Any) -> None:
    ns = kodama.namespace
    t0 = time.monotonic()
    started = kodama.json("start", "s1")
    start_s = time.monotonic() - t0
    assert started["status"] == "Running", started
    assert started["branch"] == "kodama/s1"
    print(f"start wall time: {start_s:.2f}s")

    t0 = time.monotonic()
    listed = kodama.json("list")
    print(f"list wall time: {time.monotonic() - t0:.2f}s")
    assert [s["name"] for s in listed["items"]] == ["s1"]
    assert listed["items"][0]["status"] == "Running"
    table = kodama.run("list").stdout
    assert "s1" in table and "Running" in table

    # Data written in the workspace and in HOME survives stop/resume.
    exec_in(
        testenv, ns, "s1", 'echo keep-me > "$KODAMA_WORKSPACE/data.txt"; echo home > "$HOME/h.txt"'
    )

    stopped = kodama.json("stop", "s1")
    assert stopped["status"] == "Stopped"
    objs = testenv.managed(ns)
    assert "pod/kodama-s1" not in objs
    assert {
        "persistentvolumeclaim/kodama-s1-workspace",
        "persistentvolumeclaim/kodama-s1-home",
    } <= set(objs)

    resumed = kodama.json("resume", "s1")
    assert resumed["status"] == "Running"
    assert exec_in(testenv, ns, "s1", 'cat "$KODAMA_WORKSPACE/data.txt" "$HOME/h.txt"').split() == [
        "keep-me",
        "home",
    ]

    got = kodama.json("get", "s1")
    assert got["name"] == "s1" and got["pvcs"] == ["kodama-s1-workspace", "kodama-s1-home"]
    # `get` prints present.py's words for the same session (its times and events move on).
    steady = ("Name:", "Namespace:", "Status:", "Branch:", "Base:", "Image:", "Pod:", "PVCs:")
    shown = [
        line for line in kodama.run("get", "s1").stdout.splitlines() if line.startswith(steady)
    ]
    expected = present.detail_lines(Session.model_validate(got))
    assert shown == [line for line in expected if line.startswith(steady)]
    assert len(shown) == len(steady)

    kodama.run("delete", "s1", "--yes")
    assert testenv.managed(ns) == []
    assert kodama.run("get", "s1", check=False).returncode == 1


def test_pod_spec_through_the_api(kodama: Kodama, testenv: Any) -> None:
    """The parts a simulated node does not run, checked as the API server stored them."""
    import json

    kodama.run(
        "start",
        "spec",
        "--no-wait",
        "--resource",
        "example.com/widget=1",
        "--node-selector",
        "kubernetes.io/os=linux",
    )
    pod = json.loads(
        testenv.kubectl("get", "pod", "kodama-spec", "-n", kodama.namespace, "-o", "json").stdout
    )
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    (c,) = spec["containers"]
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["limits"]["example.com/widget"] == "1"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert not any(v.get("projected") for v in spec["volumes"]), "no ServiceAccount token volume"
    kodama.run("delete", "spec", "--yes")


def test_pod_deleted_out_of_band_is_stopped(kodama: Kodama, testenv: Any) -> None:
    kodama.run("start", "oob")
    testenv.kubectl("delete", "pod", "kodama-oob", "-n", kodama.namespace, "--wait=true")
    assert kodama.json("get", "oob")["status"] == "Stopped"
    assert kodama.json("resume", "oob")["status"] == "Running"
    kodama.run("delete", "oob", "--yes")


def test_lost_kodama_home_is_rebuilt(kodama: Kodama, testenv: Any) -> None:
    kodama.run("start", "lost")
    sessions = kodama.home / "sessions"
    assert (sessions / "lost.yaml").is_file()
    shutil.rmtree(sessions)
    assert [s["name"] for s in kodama.json("list")["items"]] == ["lost"]
    record = sessions / "lost.yaml"
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    kodama.run("stop", "lost")
    kodama.run("delete", "lost", "--yes")


def test_two_concurrent_starts(kodama: Kodama, testenv: Any) -> None:
    procs = [kodama.popen("start", "race") for _ in range(2)]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "already exists" in loser
    assert kodama.json("get", "race")["status"] == "Running"
    pods = [o for o in testenv.managed(kodama.namespace) if o.startswith("pod/")]
    assert pods == ["pod/kodama-race"]
    kodama.run("delete", "race", "--yes")


@pytest.mark.parametrize(
    ("step", "held"),
    [
        ("Creating session", "probe"),
        ("Waiting for pod", "probe"),
        ("Shipping", "ship"),
        ("Launching the agent", "interactive"),
    ],
)
def test_interrupt_after_each_step_then_rerun_and_delete(
    kodama: Kodama, testenv: Any, tmp_path: Path, step: str, held: str
) -> None:
    """Ctrl-C while start is at `step`: rolled back; a re-run works; delete leaves nothing.

    kubectl goes through the fake, which holds the first call with the word `held` (the step's
    own exec, or for the first two steps the one after them) until the CLI has taken the Ctrl-C:
    start cannot get past the step before the signal lands, so the only right answer is 130.
    """
    pids, release = tmp_path / "held-pids", tmp_path / "release"
    hold = {
        "KODAMA_KUBECTL": str(fake_kubectl.install(tmp_path)),
        "FAKE_KUBECTL_REAL": shutil.which("kubectl") or "kubectl",
        "FAKE_HOLD": held,
        "FAKE_HOLD_RELEASE": str(release),
        "FAKE_PIDS": str(pids),
    }
    proc = kodama.popen("start", "intr", env=hold)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if step in line:
            break
    else:
        pytest.fail(f"start never reached {step!r}: {seen}")
    if held in ("ship", "interactive"):  # the step's exec is running when the signal lands
        poll(lambda: pids.exists() and pids.read_text().strip(), timeout=60, interval=0.05)
    proc.send_signal(signal.SIGINT)
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("interrupting"):
            break
    release.touch()
    rest = proc.stderr.read()
    code = proc.wait(timeout=120)
    assert code == 130, "".join(seen) + rest
    assert "start of intr cancelled and rolled back" in rest
    assert testenv.managed(kodama.namespace) == [], "a cancelled start must roll back"
    assert kodama.json("start", "intr")["status"] == "Running"
    kodama.run("delete", "intr", "--yes")
    assert testenv.managed(kodama.namespace) == []


@pytest.mark.parametrize("step", ["Waiting for pod"])
def test_crash_mid_start_then_resume_or_delete(kodama: Kodama, testenv: Any, step: str) -> None:
    """SIGKILL (no cleanup possible): `resume` finishes the session, `delete` removes all."""
    proc = kodama.popen("start", "crash")
    assert proc.stderr is not None
    for line in proc.stderr:
        if step in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    again = kodama.run("start", "crash", check=False)
    assert again.returncode == 1 and "resume" in again.stderr
    assert kodama.json("resume", "crash")["status"] == "Running"
    kodama.run("delete", "crash", "--yes")
    assert testenv.managed(kodama.namespace) == []


BAD_INPUTS: list[tuple[list[str], str]] = [
    (["start", "Bad_Name"], "invalid session name"),
    (["start", "x" * 41], "at most 40"),
    (["start", "ok", "--cpu", "lots"], "--cpu"),
    (["start", "ok", "--memory", "0"], "greater than zero"),
    (["start", "ok", "--resource", "nvidia.com/gpu"], "KEY=VALUE"),
    (["start", "ok", "--resource", "/gpu=1"], "resource name"),
    (["start", "ok", "--toleration", "a:Sometimes"], "toleration"),
    (["start", "ok", "--node-selector", "x"], "KEY=VALUE"),
    (["start", "ok", "--timeout", "-1"], "--timeout"),
    (["start", "ok", "--prompt", "a", "--prompt-file", "f"], "cannot be used together"),
    (["start", "ok", "--env-file", "/nonexistent"], "does not exist"),
    (["start", "ok", "--secret-file", "nocolon"], "SRC:DST"),
    (["start", "ok", "--base", "no-such-ref"], "not a commit"),
    (["start", "ok", "--storage", "10GB"], "--storage"),
    (["start", "ok", "--no-such-flag"], "No such option"),
    (["start", "ok", "--dry-run", "-o", "name"], "-o yaml or -o json"),
    (["get", "missing"], "not found"),
    (["stop", "missing"], "not found"),
    (["delete", "missing", "--yes"], "not found"),
    (["-n", "Bad_NS", "list"], "invalid namespace"),
]


@pytest.mark.parametrize(
    ("args", "fragment"), BAD_INPUTS, ids=[" ".join(a)[:40] for a, _ in BAD_INPUTS]
)
def test_bad_input_one_line_exit_1_nothing_created(
    kodama: Kodama, testenv: Any, args: list[str], fragment: str
) -> None:
    proc = kodama.run(*args, check=False)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert testenv.managed(kodama.namespace) == []


def test_bad_config_file_names_file_and_line(kodama: Kodama, testenv: Any) -> None:
    (kodama.cwd / ".kodama.yaml").write_text("image: x\nresources:\n  cpu: lots\n")
    proc = kodama.run("start", "cfg", check=False)
    assert proc.returncode == 1
    assert ".kodama.yaml:3: resources.cpu" in proc.stderr
    assert testenv.managed(kodama.namespace) == []


def test_repo_config_changes_need_yes_and_forbidden_keys_are_refused(
    kodama: Kodama, testenv: Any
) -> None:
    repo_cfg = kodama.cwd / ".kodama.yaml"
    repo_cfg.write_text("git:\n  secretName: someone-elses-key\n")
    proc = kodama.run("start", "repocfg", check=False)
    assert proc.returncode == 1 and "git: not allowed in a repository" in proc.stderr
    repo_cfg.write_text("env:\n  FROM_REPO: 'yes'\n")
    proc = kodama.run("start", "repocfg", check=False)
    assert proc.returncode == 1 and "sets env.FROM_REPO: yes" in proc.stderr
    assert testenv.managed(kodama.namespace) == []
    assert kodama.json("start", "repocfg", "--yes")["status"] == "Running"
    out = kodama.run("attach", "repocfg", "--", "sh", "-c", 'echo "$FROM_REPO"').stdout
    assert out.strip() == "yes"
    kodama.run("delete", "repocfg", "--yes")


def test_unreachable_cluster(kodama: Kodama, tmp_path: Path) -> None:
    kc = tmp_path / "dead.kubeconfig"
    kc.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    dead = Kodama(kc, "default", kodama.home, kodama.cwd)
    proc = dead.run("list", check=False, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "cannot reach the cluster" in proc.stderr


def test_dry_run_needs_no_cluster_and_shows_no_secret_values(
    kodama: Kodama, tmp_path: Path
) -> None:
    dead = Kodama(
        tmp_path / "none",
        "dev",
        kodama.home,
        kodama.cwd,
        env={"ANTHROPIC_API_KEY": "sk-ant-secret-value"},
    )
    proc = dead.run("start", "dry", "--dry-run", "-o", "yaml")
    assert "kind: Pod" in proc.stdout and "kind: Secret" in proc.stdout
    assert "sk-ant-secret-value" not in proc.stdout + proc.stderr
    assert "c2stYW50" not in proc.stdout  # nor its base64


def test_global_flags_before_and_after_the_verb(kodama: Kodama, testenv: Any) -> None:
    before = kodama.run("list", "-o", "json").stdout
    after = kodama.run(
        "list",
        "-o",
        "json",
        "-n",
        kodama.namespace,
        "--kubeconfig",
        str(kodama.kubeconfig),
        namespaced=False,
    ).stdout
    assert before == after


def test_rbac_role_is_enough_for_the_whole_lifecycle(
    kodama: Kodama, testenv: Any, tmp_path: Path
) -> None:
    ns = kodama.namespace
    testenv.kubectl("create", "serviceaccount", "agent-runner", "-n", ns)
    role = kodama.run("rbac", "--serviceaccount", "agent-runner").stdout
    assert "ClusterRole" not in role
    testenv.kubectl("apply", "-n", ns, "-f", "-", input=role)
    sa = as_service_account(kodama, testenv, "agent-runner", tmp_path / "sa.kubeconfig")
    env_file = tmp_path / "agent.env"
    env_file.write_text("FOO=bar\n")  # a Secret is created and deleted without `list` on Secrets
    assert sa.json("start", "rbac", "--env-file", str(env_file))["status"] == "Running"
    assert sa.json("list")["items"][0]["name"] == "rbac"
    sa.run("attach", "rbac", "--", "true")
    sa.run("stop", "rbac")
    sa.run("resume", "rbac")
    sa.run("delete", "rbac", "--yes")
    # Outside its namespace it is refused, with a clear message.
    other = sa.run("-n", "default", "list", check=False, namespaced=False)
    assert other.returncode == 1 and "forbidden" in other.stderr
    assert testenv.managed(ns) == []


def test_rbac_for_a_user_then_a_serviceaccount_binds_both(kodama: Kodama, testenv: Any) -> None:
    ns = kodama.namespace
    for who in (("--user", "alice"), ("--serviceaccount", f"{ns}:bob")):
        testenv.kubectl("apply", "-n", ns, "-f", "-", input=kodama.run("rbac", *who).stdout)
    for subject in ("alice", f"system:serviceaccount:{ns}:bob"):
        allowed = testenv.kubectl(
            "auth", "can-i", "create", "pods/exec", "-n", ns, "--as", subject, check=False
        )
        assert allowed.stdout.strip() == "yes", subject
    denied = testenv.kubectl(
        "auth", "can-i", "list", "secrets", "-n", ns, "--as", "alice", check=False
    )
    assert denied.stdout.strip() == "no"


def test_stuck_start_says_why_unschedulable(kodama: Kodama, testenv: Any) -> None:
    # No node has the label: the scheduler's verdict ends the wait long before the timeout,
    # and start rolls back like on any other problem that will not fix itself (issue 21).
    proc = kodama.run(
        "start", "stuck", "--node-selector", "pool=nowhere", "--timeout", "3600", check=False
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    # One node, or the real node plus the simulated one (tainted while the real node runs).
    assert re.match(
        r"error: session stuck cannot be scheduled: 0/\d+ nodes are available: "
        r"1 node\(s\) didn't match Pod's node affinity/selector(, \d+ node\(s\) had untolerated taint\(s\))? \(hint: ",
        last,
    ), last
    assert testenv.managed(kodama.namespace) == []


def test_stuck_start_says_why_pvc_pending(kodama: Kodama, testenv: Any) -> None:
    proc = kodama.run(
        "start", "nopvc", "--storage-class", "no-such-class", "--timeout", "8", check=False
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "PVC kodama-nopvc-workspace is Pending" in last, last
    kodama.run("delete", "nopvc", "--yes")
    assert testenv.managed(kodama.namespace) == []


def test_quota_exceeded_is_reported_and_rolled_back(kodama: Kodama, testenv: Any) -> None:
    quota = (
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: tiny}\n"
        "spec: {hard: {limits.memory: 64Mi, requests.memory: 64Mi}}\n"
    )
    testenv.kubectl("apply", "-n", kodama.namespace, "-f", "-", input=quota)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the quota controller fills in status.hard first
        if (
            "64Mi"
            in testenv.kubectl(
                "get",
                "resourcequota",
                "tiny",
                "-n",
                kodama.namespace,
                "-o",
                "jsonpath={.status.hard}",
            ).stdout
        ):
            break
        time.sleep(0.5)
    proc = kodama.run("start", "quota", "--memory", "128Mi", check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "exceeded quota" in last, last
    assert testenv.managed(kodama.namespace) == []
