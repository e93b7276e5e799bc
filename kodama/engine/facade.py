"""SessionEngine: every part of the engine put together (kodama.engine exports it)."""

from __future__ import annotations

from typing import Any

from kodama import present
from kodama.engine import accounting
from kodama.engine.core import not_found
from kodama.engine.lifecycle import Lifecycle
from kodama.engine.syncing import Syncing
from kodama.errors import InvalidInput
from kodama.events import CancelToken, EventSink, Reporter, null_sink
from kodama.git import session as git
from kodama.models import FetchResult, Session, StartRequest

__all__ = ["SessionEngine", "not_found"]


class SessionEngine(Lifecycle, Syncing):
    """start/list/get/stop/resume/delete, attach and logs, fetch, sync, fan-out and usage."""

    def usage(self, name: str | None = None, *, all_namespaces: bool = False) -> list[Any]:
        """Run time, requested resources x time, PVC sizes, tokens and estimated cost."""
        return accounting.collect(self, name, all_namespaces=all_namespaces)

    def start_family(
        self,
        req: StartRequest,
        count: int,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
    ) -> list[Session]:
        """Fan-out: NAME-1..NAME-count from one request, concurrently, rolled back as one."""
        from kodama.engine import fanout

        return fanout.start_family(self, req, count, events, cancel or CancelToken())

    def compare(self, family: str) -> list[Any]:
        """Per session of a fan-out: agent state, commits ahead, change against the base."""
        from kodama.engine import fanout

        return fanout.compare(self, family)

    def family_diff(self, family: str, session: str) -> str:
        from kodama.engine import fanout

        return fanout.diff(self, family, session)

    def fetch(
        self,
        name: str,
        *,
        into: str | None = None,
        force: bool = False,
        events: EventSink = null_sink,
        cancel: CancelToken | None = None,
    ) -> FetchResult:
        """Bring the session branch back into the local repository (cwd's, else the recorded)."""
        spec, _ = self.spec_of(name)
        here = git.repo_root(self.cwd)
        recorded = self.recorded_local(spec.namespace, name)
        root = here or recorded
        if root is None:
            raise InvalidInput(
                "fetch needs a local git repository: run it inside one",
                hint="the branch is fetched into the repository of the working directory",
            )
        self.running_spec(name, ": its branch is fetched from the pod")
        rep = Reporter(events, name)
        # Say which repository gets the branch whenever it is not the obvious one.
        if here is None:
            rep.info(f"Not in a git repository: fetching into {root}, where {name} was started")
        elif recorded is not None and here.resolve() != recorded.resolve():
            rep.warn(f"fetching into {here} (the repository you are in), not {recorded}")
        result = git.fetch(
            self.pod_context(spec, root),
            root,
            into=into,
            force=force,
            reporter=rep,
            cancel=cancel or CancelToken(),
        )
        result.repository = str(root)
        rep.done(present.fetch_summary(result))
        return result
