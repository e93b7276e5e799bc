"""Run a Kodama entry point with its HTTP requests recorded (and, optionally, tracemalloc).

    python bench/traced.py OUT_DIR kodama.cli.main --kubeconfig K -n NS list
    python bench/traced.py OUT_DIR --tracemalloc kodama_lsp

Every request the kubernetes client sends goes through urllib3's connection pool, which logs
`"GET /api/v1/... HTTP/1.1" 200` at DEBUG: those lines go to OUT_DIR/requests.log (one per
request; execs use a websocket and are not among them: count those on the API server).
With --tracemalloc, each SIGUSR1 writes OUT_DIR/snapshot-N.pickle (the language server keeps
running); tracing starts at the first signal (traced from the start, the server's imports take
minutes), so snapshots after the first show what grew since it.
"""

from __future__ import annotations

import logging
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType


def main() -> None:
    out = Path(sys.argv[1])
    args = sys.argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    if args and args[0] == "--tracemalloc":
        args = args[1:]
        taken = [0]

        def snapshot(_sig: int, _frame: FrameType | None) -> None:
            if not tracemalloc.is_tracing():
                tracemalloc.start(1)  # one frame: cheap enough for the server under load
            taken[0] += 1
            tracemalloc.take_snapshot().dump(str(out / f"snapshot-{taken[0]}.pickle"))

        signal.signal(signal.SIGUSR1, snapshot)
    handler = logging.FileHandler(out / "requests.log")
    handler.setFormatter(logging.Formatter("%(relativeCreated)d %(message)s"))
    pool = logging.getLogger("urllib3.connectionpool")
    pool.setLevel(logging.DEBUG)
    pool.addHandler(handler)
    pool.propagate = False
    module = args[0]
    sys.argv = [module, *args[1:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
