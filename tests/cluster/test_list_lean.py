"""`list` in a namespace without sessions, on the test plane: what it prints and what it imports.

Issue 18: an empty `list` costs Python start-up and imports; the models (pydantic), config files,
other verbs' modules, sync and git are not needed until there is a session to show.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from .conftest import Kodama

pytestmark = pytest.mark.cluster

NEVER = ("pydantic", "kodama.models", "kodama.config", "kodama.engine.facade", "kodama.sync")
NEVER += ("kodama.git", "kodama.k8s.spec_check", "kodama.agent.control", "websocket", "rich")

PROBE = """
import json, sys
from kodama.cli.main import main
main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)))
"""


def test_an_empty_list_prints_the_same_and_imports_no_models(kodama: Kodama, testenv: Any) -> None:
    argv = kodama.argv("list")[1:]  # the flags kubectl-kodama gets, run in-process by the probe
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=kodama.cwd,
        env=kodama.environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stderr == (
        f"No sessions found in namespace {kodama.namespace} (-A lists every namespace).\n"
    )
    mods = set(json.loads(proc.stdout.splitlines()[-1]))
    assert "kodama.engine.reads" in mods  # the probe did list
    loaded = sorted(m for m in mods if any(m == n or m.startswith(n + ".") for n in NEVER))
    assert loaded == []
    verbs = sorted(m for m in mods if m.startswith("kodama.cli.") and m.endswith("_cmds"))
    assert verbs == ["kodama.cli.session_cmds"]
