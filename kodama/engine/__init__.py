"""The engine facade both front ends call: SessionEngine.

Its parts live in this package: core (cluster, config, store), lifecycle (start, stop, resume,
rollback), waiting, deletion, reads (list, get, agent state, attach and logs command lines) and
syncing (the sync verbs). Fan-out, doctor and image are features built on the same engine.

SessionEngine (kodama.engine.facade) is imported on first use: importing any part of the package
runs this file, and `list` uses the reads alone, without start's and sync's imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kodama.engine.core import not_found
    from kodama.engine.facade import SessionEngine

__all__ = ["SessionEngine", "not_found"]


def __getattr__(name: str) -> Any:
    if name == "SessionEngine":
        from kodama.engine.facade import SessionEngine

        return SessionEngine
    if name == "not_found":
        from kodama.engine.core import not_found

        return not_found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
