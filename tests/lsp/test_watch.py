"""The server follows sessions with watches: changes made elsewhere show, an idle server does not
re-list (counted by the API server itself, /metrics)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .test_cluster import eventually, on_plane, write_config

pytestmark = [pytest.mark.cluster, pytest.mark.lsp]

_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$")


def metric(testenv: Any, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels` (all clients, this plane)."""
    text = testenv.kubectl("get", "--raw", "/metrics").stdout
    total = 0.0
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def namespaced_lists(testenv: Any) -> float:
    """LISTs of pods and PVCs in any one namespace: the controllers and the node list
    cluster-wide. Counts every client of the plane: nothing else may list meanwhile (a benchmark
    on the same plane does)."""
    return sum(
        metric(testenv, "apiserver_request_total", verb="LIST", resource=r, scope="namespace")
        for r in ("pods", "persistentvolumeclaims")
    )


def open_watches(testenv: Any, resource: str) -> float:
    return metric(
        testenv,
        "apiserver_longrunning_requests",
        verb="WATCH",
        resource=resource,
        scope="namespace",
    )


def cli(home: Path, repo: Path, testenv: Any, namespace: str, *args: str) -> None:
    """`kubectl kodama …` in another process: behind the language server's back."""
    env = {**os.environ, "KODAMA_HOME": str(home), "KUBECACHEDIR": str(home / "kube-cache")}
    argv = [sys.executable, "-m", "kodama.cli.main", "--kubeconfig", str(testenv.kubeconfig)]
    proc = subprocess.run(
        [*argv, "-n", namespace, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr


def names(answers: Any) -> list[list[str]]:
    return [
        [s["name"] for s in p["sessions"]]
        for m, p in answers.notifications
        if m == "kodama/sessionsChanged"
    ]


async def test_sessions_made_elsewhere_show_through_the_watch_and_idle_means_no_relist(
    testenv: Any, namespace: str, repo: Path, home: Path, tmp_path: Path
) -> None:
    other_home = tmp_path / "other-home"  # another user's machine, same namespace
    other_home.mkdir()
    write_config(other_home)
    # on_plane asks for refreshInterval 1: the old refresher re-listed every second.
    async with on_plane(testenv, namespace, repo, home) as (_client, answers):
        await eventually(lambda: names(answers) == [[]], 30, "the first, empty sessionsChanged")
        await eventually(lambda: open_watches(testenv, "pods") >= 1, 30, "a watch of pods")
        assert open_watches(testenv, "persistentvolumeclaims") >= 1

        await asyncio.to_thread(cli, other_home, repo, testenv, namespace, "start", "x1")
        await eventually(lambda: ["x1"] in names(answers), 60, "x1 announced")
        # Running (the watch saw the pod), and its agent was read once it ran.
        await eventually(
            lambda: any(
                m == "kodama/sessionsChanged"
                and [(s["name"], s["status"]) for s in p["sessions"]] == [("x1", "Running")]
                for m, p in answers.notifications
            ),
            60,
            "x1 Running",
        )
        await eventually(
            lambda: any(
                m == "kodama/agentState" and p["name"] == "x1" for m, p in answers.notifications
            ),
            30,
            "x1's agent state",
        )

        # Idle: several refreshIntervals pass with nothing happening; the server lists nothing.
        before = namespaced_lists(testenv)
        await asyncio.sleep(5)
        assert namespaced_lists(testenv) == before

        await asyncio.to_thread(cli, other_home, repo, testenv, namespace, "delete", "x1", "--yes")
        await eventually(lambda: names(answers)[-1] == [], 60, "x1 gone")
