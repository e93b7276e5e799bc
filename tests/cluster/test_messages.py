"""issue 21 on the test control plane: each message a new user stumbled over, pinned.

Every check is the exact first line of stderr and the exit code, and that no kubectl
diagnostic (`E1130 …`, `command terminated with exit code N`) reaches the user.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.repo import make_repo

from .conftest import Kodama, as_service_account, on_simulated_node

pytestmark = pytest.mark.cluster

KUBECTL_NOISE = re.compile(r"^[IWEF]\d{4} |^command terminated with exit code", re.M)


def first_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.splitlines()
    assert not KUBECTL_NOISE.search(proc.stderr), proc.stderr
    return lines[0] if lines else ""


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert not KUBECTL_NOISE.search(proc.stderr), proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def sa_kodama(kodama: Kodama, testenv: Any, tmp_path: Path) -> Kodama:
    """The same user, through a ServiceAccount that has only `kubectl kodama rbac`'s Role."""
    ns = kodama.namespace
    testenv.kubectl("create", "serviceaccount", "runner", "-n", ns)
    testenv.kubectl(
        "apply", "-n", ns, "-f", "-", input=kodama.run("rbac", "--serviceaccount", "runner").stdout
    )
    return as_service_account(kodama, testenv, "runner", tmp_path / "sa.kubeconfig")


def test_logs_of_an_interactive_session(kodama: Kodama) -> None:
    kodama.run("start", "inter")
    proc = kodama.run("logs", "inter", check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: session inter has no headless run log: its agent was not started with --prompt "
        "(hint: `kubectl kodama attach inter` opens the agent's terminal)"
    ]


def test_attach_command_exit_code_without_kubectl_lines(kodama: Kodama) -> None:
    kodama.run("start", "cmd")
    proc = kodama.run(
        "attach", "cmd", "--", "sh", "-c", "echo out; echo err >&2; exit 7", check=False
    )
    assert proc.returncode == 7
    assert (proc.stdout, proc.stderr) == ("out\n", "err\n")


def test_not_found_and_empty_lists_name_the_namespace(kodama: Kodama, testenv: Any) -> None:
    ns = kodama.namespace
    hint = "(hint: pass -n NAMESPACE if it lives elsewhere; `kubectl kodama list -A` lists every namespace)"
    for verb in ("get", "stop", "resume", "attach", "logs", "fetch"):
        proc = kodama.run(verb, "nosuch", check=False)
        assert proc.returncode == 1, verb
        assert first_line(proc) == f"error: session 'nosuch' not found in namespace {ns} {hint}"
    proc = kodama.run("delete", "nosuch", "--yes", check=False)
    assert (proc.returncode, last_line(proc)) == (
        1,
        f"error: session 'nosuch' not found in namespace {ns} {hint}",
    )
    proc = kodama.run("list")
    assert (proc.stdout, proc.stderr) == (
        "",
        f"No sessions found in namespace {ns} (-A lists every namespace).\n",
    )
    proc = kodama.run("list", "-n", "no-such-ns", namespaced=False)
    assert proc.stderr == "No sessions found: namespace no-such-ns does not exist.\n"


def test_list_all_namespaces_with_the_namespaced_role(
    kodama: Kodama, testenv: Any, tmp_path: Path
) -> None:
    sa = sa_kodama(kodama, testenv, tmp_path)
    assert (
        sa.run("list").stderr
        == f"No sessions found in namespace {kodama.namespace} (-A lists every namespace).\n"
    )
    proc = sa.run("list", "-A", check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: forbidden: cannot list sessions in all namespaces (-A needs list access to PVCs "
        "and pods cluster-wide) (hint: Kodama's Role is per namespace: "
        "`kubectl kodama list -n NAMESPACE`)"
    ]


def test_start_of_a_running_name_suggests_attach(kodama: Kodama) -> None:
    kodama.run("start", "twice")
    proc = kodama.run("start", "twice", check=False)
    assert proc.returncode == 1
    assert last_line(proc) == (
        f"error: session 'twice' already exists in namespace {kodama.namespace} and is running "
        "(hint: `kubectl kodama attach twice` opens it, or pick another name)"
    )
    kodama.run("stop", "twice")
    proc = kodama.run("start", "twice", check=False)
    assert last_line(proc) == (
        f"error: session 'twice' already exists in namespace {kodama.namespace} "
        "(hint: use `kubectl kodama resume twice`, or pick another name)"
    )


def test_unschedulable_start_fails_early_and_rolls_back(kodama: Kodama, testenv: Any) -> None:
    # The timeout is far longer than the test may take: the answer must come from the
    # scheduler's verdict, not from waiting it out.
    proc = kodama.run("start", "huge", "--cpu", "500", "--timeout", "3600", check=False)
    assert proc.returncode == 1
    # One node, or the real node plus the simulated one (tainted while the real node runs).
    assert re.fullmatch(
        r"error: session huge cannot be scheduled: 0/\d+ nodes are available: 1 Insufficient cpu(, \d+ node\(s\) had untolerated taint\(s\))? "
        r"\(hint: ask for less \(--cpu, --memory, --resource\) or other nodes \(--node-selector, "
        r"--toleration\), or get capacity added\)",
        last_line(proc),
    ), last_line(proc)
    assert "Rolling back session huge" in proc.stderr
    assert testenv.managed(kodama.namespace) == []


def test_get_shows_the_current_cause_not_stale_events(kodama: Kodama, testenv: Any) -> None:
    kodama.run("start", "pend", "--node-selector", "pool=nowhere", "--no-wait")
    deadline = time.monotonic() + 60
    while True:  # the scheduler has had its say
        got = kodama.json("get", "pend")
        if "Unschedulable" in (got["reason"] or "") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got["status"] == "Pending"
    assert re.match(
        r"Unschedulable: 0/\d+ nodes are available: 1 node\(s\) didn't match Pod's node affinity",
        got["reason"],
    ), got["reason"]
    assert sum("FailedScheduling" in e for e in got["events"]) == 1
    kodama.run("stop", "pend")
    got = kodama.json("get", "pend")
    assert got["status"] == "Stopped" and got["events"] == []


def test_repo_whose_head_names_no_branch(kodama: Kodama, tmp_path: Path, testenv: Any) -> None:
    # The remote is a folder of this host: the simulated node's pods reach it, the real node's not.
    config = kodama.home / "config.yaml"
    config.write_text(on_simulated_node(testenv) + config.read_text())
    src = make_repo(tmp_path / "src")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(bare)], check=True)
    subprocess.run(["git", "-C", str(src), "push", "-q", str(bare), "main"], check=True)
    head = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    got = kodama.json("start", "bare", "--repo", str(bare))
    assert (got["status"], got["baseBranch"], got["baseCommit"]) == ("Running", "main", head)
    log = kodama.run("attach", "bare", "--", "git", "log", "-1", "--format=%H %D")
    assert log.stdout.strip() == f"{head} HEAD -> kodama/bare, origin/main"
    subprocess.run(["git", "-C", str(src), "push", "-q", str(bare), "main:dev"], check=True)
    proc = kodama.run("start", "bare2", "--repo", str(bare), check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: --repo {bare}: its HEAD names no branch and it has 2 branches (dev, main): "
        "choose one with --base BRANCH"
    ]


def test_delete_keep_data_leaves_a_stopped_session(kodama: Kodama, testenv: Any) -> None:
    kodama.run("start", "keep")
    kodama.run("attach", "keep", "--", "sh", "-c", "echo mine > kept.txt")
    kodama.run("delete", "keep", "--yes", "--keep-data")
    listed = kodama.json("list")["items"]
    assert [(s["name"], s["status"]) for s in listed] == [("keep", "Stopped")]
    assert testenv.managed(kodama.namespace) == [
        "persistentvolumeclaim/kodama-keep-home",
        "persistentvolumeclaim/kodama-keep-workspace",
    ]
    kodama.run("resume", "keep")
    assert kodama.run("attach", "keep", "--", "cat", "kept.txt").stdout == "mine\n"
    kodama.run("delete", "keep", "--yes")
    assert testenv.managed(kodama.namespace) == []
