"""kodama-lsp against the test control plane: progress, concurrency, cancel, attach, notifications."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from kodama import present
from kodama.models import Session

from ..cluster.conftest import session_config, session_image
from .conftest import CLIENTS, Answers, execute, lsp_session

pytestmark = [pytest.mark.cluster, pytest.mark.lsp]


def write_config(home: Path, kind: str = "other") -> None:
    (home / "config.yaml").write_text(session_config(session_image(), kind=kind, timeout=120))


async def eventually(check: Any, timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def on_plane(
    testenv: Any,
    namespace: str,
    repo: Path,
    home: Path,
    kind: str = "other",
    config: str | None = None,
    **kw: Any,
) -> contextlib.AbstractAsyncContextManager[tuple[LanguageClient, Answers]]:
    """lsp_session (of CLIENTS[0] unless `client_name` says) on the plane, with `config` or
    the standard one for an agent of `kind`."""
    if config is None:
        write_config(home, kind)
    else:
        (home / "config.yaml").write_text(config)
    opts = {"kubeconfig": str(testenv.kubeconfig), "namespace": namespace, "refreshInterval": 1}
    kw.setdefault("client_name", CLIENTS[0])
    return lsp_session(root=repo, home=home, init_options=opts, **kw)


def in_pod(testenv: Any, namespace: str, pod: str, script: str) -> None:
    testenv.kubectl("exec", "-n", namespace, pod, "-c", "agent", "--", "sh", "-c", script)


@pytest.mark.parametrize("client_name", CLIENTS)
async def test_start_progress_concurrent_list_attach_delete(
    client_name: str, testenv: Any, namespace: str, repo: Path, home: Path
) -> None:
    vscode = client_name == CLIENTS[0]
    async with on_plane(
        testenv,
        namespace,
        repo,
        home,
        client_name=client_name,
        open_terminal=vscode,  # Neovim's profile here does not advertise it: the fallback
    ) as (client, answers):
        # VS Code passes its own workDoneToken; for Neovim the server creates one.
        token = f"tok-{uuid.uuid4()}" if vscode else None
        before = set(client.progress_reports)
        if token is not None:
            client.progress_reports[token] = []  # what a client does with its own token
        started = time.monotonic()
        start = asyncio.ensure_future(
            client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="kodama.session.start",
                    arguments=[{"name": "s1", "root": str(repo)}],
                    work_done_token=token,
                )
            )
        )
        await eventually(
            lambda: any(client.progress_reports[t] for t in set(client.progress_reports) - before),
            30,
            "progress begin",
        )
        # The first progress report can come just before the first object exists: list until
        # the session shows, each answer while the start still runs.
        for _ in range(50):
            t0 = time.monotonic()
            listed = await execute(client, "kodama.session.list", {})
            list_latency = time.monotonic() - t0
            assert not start.done(), "list must be answered while start is still running"
            if listed:
                break
            await asyncio.sleep(0.2)
        assert [s["name"] for s in listed] == ["s1"]
        session = await asyncio.wait_for(start, 180)
        start_seconds = time.monotonic() - started
        assert session["status"] == "Running"
        assert session["namespace"] == namespace
        # Beside the raw fields, the words the CLI prints (kodama/present.py).
        assert session["display"]["status"] == "Running"
        assert session["display"]["actions"] == [
            "attach",
            "logs",
            "fetch",
            "sync",
            "stop",
            "delete",
        ]
        assert listed[0]["display"]["detail"][:2] == [
            "Name:        s1",
            f"Namespace:   {namespace}",
        ]

        (tok,) = set(client.progress_reports) - before
        if token is not None:
            assert tok == token
        reports = client.progress_reports[tok]
        assert isinstance(reports[0], types.WorkDoneProgressBegin)
        assert any(isinstance(r, types.WorkDoneProgressReport) for r in reports)
        assert isinstance(reports[-1], types.WorkDoneProgressEnd)
        assert "Running" in (reports[-1].message or "")

        pod = json.loads(
            testenv.kubectl(
                "get",
                "pod",
                "-n",
                namespace,
                "-o",
                "json",
                "-l",
                "app.kubernetes.io/managed-by=kodama",
            ).stdout
        )["items"]
        assert [p["status"]["phase"] for p in pod] == ["Running"]

        # The refresher announces the new session.
        await eventually(
            lambda: any(
                m == "kodama/sessionsChanged" and [s["name"] for s in p["sessions"]] == ["s1"]
                for m, p in answers.notifications
            ),
            15,
            "sessionsChanged with s1",
        )
        changed = [
            p["sessions"][0]
            for m, p in answers.notifications
            if m == "kodama/sessionsChanged" and p["sessions"]
        ]
        for c in changed:
            shown = Session.model_validate({k: v for k, v in c.items() if k != "display"})
            assert c["display"]["status"] == present.status_line(shown)
            assert c["display"]["actions"] == present.actions(shown)

        t0 = time.monotonic()
        attached = await execute(client, "kodama.session.attach", {"name": "s1"})
        attach_latency = time.monotonic() - t0
        argv = attached["argv"]
        # Kube flags come before NAME: everything after NAME would be the command to run.
        assert argv[0].endswith("kubectl-kodama") and argv[1] == "attach" and argv[-1] == "s1"
        assert argv[2:-1] == ["--kubeconfig", str(testenv.kubeconfig), "-n", namespace]
        if vscode:
            assert attached["opened"] is True
            assert answers.terminals == [{"title": "kodama: s1", "argv": argv, "cwd": str(repo)}]
        else:
            assert attached["opened"] is False and answers.terminals == []
            asked = await eventually(
                lambda: [a for a in answers.asked if "attach" in a.message], 10, "fallback"
            )
            assert " ".join(argv) in asked[0].message

        assert await execute(client, "kodama.session.delete", {"name": "s1", "confirm": True}) == {
            "deleted": True
        }
        await eventually(lambda: testenv.managed(namespace) == [], 60, "objects deleted")
        print(
            f"\n[{client_name}] start {start_seconds:.2f}s; list during start {list_latency * 1000:.0f} ms;"
            f" attach {attach_latency * 1000:.0f} ms"
        )


@pytest.mark.parametrize("how", ["cancelRequest", "workDoneProgressCancel"])
async def test_cancel_rolls_back_without_orphans(
    how: str, testenv: Any, namespace: str, repo: Path, home: Path
) -> None:
    async with on_plane(testenv, namespace, repo, home, client_name=CLIENTS[1]) as (client, _):
        before = set(client.progress_reports)
        msg_id = str(uuid.uuid4())
        future = client.protocol.send_request(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(
                command="kodama.session.start", arguments=[{"name": "c1", "root": str(repo)}]
            ),
            msg_id=msg_id,
        )
        # Cancel once the objects exist (the step after "create" is waiting for the pod).
        new = await eventually(lambda: set(client.progress_reports) - before, 30, "progress")
        (tok,) = new
        await eventually(
            lambda: any(
                isinstance(r, types.WorkDoneProgressReport) and "Waiting" in (r.message or "")
                for r in client.progress_reports[tok]
            ),
            60,
            "the wait step",
        )
        assert testenv.managed(namespace) != []
        if how == "cancelRequest":
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        else:
            client.protocol.notify(
                types.WINDOW_WORK_DONE_PROGRESS_CANCEL,
                types.WorkDoneProgressCancelParams(token=tok),
            )
        with pytest.raises(JsonRpcException) as info:
            await asyncio.wait_for(asyncio.wrap_future(future), 60)
        assert info.value.code == -32800
        # The answer comes after the rollback: nothing is left behind.
        assert isinstance(client.progress_reports[tok][-1], types.WorkDoneProgressEnd)
        await eventually(lambda: testenv.managed(namespace) == [], 60, "no orphaned objects")


async def test_waiting_agent_prompts_with_attach(
    testenv: Any, namespace: str, repo: Path, home: Path
) -> None:
    answers = Answers(message_request="Attach")
    async with on_plane(
        testenv, namespace, repo, home, kind="claude", open_terminal=True, answers=answers
    ) as (client, _):
        session = await execute(client, "kodama.session.start", {"name": "w1", "root": str(repo)})
        assert session["status"] == "Running"
        script = (
            'mkdir -p "$HOME/.kodama"; sleep 1; printf \'{"state":"waiting","message":"Allow Bash?",'
            '"since":"%s","exitCode":null}\\n\' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"'
            ' > "$HOME/.kodama/agent-state.json"'
        )
        testenv.kubectl("exec", "-n", namespace, session["pod"], "--", "sh", "-c", script)
        await eventually(
            lambda: any(
                m == "kodama/agentState" and p["name"] == "w1" and p["state"] == "waiting"
                for m, p in answers.notifications
            ),
            30,
            "agentState waiting",
        )
        asked = await eventually(
            lambda: [a for a in answers.asked if "waiting for you" in a.message], 15, "prompt"
        )
        assert asked[0].message == "Session w1 is waiting for you: Allow Bash?"
        # Choosing "Attach" opened the attach terminal.
        terminals = await eventually(lambda: answers.terminals, 15, "attach terminal")
        assert terminals[0]["argv"][1] == "attach" and terminals[0]["argv"][-1] == "w1"


async def test_stop_resume_fetch_get_through_the_server(
    testenv: Any, namespace: str, repo: Path, home: Path
) -> None:
    """The other session verbs, as an editor calls them: same results as the CLI."""
    import subprocess

    async with on_plane(testenv, namespace, repo, home, open_terminal=True) as (client, _):
        started = await execute(client, "kodama.session.start", {"name": "v1", "root": str(repo)})
        assert started["status"] == "Running"
        # The agent commits in the pod; fetch brings the branch back into the local repo.
        in_pod(
            testenv,
            namespace,
            "kodama-v1",
            'cd "$KODAMA_WORKSPACE" && echo x > f && git add f && '
            "git -c user.email=a@b -c user.name=a commit -qm 'from the pod'",
        )
        fetched = await execute(client, "kodama.session.fetch", {"name": "v1"})
        assert fetched["ahead"] == 1 and fetched["branch"] == "kodama/v1"
        assert fetched["repository"] == str(repo.resolve())
        assert fetched["display"]["summary"].startswith(
            f"Fetched kodama/v1 into kodama/v1 of {repo.resolve()} ("
        )
        assert fetched["display"]["summary"].endswith(", 1 commit ahead of main)")
        local = subprocess.run(
            ["git", "-C", str(repo), "log", "-1", "--format=%s", fetched["branch"]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert local == "from the pod"

        stopped = await execute(client, "kodama.session.stop", {"name": "v1"})
        assert stopped["status"] == "Stopped"
        assert stopped["display"]["actions"] == ["resume", "delete"]
        assert [o for o in testenv.managed(namespace) if o.startswith("pod/")] == []
        with pytest.raises(JsonRpcException) as err:
            await execute(client, "kodama.session.fetch", {"name": "v1"})
        assert "is not running" in str(err.value)

        resumed = await execute(client, "kodama.session.resume", {"name": "v1"})
        assert resumed["status"] == "Running"
        got = await execute(client, "kodama.session.get", {"name": "v1"})
        assert got["branch"] == "kodama/v1" and got["status"] == "Running"

        deleted = await execute(client, "kodama.session.delete", {"name": "v1", "confirm": True})
        assert deleted == {"deleted": True}
        assert testenv.managed(namespace) == []


async def test_fanout_compare_and_usage_through_the_server(
    testenv: Any, namespace: str, repo: Path, home: Path
) -> None:
    """start with a count, the family in the session list, compare, diff, usage in details."""
    async with on_plane(testenv, namespace, repo, home, open_terminal=True) as (client, _):
        started = await execute(
            client, "kodama.session.start", {"name": "fam", "root": str(repo), "count": 2}
        )
        assert started["family"] == "fam"
        assert [s["name"] for s in started["sessions"]] == ["fam-1", "fam-2"]
        listed = await execute(client, "kodama.session.list")
        assert {s["name"]: s["family"] for s in listed} == {"fam-1": "fam", "fam-2": "fam"}
        in_pod(testenv, namespace, "kodama-fam-2", 'cd "$KODAMA_WORKSPACE" && echo hi > new.txt')
        rows = await execute(client, "kodama.family.compare", {"name": "fam"})
        assert [(r["name"], [f["path"] for f in r["files"]]) for r in rows] == [
            ("fam-1", []),
            ("fam-2", ["new.txt"]),
        ]
        diff = await execute(client, "kodama.family.diff", {"name": "fam", "session": "2"})
        assert "+hi" in diff["patch"]
        details = await execute(client, "kodama.session.get", {"name": "fam-1"})
        assert details["usage"]["cpu"] == "100m" and details["usage"]["running"] is True
        used = await execute(client, "kodama.session.usage", {})
        assert sorted(u["name"] for u in used) == ["fam-1", "fam-2"]
        for n in ("fam-1", "fam-2"):
            await execute(client, "kodama.session.delete", {"name": n, "confirm": True})


async def test_issue21_messages_reach_the_editor(
    testenv: Any, namespace: str, repo: Path, home: Path
) -> None:
    """The editors get the CLI's one-line messages: not found, taken name, unschedulable."""
    async with on_plane(testenv, namespace, repo, home) as (client, _):
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.get", {"name": "nosuch"})
        assert info.value.message == f"session 'nosuch' not found in namespace {namespace}"
        await execute(client, "kodama.session.start", {"name": "taken", "root": str(repo)})
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.start", {"name": "taken", "root": str(repo)})
        assert info.value.message == (
            f"session 'taken' already exists in namespace {namespace} and is running"
        )
        write_config(home)
        with (home / "config.yaml").open("a") as f:
            f.write("nodeSelector: {pool: nowhere}\n")
        with pytest.raises(JsonRpcException) as info:
            await execute(client, "kodama.session.start", {"name": "nowhere", "root": str(repo)})
        assert re.fullmatch(
            r"session nowhere cannot be scheduled: 0/\d+ nodes are available: "
            r"1 node\(s\) didn't match Pod's node affinity/selector(, \d+ node\(s\) had untolerated taint\(s\))?",
            info.value.message,
        ), info.value.message
        await execute(client, "kodama.session.delete", {"name": "taken", "confirm": True})
    assert testenv.managed(namespace) == []


async def test_doctor_through_the_server(
    testenv: Any, namespace: str, repo: Path, home: Path
) -> None:
    async with on_plane(testenv, namespace, repo, home, client_name=CLIENTS[1]) as (client, _):
        report = await execute(client, "kodama.doctor", {"storageClass": "nosuch"})
        checks = {c["name"]: c for c in report["checks"]}
        assert report["ok"] is False and report["namespace"] == namespace
        assert checks["permissions"]["status"] == "ok"
        assert checks["storage"]["status"] == "failing"
        assert "FAIL  storage" in report["text"]
        shown = await eventually(
            lambda: [m for m in client.messages if m.message.startswith("Kodama doctor:")],
            15,
            "doctor summary",
        )
        assert shown[0].type == types.MessageType.Error
        assert "StorageClass nosuch does not exist" in shown[0].message
