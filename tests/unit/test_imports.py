"""Start-up cost: `list` and `get` import only what they use (every verb paid for the rest)."""

from __future__ import annotations

import json
import subprocess
import sys

# What list/get never need: the kubernetes client (auth-provider kubeconfigs only), start's
# planning (git, dotenv), the ship payload's tarfile, fan-out.
HEAVY = (
    "kubernetes",
    "kodama.plan",
    "dotenv",
    "tarfile",
    "kodama.engine.fanout",
    "kodama.git.ship",
)


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_cli_and_the_engine_import_nothing_heavy() -> None:
    mods = loaded_after(
        "import kodama.cli.main\n"
        "from kodama.engine import SessionEngine\n"
        "from kodama.k8s.cluster import Cluster"
    )
    assert "kodama.engine.reads" in mods  # the probe did import the engine
    heavy = sorted(m for m in mods if m.split(".")[0] in HEAVY or m in HEAVY)
    assert heavy == []
