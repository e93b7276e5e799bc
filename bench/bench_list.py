"""`kubectl kodama list` with 0 and 50 sessions next to `kubectl get pods,pvc -l … -o json`.

The sessions are made by the real CLI (`start NAME --no-wait`), so `list` reads exactly what a
user's `start` leaves behind: two PVCs with the spec annotation and a pod per session.

Three namespaces:
- *empty*: no session at all (what `list` costs before it has anything to show: imports, config,
  the two lists);
- *pending*: each pod has a nodeSelector no node matches, so it stays Pending and `list` does
  only its two label-selector lists (the API floor plus Kodama's own cost);
- *running*: the pods run (on the simulated node), so `list` also reads each agent's state
  (the AGENT column) through one exec per session — the cost the floor does not pay.
  They are made with `start --no-wait` then `resume` (which runs the in-pod step `--no-wait`
  skipped), so each has its repo, branch and agent like after a plain `start`.

The floor asks for JSON, as `list` reads every field of both kinds (issue 18's floor).
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from harness import MANAGED, NOWHERE, Env, Row, Target, interleaved, load1, timed_run

EMPTY_NS = "kodama-bench-list-empty"
PENDING_NS = "kodama-bench-list-pending"
RUNNING_NS = "kodama-bench-list-running"
LIMIT = Target("ratio", 3.0, "≤ 3x kubectl")


def populate(env: Env, ns: str, count: int, *, pending: bool) -> None:
    if count and env.reuse(ns, count, "Pending" if pending else "Running"):
        return
    env.namespace(ns)
    extra = ["--node-selector", NOWHERE] if pending else []

    def one(i: int) -> None:
        env.kk(ns, "start", f"s{i:03d}", "--no-wait", *extra, timeout=300)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(one, range(count)))
    if not pending:
        # `resume` finishes what `--no-wait` left out (the in-pod step: repo, branch, agent) and
        # marks the session ready, so these are Running sessions exactly as `start` leaves them.
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda i: env.kk(ns, "resume", f"s{i:03d}", timeout=600), range(count)))


def floor_argv(env: Env, ns: str | None) -> list[str]:
    where = ["-A"] if ns is None else []
    return env.kubectl(ns, "get", "pods,pvc", *where, "-l", MANAGED, "-o", "json")


def bench(env: Env, runs: int, count: int, prepared: set[str]) -> list[Row]:
    rows: list[Row] = []
    cases = ((EMPTY_NS, 0, True), (PENDING_NS, count, True), (RUNNING_NS, count, False))
    for ns, n, pending in cases:
        if ns not in prepared:
            populate(env, ns, n, pending=pending)
            prepared.add(ns)
        listed = json.loads(env.kk(ns, "list", "-o", "json").stdout)["items"]
        seen = Counter(i["status"] for i in listed)
        agents = Counter((i.get("agent") or {}).get("state", "-") for i in listed)
        e = env.environ()
        kodama = env.kodama(ns, "list")
        before = load1()
        samples = interleaved(
            [
                ("kodama", partial(timed_run, kodama, env=e, cwd=env.repo)),
                ("kubectl", partial(timed_run, floor_argv(env, ns), env=e, cwd=env.repo)),
            ],
            runs=runs,
        )
        if n == 0:
            key, state = "empty", "0 sessions"
        elif pending:
            key, state = "pending", f"{n} sessions Pending (no exec)"
        else:
            key, state = "running", f"{n} sessions Running (AGENT column: 1 exec each)"
        rows.append(
            Row(
                name=f"list.{key}",
                what=f"`list`, {state}",
                unit="s",
                kodama=samples["kodama"],
                floor_what="`kubectl get pods,pvc -l … -o json`",
                floor=samples["kubectl"],
                target=LIMIT,
                load=(before, load1()),
                profile_argv=kodama[1:],
                note=f"what list saw: {dict(seen) or 'nothing'}; agent states {dict(agents)}",
            )
        )
    return rows
