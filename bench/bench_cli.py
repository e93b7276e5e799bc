"""CLI start-up: `kubectl-kodama --help` and `version` next to `kubectl version --client`.

Runs the console script directly (what `kubectl kodama` execs after its PATH lookup), so the
number is Python start-up + imports + click, not kubectl's plugin dispatch.
"""

from __future__ import annotations

import os

from harness import Row, Target, bin_path, interleaved, load1, timed_run


def bench(runs: int) -> list[Row]:
    kodama = bin_path("kubectl-kodama")
    env = dict(os.environ)
    before = load1()
    samples = interleaved(
        [
            ("help", lambda: timed_run([kodama, "--help"], env=env)),
            ("version", lambda: timed_run([kodama, "version"], env=env)),
            ("kubectl", lambda: timed_run(["kubectl", "version", "--client"], env=env)),
        ],
        runs=max(runs * 2, 10),
        warmup=2,
    )
    load = (before, load1())
    floor_what = "`kubectl version --client`"
    return [
        Row(
            name="cli.help",
            what="`kubectl-kodama --help`",
            unit="s",
            kodama=samples["help"],
            floor_what=floor_what,
            floor=samples["kubectl"],
            target=Target("max", 0.150, "≤ 150 ms"),
            profile_argv=["--help"],
            load=load,
        ),
        Row(
            name="cli.version",
            what="`kubectl-kodama version`",
            unit="s",
            kodama=samples["version"],
            floor_what=floor_what,
            floor=samples["kubectl"],
            load=load,
        ),
    ]
