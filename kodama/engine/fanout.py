"""Fan-out: one task to N agents at once (NAME-1..NAME-N), and comparing what each did.

Every object of a fan-out carries the label `kodama.dev/family: NAME`. The sessions are planned
first (every input error before any API call), then started concurrently; a Ctrl-C or a failure
of any of them rolls all of them back, so a fan-out is one operation. `compare` reads each
session's agent state, commits ahead and change against the base over one exec per session:
the change is the whole workspace (uncommitted and untracked files too) against the base commit,
computed with a throw-away index so the agent's own index is left alone.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from pydantic import Field

from kodama.agent.state import parse_status
from kodama.errors import AlreadyExists, Cancelled, InvalidInput, KodamaError, NotFound
from kodama.events import CancelToken, Event, EventSink, Reporter
from kodama.k8s import manifests
from kodama.k8s.spec_check import spec_from_pvc
from kodama.k8s.status import derive, pod_ready
from kodama.models import AgentState, Session, StartRequest, Status, _Model
from kodama.validation import validate_session_name

if TYPE_CHECKING:
    from kodama.engine import SessionEngine
    from kodama.plan import StartPlan

MAX_COUNT = 20


class FileChange(_Model):
    path: str
    added: int | None = None  # None for binary files
    deleted: int | None = None


class Comparison(_Model):
    name: str
    status: Status
    reason: str | None = None
    branch: str | None = None
    base_commit: str | None = None
    agent: AgentState = Field(default_factory=AgentState)
    ahead: int | None = None
    files: list[FileChange] = Field(default_factory=list)
    added: int = 0
    deleted: int = 0
    error: str | None = None


def member_names(name: str, count: int) -> list[str]:
    validate_session_name(name)
    if count < 1 or count > MAX_COUNT:
        raise InvalidInput(f"--count must be between 1 and {MAX_COUNT} (got {count})")
    return [validate_session_name(f"{name}-{i}") for i in range(1, count + 1)]


def member_requests(req: StartRequest, count: int) -> list[StartRequest]:
    """One request per session: own name and branch, same everything else. Sync is off: N
    two-way syncs of one checkout would fight over it."""
    if req.sync:
        raise InvalidInput("--sync cannot be used with --count (one checkout, several sessions)")
    return [
        req.model_copy(
            update={
                "name": n,
                "family": req.name,
                "branch": f"{req.branch}-{i}" if req.branch else None,
                "sync": False,
            }
        )
        for i, n in enumerate(member_names(req.name, count), start=1)
    ]


def start_family(
    engine: SessionEngine,
    req: StartRequest,
    count: int,
    events: EventSink,
    cancel: CancelToken,
) -> list[Session]:
    reqs = member_requests(req, count)
    plans: list[StartPlan] = [engine.plan_start(r) for r in reqs]
    engine.check_repo_changes(plans[0], req)  # once, before anything is created
    ns = plans[0].spec.namespace
    taken = sorted(
        {
            (p["metadata"].get("labels") or {}).get(manifests.SESSION_LABEL, "")
            for p in engine.cluster.list_objects("PersistentVolumeClaim", manifests.SELECTOR, ns)
        }
        & {r.name for r in reqs}
    )
    if taken:
        raise AlreadyExists(
            f"session {taken[0]!r} already exists in namespace {ns}",
            hint="pick another NAME for the fan-out",
        )
    rep = Reporter(events, req.name)
    rep.step("fanout", f"Starting {count} sessions {reqs[0].name} … {reqs[-1].name} in {ns}")
    lock = threading.Lock()

    def sink(event: Event) -> None:
        with lock:  # the renderer is not made for several threads at once
            events(event)

    inner = CancelToken()  # set on the user's cancel and on the first failure
    results: dict[str, Session] = {}
    errors: dict[str, BaseException] = {}
    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="kodama-fanout")
    futures: dict[Future[Session], str] = {
        pool.submit(engine.start_planned, plan, r, sink, inner): r.name
        for plan, r in zip(plans, reqs, strict=True)
    }
    interrupted = False
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            if cancel.cancelled:
                inner.cancel()
            for fut in done:
                exc = fut.exception()
                if exc is None:
                    results[futures[fut]] = fut.result()
                else:
                    errors[futures[fut]] = exc
                    inner.cancel()
    except BaseException:  # a second Ctrl-C: still leave nothing behind
        interrupted = True
        inner.cancel()
        raise
    finally:
        pool.shutdown(wait=True)
        if interrupted or errors or cancel.cancelled:
            for fut, n in futures.items():
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    results.setdefault(n, fut.result())
                elif fut.done() and fut.exception() is not None:
                    errors.setdefault(n, fut.exception())  # type: ignore[arg-type]
            _roll_back(engine, [r.name for r in reqs], errors, ns, rep)
    failures = {n: e for n, e in errors.items() if not isinstance(e, Cancelled)}
    if cancel.cancelled or (errors and not failures):
        raise Cancelled(f"interrupted: fan-out {req.name} cancelled and rolled back")
    if failures:
        name, first = next(iter(failures.items()))
        msg = first.message if isinstance(first, KodamaError) else str(first)
        raise KodamaError(
            f"fan-out {req.name} failed ({name}: {msg}); all {count} sessions were rolled back"
        ) from first
    rep.done(f"{count} sessions of {req.name} are Running; `kubectl kodama compare {req.name}`")
    return [results[r.name] for r in reqs]


def _roll_back(
    engine: SessionEngine,
    names: list[str],
    errors: dict[str, BaseException],
    ns: str,
    rep: Reporter,
) -> None:
    """Delete every session this fan-out created (not one that existed before it)."""
    rep.info(f"Rolling back {len(names)} sessions")

    def one(n: str) -> None:
        with contextlib.suppress(KodamaError):
            engine._delete_objects(n, ns, keep_data=False)
        engine.store.remove(ns, n)

    mine = [n for n in names if not isinstance(errors.get(n), AlreadyExists)]
    with ThreadPoolExecutor(max_workers=max(1, len(mine))) as pool:
        list(pool.map(one, mine))


# -- compare ----------------------------------------------------------------------------------

# $1 base commit (else the workspace's kodama.base), $2 session branch. Markers separate the
# parts; the exec API gives no exit code, so every part says what it found.
_COMPARE = r"""
h="$HOME/.kodama/bin/kodama-agent"
echo "@@state"
[ -f "$h" ] && sh "$h" status
cd "$KODAMA_WORKSPACE" 2>/dev/null || { echo "@@error no workspace"; exit 0; }
base=${1:-$(git config --get kodama.base)}
[ -n "$base" ] || { echo "@@error no base commit"; exit 0; }
tip=$(git rev-parse -q --verify "refs/heads/$2" 2>/dev/null || git rev-parse HEAD 2>/dev/null)
echo "@@ahead $(git rev-list --count "$base..$tip" 2>/dev/null)"
idx="$(git rev-parse --git-dir)/kodama-compare.$$"
trap 'rm -f "$idx"' EXIT
if GIT_INDEX_FILE="$idx" git read-tree "$tip" && GIT_INDEX_FILE="$idx" git add -A . >/dev/null 2>&1; then
    echo "@@$3"
    GIT_INDEX_FILE="$idx" git diff --cached --no-color --no-ext-diff $4 "$base" --
else
    echo "@@error cannot read the workspace"
fi
"""


def _members(engine: SessionEngine, family: str) -> list[tuple[Any, dict[str, Any]]]:
    validate_session_name(family)
    ns = engine.namespace()
    pvcs = engine.cluster.list_objects(
        "PersistentVolumeClaim", manifests.family_selector(family), ns
    )
    items = []
    for ws in pvcs:
        if ws["metadata"]["name"].endswith("-workspace"):
            with contextlib.suppress(KodamaError, ValueError):
                items.append((spec_from_pvc(ws), ws))
    if not items:
        raise NotFound(
            f"no fan-out {family!r} in namespace {ns}",
            hint=f"`kubectl kodama start {family} --count N` starts one; `list` shows families",
        )
    items.sort(key=lambda it: _order(it[0].name))
    return items


def _order(name: str) -> tuple[int, str]:
    tail = name.rsplit("-", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (1 << 30, name)


def _run(engine: SessionEngine, spec: Any, mode: str) -> str:
    flags = "--numstat" if mode == "numstat" else "--patch"
    return engine.cluster.exec_output(
        manifests.pod_name(spec.name),
        spec.namespace,
        manifests.CONTAINER,
        ["sh", "-c", _COMPARE, "kodama", spec.base_commit or "", spec.branch or "", mode, flags],
        timeout=120,
    )


def parse_compare(
    out: str, kind: str
) -> tuple[AgentState, int | None, list[FileChange], str | None]:
    section = ""
    state_lines: list[str] = []
    files: list[FileChange] = []
    ahead: int | None = None
    error: str | None = None
    for line in out.splitlines():
        if line.startswith("@@"):
            word, _, rest = line[2:].partition(" ")
            if word == "ahead":
                ahead = int(rest) if rest.strip().isdigit() else None
            elif word == "error":
                error = rest.strip() or "unknown error"
            section = word
            continue
        if section == "state":
            state_lines.append(line)
        elif section == "numstat" and line.strip():
            parts = line.split("\t", 2)
            if len(parts) == 3:
                a, d, path = parts
                files.append(
                    FileChange(
                        path=path[:1000],
                        added=int(a) if a.isdigit() else None,
                        deleted=int(d) if d.isdigit() else None,
                    )
                )
    return parse_status("\n".join(state_lines), kind), ahead, files, error


def compare(engine: SessionEngine, family: str) -> list[Comparison]:
    items = _members(engine, family)
    c = engine.cluster
    ns = items[0][0].namespace
    pods = {
        (p["metadata"].get("labels") or {}).get(manifests.SESSION_LABEL): p
        for p in c.list_objects("Pod", manifests.family_selector(family), ns)
    }
    homes = {
        (p["metadata"].get("labels") or {}).get(manifests.SESSION_LABEL): p
        for p in c.list_objects("PersistentVolumeClaim", manifests.family_selector(family), ns)
        if p["metadata"]["name"].endswith("-home")
    }

    def one(item: tuple[Any, dict[str, Any]]) -> Comparison:
        spec, ws = item
        pod = pods.get(spec.name)
        status, reason = derive(ws, homes.get(spec.name), pod)
        row = Comparison(
            name=spec.name,
            status=status,
            reason=reason,
            branch=spec.branch,
            base_commit=spec.base_commit,
        )
        if not pod_ready(pod):
            row.error = "not running: `kubectl kodama resume` it to compare"
            return row
        try:
            out = _run(engine, spec, "numstat")
        except KodamaError as exc:
            row.error = exc.message
            return row
        row.agent, row.ahead, row.files, row.error = parse_compare(out, spec.agent_kind)
        row.added = sum(f.added or 0 for f in row.files)
        row.deleted = sum(f.deleted or 0 for f in row.files)
        return row

    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(one, items))


def diff(engine: SessionEngine, family: str, session: str) -> str:
    """The whole change of one session of the family against the base, as a patch."""
    items = _members(engine, family)
    match = [it for it in items if it[0].name in (session, f"{family}-{session}")]
    if not match:
        names = ", ".join(it[0].name for it in items)
        raise NotFound(f"session {session!r} is not part of fan-out {family} ({names})")
    spec, _ = match[0]
    pod = engine.cluster.get_pod(manifests.pod_name(spec.name), spec.namespace)
    if not pod_ready(pod):
        raise KodamaError(
            f"session {spec.name} is not running: its change is read from the pod",
            hint=f"`kubectl kodama resume {spec.name}` first",
        )
    out = _run(engine, spec, "patch")
    _, sep, patch = out.partition("\n@@patch\n")
    if not sep:
        err = next((ln[8:] for ln in out.splitlines() if ln.startswith("@@error ")), None)
        raise KodamaError(f"could not read the change of {spec.name}: {err or 'no answer'}")
    return patch
