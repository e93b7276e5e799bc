"""Progress events and cancellation: how the engine talks to its front ends.

The engine never prints. It calls a sink with typed events; the CLI renders them on stderr,
the language server turns them into work-done progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from kodama.errors import Cancelled


class EventKind(StrEnum):
    STEP = "step"  # a step begins: message says what is being done
    DONE = "done"  # the whole operation finished
    INFO = "info"
    WARNING = "warning"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str
    step: str = ""
    session: str = ""


EventSink = Callable[[Event], None]


def null_sink(_event: Event) -> None:
    return None


class CancelToken:
    """Set from another thread (signal handler, LSP cancel); checked by the engine."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (and raising) when cancelled."""
        if self._event.wait(seconds):
            raise Cancelled()


class Reporter:
    """Small helper the engine uses to emit events for one session."""

    def __init__(self, sink: EventSink, session: str) -> None:
        self.sink = sink
        self.session = session

    def step(self, step: str, message: str) -> None:
        self.sink(Event(EventKind.STEP, message, step, self.session))

    def info(self, message: str) -> None:
        self.sink(Event(EventKind.INFO, message, "", self.session))

    def warn(self, message: str) -> None:
        self.sink(Event(EventKind.WARNING, message, "", self.session))

    def done(self, message: str) -> None:
        self.sink(Event(EventKind.DONE, message, "", self.session))
