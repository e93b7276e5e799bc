"""Issue 16 item 9: fetch, push and pull have deadlines and obey cancel (CLI Ctrl-C, LSP cancel).

kubectl is replaced by the fake that records its pid and then hangs, as an exec into a wedged pod
or a dead network would: the operation must end, with Cancelled or a "timed out" error, and take its
processes with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kodama.errors import Cancelled, KodamaError
from kodama.events import CancelToken, Reporter
from kodama.git import session as git
from kodama.k8s.runtime import PodContext
from kodama.sync import tarcopy as sync_copy
from tests.fixtures import fake_kubectl
from tests.fixtures.repo import make_repo
from tests.fixtures.specs import pod_context

from .test_git import GIT_ENV


@pytest.fixture
def hung(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[PodContext, Path]:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KODAMA_KUBECTL", str(fake_kubectl.install(tmp_path)))
    monkeypatch.setenv("FAKE_HOLD", "*")  # every call hangs, never released
    monkeypatch.setenv("FAKE_PIDS", str(tmp_path / "pids"))
    repo = make_repo(tmp_path / "repo")
    return pod_context(repo, name="s", branch="kodama/s"), tmp_path / "pids"


def started(pids: Path) -> list[int]:
    try:
        return [int(p) for p in pids.read_text().split()]
    except OSError:
        return []


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def cancel_once_started(call: Callable[[CancelToken], Any], pids: Path) -> BaseException | None:
    """Run `call` in a thread, cancel it once kubectl runs; return what it raised."""
    token = CancelToken()
    raised: list[BaseException | None] = [None]

    def body() -> None:
        try:
            call(token)
        except BaseException as exc:
            raised[0] = exc

    t = threading.Thread(target=body, daemon=True)
    t.start()
    while not started(pids) and t.is_alive():
        time.sleep(0.05)
    token.cancel()
    t.join(120)  # a guard against a hang, not a measurement
    assert not t.is_alive(), "the operation ignored the cancel"
    for pid in started(pids):
        for _ in range(100):  # killed processes are reaped by whoever adopted them
            if gone(pid):
                break
            time.sleep(0.05)
        assert gone(pid), f"kubectl {pid} was left running"
    return raised[0]


def run(op: str, ctx: PodContext, cancel: CancelToken, **kw: Any) -> Any:
    assert ctx.local_path is not None
    if op == "fetch":
        rep = Reporter(lambda e: None, "s")
        return git.fetch(
            ctx, ctx.local_path, into="x", force=False, reporter=rep, cancel=cancel, **kw
        )
    copy = sync_copy.push if op == "push" else sync_copy.pull
    return copy(ctx, ctx.local_path, cancel=cancel, **kw)


@pytest.mark.parametrize("op", ["fetch", "push", "pull"])
def test_fetch_push_pull_obey_cancel(hung: tuple[PodContext, Path], op: str) -> None:
    ctx, pids = hung
    assert isinstance(cancel_once_started(lambda c: run(op, ctx, c), pids), Cancelled)


@pytest.mark.parametrize("op", ["fetch", "push", "pull"])
def test_fetch_push_pull_time_out(hung: tuple[PodContext, Path], op: str) -> None:
    ctx, pids = hung
    with pytest.raises(KodamaError, match=r"timed out after 0\.5s"):
        run(op, ctx, CancelToken(), timeout=0.5)
    assert started(pids)
