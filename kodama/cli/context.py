"""Shared CLI plumbing: global kube flags (before or after the verb), engine, progress, cancel."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kodama.printable import printable

if TYPE_CHECKING:
    from kodama.engine import SessionEngine
    from kodama.engine.reads import Reads
    from kodama.events import CancelToken, Event

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Obj:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    verbose: bool = False
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def engine(self) -> SessionEngine:
        from kodama.engine import SessionEngine
        from kodama.k8s.cluster import KubeTarget
        from kodama.validation import validate_namespace

        if self.namespace:
            validate_namespace(self.namespace)
        return SessionEngine(
            KubeTarget(self.kubeconfig, self.context, self.namespace), cwd=Path.cwd()
        )

    def reader(self) -> Reads:
        """The engine's reads alone (list): none of start's, sync's or the models' imports."""
        from kodama.engine.reads import Reads
        from kodama.k8s.cluster import KubeTarget
        from kodama.validation import validate_namespace

        if self.namespace:
            validate_namespace(self.namespace)
        return Reads(KubeTarget(self.kubeconfig, self.context, self.namespace), cwd=Path.cwd())

    def engine_for(self, name: str) -> SessionEngine:
        """The engine for a command on session NAME: without -n, the namespace recorded in its
        session file when the current namespace has no such session (and a note on stderr)."""
        from kodama.engine.locate import resolve_namespace

        engine = self.engine()
        note = resolve_namespace(engine, name)
        if note:
            click.echo(f"note: {note}", err=True)
        return engine


def get_obj() -> Obj:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, Obj):
        root.obj = Obj()
    return root.obj


def _store(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def cb(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        root = ctx.find_root()
        if not isinstance(root.obj, Obj):
            root.obj = Obj()
        setattr(root.obj, attr, value)

    return cb


# kubectl's own flags: (flags, metavar or None for a switch, where the value goes, help)
KUBE_FLAGS = [
    (("--kubeconfig",), "PATH", "kubeconfig", "Path to the kubeconfig file."),
    (("--context",), "NAME", "context", "The kubeconfig context to use."),
    (
        ("-n", "--namespace"),
        "NS",
        "namespace",
        "Namespace (default: the context's, then the config file's).",
    ),
    (("-v", "--verbose"), None, "verbose", "Show tracebacks and debug details."),
]


def kube_options(f: F) -> F:
    """kubectl's flags, accepted on the group and on every sub-command."""
    for flags, metavar, attr, help_text in reversed(KUBE_FLAGS):
        f = click.option(
            *flags,
            metavar=metavar,
            is_flag=metavar is None,
            expose_value=False,
            callback=_store(attr),
            help=help_text,
        )(f)
    return f


class ProgressRenderer:
    """Engine events -> stderr. rich on a TTY, plain lines otherwise. stdout stays clean."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
        self._status: Any = None
        self._console: Any = None
        if self.tty and not quiet:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)

    def __call__(self, event: Event) -> None:
        if self.quiet and event.kind.value not in ("warning",):
            return
        kind = event.kind.value
        # Messages carry user strings and pod output: never markup, never terminal controls.
        message = printable(event.message)
        if self._console is not None:
            from rich.markup import escape

            text = escape(message)
            if kind == "step":
                if self._status is None:
                    self._status = self._console.status(text)
                    self._status.start()
                else:
                    self._status.update(text)
                self._console.print(f"[dim]•[/dim] {text}")
            elif kind == "warning":
                self._console.print(f"[yellow]warning:[/yellow] {text}")
            elif kind == "done":
                self.close()
                self._console.print(f"[green]✓[/green] {text}")
            else:
                self._console.print(f"  {text}")
            return
        prefix = {"step": "• ", "warning": "warning: ", "done": "✓ ", "info": "  "}[kind]
        click.echo(f"{prefix}{message}", err=True)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


@contextmanager
def cancellable() -> Iterator[CancelToken]:
    """First Ctrl-C asks the engine to stop cleanly (it rolls back); a second one aborts."""
    from kodama.events import CancelToken

    token = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def handler(_signum: int, _frame: Any) -> None:
        if token.cancelled:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        token.cancel()
        click.echo("\ninterrupting: cleaning up (Ctrl-C again to abort immediately)", err=True)

    with suppress(ValueError):  # not the main thread: no handler, cancel still works
        signal.signal(signal.SIGINT, handler)
    try:
        yield token
    finally:
        with suppress(ValueError, TypeError):
            signal.signal(signal.SIGINT, previous)


@contextmanager
def progress() -> Iterator[tuple[ProgressRenderer, CancelToken]]:
    renderer = ProgressRenderer(get_obj().quiet)
    try:
        with cancellable() as token:
            yield renderer, token
    finally:
        renderer.close()
