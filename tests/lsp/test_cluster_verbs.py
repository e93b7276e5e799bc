"""The editor verbs beyond the lifecycle, through kodama-lsp on the test control plane:
logs (rendered by the engine, or a following terminal), wait (progress, cancel), sync
pause/push/pull."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..cluster.conftest import session_config, simulated_placement
from ..fixtures import stand_in_agent
from ..fixtures.pod_processes import kill_namespace_processes, volumes_of
from .conftest import Answers, execute
from .test_cluster import eventually, on_plane

pytestmark = [pytest.mark.cluster, pytest.mark.lsp]


def stand_in_config(testenv: Any) -> str:
    # The Python stand-in for Claude Code is a host program: the session runs on the simulated node.
    placement = simulated_placement(testenv)
    return session_config("busybox", stand_in_agent.COMMAND, "claude", **placement)


async def test_logs_wait_and_copies_through_the_server(
    testenv: Any, namespace: str, repo: Path, home: Path, mutagen_bin: Path
) -> None:
    answers = Answers()
    try:
        async with on_plane(
            testenv,
            namespace,
            repo,
            home,
            config=stand_in_config(testenv),
            open_terminal=True,
            answers=answers,
            env={"KODAMA_MUTAGEN": str(mutagen_bin / "mutagen")},
        ) as (client, _):
            started = await execute(
                client,
                "kodama.session.start",
                {"name": "h1", "root": str(repo), "prompt": "fix everything exit=3"},
            )
            assert started["status"] == "Running"

            before = set(client.progress_reports)
            exited = await execute(client, "kodama.session.wait", {"name": "h1", "for": "exited"})
            assert exited["state"] == "exited" and exited["exitCode"] == 3
            (tok,) = set(client.progress_reports) - before
            assert isinstance(client.progress_reports[tok][0], types.WorkDoneProgressBegin)
            assert client.progress_reports[tok][0].title == "Kodama: waiting for h1 to be exited"

            # The engine's renderer: stream-json became text, tool chatter dropped.
            log = await execute(client, "kodama.session.logs", {"name": "h1"})
            assert "stand-in step 1 of 3 for: fix everything exit=3" in log["text"]
            assert "== result (error, 3.0s): stand-in done" in log["text"]
            assert '"type"' not in log["text"]
            assert log["lines"] == len(log["text"].splitlines())
            tail = await execute(client, "kodama.session.logs", {"name": "h1", "tail": 1})
            assert tail["lines"] == 1 and "exited with code 3" in tail["text"]
            raw = await execute(client, "kodama.session.logs", {"name": "h1", "raw": True})
            assert '"type": "result"' in raw["text"]

            followed = await execute(client, "kodama.session.logs", {"name": "h1", "follow": True})
            assert followed["opened"] is True
            argv = answers.terminals[-1]["argv"]
            at = argv.index("logs")
            assert argv[at : at + 2] == ["logs", "-f"] and argv[-3:] == ["-n", namespace, "h1"]
            assert "--kubeconfig" in argv
            assert answers.terminals[-1]["title"] == "kodama logs: h1"

            # The agent has exited: waiting for it to work ends with the CLI's message.
            with pytest.raises(JsonRpcException) as info:
                await execute(
                    client, "kodama.session.wait", {"name": "h1", "for": "working", "timeout": "5s"}
                )
            assert info.value.code == -32803

            # A wait that is never satisfied (an interactive agent does not exit by itself)
            # answers RequestCancelled once cancelled.
            interactive = await execute(
                client, "kodama.session.start", {"name": "i1", "root": str(repo)}
            )
            assert interactive["status"] == "Running"
            msg_id = str(uuid.uuid4())
            before = set(client.progress_reports)
            future = client.protocol.send_request(
                types.WORKSPACE_EXECUTE_COMMAND,
                types.ExecuteCommandParams(
                    command="kodama.session.wait", arguments=[{"name": "i1", "for": "exited"}]
                ),
                msg_id=msg_id,
            )
            await eventually(lambda: set(client.progress_reports) - before, 30, "wait progress")
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            with pytest.raises(JsonRpcException) as info:
                await asyncio.wait_for(asyncio.wrap_future(future), 60)
            assert info.value.code == -32800

            # Copies once, without mutagen: push the checkout, pull it back.
            (repo / "new.txt").write_text("from the editor\n")
            pushed = await execute(client, "kodama.sync.push", {"name": "h1"})
            assert pushed["name"] == "h1" and pushed["files"] >= 2
            (repo / "new.txt").unlink()
            pulled = await execute(client, "kodama.sync.pull", {"name": "h1", "path": "new.txt"})
            assert pulled == {"name": "h1", "files": 1}
            assert (repo / "new.txt").read_text() == "from the editor\n"

            # Live sync is off for this session: pause says so in the CLI's words.
            with pytest.raises(JsonRpcException) as info:
                await execute(client, "kodama.sync.pause", {"name": "h1"})
            assert info.value.message == "session h1 is not being synced"

            for name in ("h1", "i1"):
                deleted = await execute(
                    client, "kodama.session.delete", {"name": name, "confirm": True}
                )
                assert deleted == {"deleted": True}
    finally:
        if testenv.simulated:
            kill_namespace_processes(volumes_of(testenv, namespace))
