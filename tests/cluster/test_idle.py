"""Idle stop: the pod's main process ends the pod once the agent is done and nobody attached.

On the real node the kubelet runs that main process; the simulated node runs no main process,
so there the very command of the pod spec is run through exec and the kubelet's part (pod
Succeeded, termination message) is written to the pod's status the way a kubelet does.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.fixtures.messages_api import MessagesApi

from .conftest import Kodama, session_config, session_image
from .test_claude import PROMPT_MARK, ask_for_the_word, attach, detach, poll, tell_the_word

pytestmark = pytest.mark.cluster

HELPER = '"$HOME/.kodama/bin/kodama-agent"'


def quiet(k: Kodama, name: str) -> int:
    out = k.run("attach", name, "--", "sh", "-c", f"sh {HELPER} quiet; echo rc=$?").stdout
    return int(out.strip().rsplit("rc=", 1)[1])


def finish(k: Kodama, name: str) -> None:
    k.run("attach", name, "--", "sh", "-c", 'touch "$HOME/.kodama/done"')


def pod_json(testenv: Any, ns: str, name: str) -> dict[str, Any]:
    return json.loads(
        testenv.kubectl("get", "pod", f"kodama-{name}", "-n", ns, "-o", "json").stdout
    )


def test_idle_watcher_on_the_simulated_node(kodama: Kodama, testenv: Any) -> None:
    if not testenv.simulated or testenv.real_node:
        pytest.skip("runs the pod's main command through host exec on the simulated node")
    # An agent that works until the test says it is done (each launch runs it again).
    command = (
        'sh -c \'f="$HOME/.kodama/done"; while [ ! -f "$f" ]; do sleep 0.2; done; rm -f "$f"\''
    )
    kodama.write_config(session_config(session_image(testenv), command, idle_stop="10s"))
    kodama.run("start", "idle")
    pod = pod_json(testenv, kodama.namespace, "idle")
    assert pod["spec"]["restartPolicy"] == "OnFailure"
    command = pod["spec"]["containers"][0]["command"]
    assert command[-2:] == ["10", "2"]
    assert kodama.json("get", "idle")["idleStop"] == 10
    assert quiet(kodama, "idle") == 1  # the agent works
    finish(kodama, "idle")
    kodama.run("wait", "idle", "--for=exited", "--timeout", "60")
    assert quiet(kodama, "idle") == 0

    watcher = kodama.popen("attach", "idle", "--", *command)
    try:
        poll(
            lambda: kodama.run(
                "attach", "idle", "--", "sh", "-c", 'cat "$HOME/.kodama/boot"', check=False
            ).stdout.strip(),
            30,
            0.2,
        )
        # Until Kodama has set this pod up the watcher keeps it: the ensure step says so.
        kodama.run("resume", "idle")  # launches the agent again: busy
        assert quiet(kodama, "idle") == 1
        finish(kodama, "idle")
        out, err = watcher.communicate(timeout=120)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "kodama: idle since " in out
    match = re.search(r"idle since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", out)
    assert match, out
    reason = match.group(0)

    # What the kubelet does when the main process exits 0 under restartPolicy OnFailure.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "status": {
            "phase": "Succeeded",
            "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
            "containerStatuses": [
                {
                    "name": "agent",
                    "image": session_image(testenv),
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "message": reason,
                            "startedAt": now,
                            "finishedAt": now,
                        }
                    },
                }
            ],
        }
    }
    testenv.kubectl(
        "patch",
        "pod",
        "kodama-idle",
        "-n",
        kodama.namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    got = kodama.json("get", "idle")
    assert (got["status"], got["reason"]) == ("Stopped", reason)
    listed = kodama.run("list", "-o", "wide").stdout
    assert "Stopped" in listed and reason in listed
    pvcs = testenv.kubectl("get", "pvc", "-n", kodama.namespace, "-o", "name").stdout.split()
    assert sorted(pvcs) == [
        "persistentvolumeclaim/kodama-idle-home",
        "persistentvolumeclaim/kodama-idle-workspace",
    ]
    use = kodama.json("usage", "idle")["items"][0]
    assert use["status"] == "Stopped" and not use["running"]
    assert use["runs"][-1]["end"] is None  # closed at the pod's finish time on the next resume

    assert kodama.json("resume", "idle")["status"] == "Running"
    runs = kodama.json("usage", "idle")["items"][0]["runs"]
    assert len(runs) == 2 and runs[0]["end"] == now and runs[1]["end"] is None
    kodama.run("stop", "idle")
    runs = kodama.json("usage", "idle")["items"][0]["runs"]
    assert runs[1]["end"] is not None
    kodama.run("delete", "idle", "--yes")
    assert testenv.managed(kodama.namespace) == []


def test_idle_stop_on_the_real_node(
    testenv: Any, claude: Kodama, messages_api: MessagesApi
) -> None:
    """`idleStop: 20s`: the finished agent's pod ends itself; resume brings the conversation."""
    with (claude.home / "config.yaml").open("a") as f:
        f.write("agent:\n  idleStop: 20s\n")
    tell_the_word(claude, messages_api)
    began = time.monotonic()
    got = poll(lambda: (s := claude.json("get", "cc"))["status"] == "Stopped" and s, 180, 1)
    print(f"idle stop: Stopped {time.monotonic() - began:.1f}s after the agent exited")
    assert got["reason"].startswith("idle since "), got
    pod = pod_json(testenv, claude.namespace, "cc")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    pvcs = testenv.kubectl("get", "pvc", "-n", claude.namespace, "-o", "name").stdout.split()
    assert len(pvcs) == 2

    claude.run("resume", "cc")
    ask_for_the_word(claude, messages_api)
    runs = claude.json("usage", "cc")["items"][0]["runs"]
    assert len(runs) == 2 and runs[0]["end"] is not None


def test_no_idle_stop_while_attached_on_the_real_node(testenv: Any, claude: Kodama) -> None:
    """An attached user keeps the pod, whatever the agent does."""
    if not testenv.real_node:
        pytest.skip("needs the real node (the pod's main process runs only there)")
    with (claude.home / "config.yaml").open("a") as f:
        f.write("agent:\n  idleStop: 10s\n")
    claude.run("start", "cc")
    child = attach(claude, "cc")
    try:
        child.expect(PROMPT_MARK, timeout=60)
        poll(lambda: claude.json("get", "cc")["agent"]["state"] == "idle", 60, 0.5)
        # The agent is idle at its prompt, but somebody is looking: the pod is not quiet.
        assert quiet(claude, "cc") == 1
        detach(child)
    finally:
        child.close(force=True)
    got = poll(lambda: (s := claude.json("get", "cc"))["status"] == "Stopped" and s, 120, 1)
    assert got["reason"].startswith("idle since ")
