"""Fan-out: member requests, the compare output of the pod, the CLI's checks before the cluster."""

from __future__ import annotations

import pytest

from kodama.cli.fanout_cmds import compare_text
from kodama.engine import fanout
from kodama.errors import InvalidInput
from kodama.models import AgentStateName, StartRequest, Status

from .test_cli import run


def test_member_requests_name_branch_family_and_no_sync() -> None:
    reqs = fanout.member_requests(StartRequest(name="fix", prompt="p", branch="try"), 3)
    assert [r.name for r in reqs] == ["fix-1", "fix-2", "fix-3"]
    assert [r.branch for r in reqs] == ["try-1", "try-2", "try-3"]
    assert {r.family for r in reqs} == {"fix"} and {r.prompt for r in reqs} == {"p"}
    assert not any(r.sync for r in reqs)
    assert fanout.member_requests(StartRequest(name="fix"), 1)[0].branch is None


@pytest.mark.parametrize("count", [0, -1, fanout.MAX_COUNT + 1])
def test_count_bounds(count: int) -> None:
    with pytest.raises(InvalidInput, match="--count"):
        fanout.member_requests(StartRequest(name="fix"), count)


def test_member_names_must_fit() -> None:
    with pytest.raises(InvalidInput):
        fanout.member_requests(StartRequest(name="x" * 40), 3)


def test_sync_is_refused() -> None:
    with pytest.raises(InvalidInput, match="--sync"):
        fanout.member_requests(StartRequest(name="fix", sync=True), 2)


POD_ANSWER = """@@state
S {"state":"idle","message":null,"since":"2026-01-01T00:00:05Z","exitCode":null}
R {"pid":7,"procStart":"1","mode":"prompt","startedAt":"2026-01-01T00:00:00Z","endedAt":"2026-01-01T00:00:09Z","exitCode":0}
A 0
@@ahead 2
@@numstat
3\t1\tsrc/app.py
-\t-\tlogo.png
12\t0\tnotes with spaces.md
"""


def test_parse_compare() -> None:
    state, ahead, files, error = fanout.parse_compare(POD_ANSWER, "claude")
    assert state.state == AgentStateName.EXITED and state.exit_code == 0
    assert ahead == 2 and error is None
    assert [(f.path, f.added, f.deleted) for f in files] == [
        ("src/app.py", 3, 1),
        ("logo.png", None, None),
        ("notes with spaces.md", 12, 0),
    ]


def test_parse_compare_error() -> None:
    _, ahead, files, error = fanout.parse_compare("@@state\n@@error no base commit\n", "claude")
    assert ahead is None and files == [] and error == "no base commit"


def test_compare_text() -> None:
    state, ahead, files, _ = fanout.parse_compare(POD_ANSWER, "claude")
    ok = fanout.Comparison(
        name="fix-1",
        status=Status.RUNNING,
        agent=state,
        ahead=ahead,
        files=files,
        added=15,
        deleted=1,
        branch="kodama/fix-1",
    )
    down = fanout.Comparison(name="fix-2", status=Status.STOPPED, error="not running")
    text = compare_text([ok, down])
    assert "fix-1     Running" in text and "3 files +15 -1" in text
    assert "logo.png" in text and "binary" in text and "(not running)" in text


def test_cli_rejects_a_bad_count_before_the_cluster(tmp_path: object) -> None:
    proc = run("--kubeconfig", "/nonexistent", "start", "fix", "--count", "0")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: --count must be between 1 and {fanout.MAX_COUNT} (got 0)"
    ]


def test_cli_rejects_a_bad_idle_stop_before_the_cluster() -> None:
    proc = run("--kubeconfig", "/nonexistent", "start", "fix", "--idle-stop", "soon")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: invalid --idle-stop 'soon'")
    assert len(proc.stderr.strip().splitlines()) == 1
