"""`kubectl kodama list` with 50 sessions next to `kubectl get pods,pvc -l managed-by=kodama`.

The sessions are made by the real CLI (`start NAME --no-wait`), so `list` reads exactly what a
user's `start` leaves behind: two PVCs with the spec annotation and a pod per session.

Two namespaces:
- *pending*: each pod has a nodeSelector no node matches, so it stays Pending and `list` does
  only its two label-selector lists (the API floor plus Kodama's own cost);
- *running*: the pods run (on the simulated node), so `list` also reads each agent's state
  through one `kubectl exec` per session (8 at a time) — the cost the floor does not pay.
  They are made with `start --no-wait` then `resume` (which runs the in-pod step `--no-wait`
  skipped), so each has its repo, branch and agent like after a plain `start`.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from harness import MANAGED, NOWHERE, Env, Row, Target, interleaved, load1, timed_run

PENDING_NS = "kodama-bench-list-pending"
RUNNING_NS = "kodama-bench-list-running"


def populate(env: Env, ns: str, count: int, *, pending: bool) -> None:
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


def bench(env: Env, runs: int, count: int, prepared: set[str]) -> list[Row]:
    rows: list[Row] = []
    for ns, pending in ((PENDING_NS, True), (RUNNING_NS, False)):
        if ns not in prepared:
            populate(env, ns, count, pending=pending)
            prepared.add(ns)
        listed = json.loads(env.kk(ns, "list", "-o", "json").stdout)["items"]
        seen = Counter(i["status"] for i in listed)
        agents = Counter((i.get("agent") or {}).get("state", "-") for i in listed)
        e = env.environ()
        kodama = env.kodama(ns, "list")
        floor = env.kubectl(ns, "get", "pods,pvc", "-l", MANAGED)
        before = load1()
        samples = interleaved(
            [
                ("kodama", partial(timed_run, kodama, env=e, cwd=env.repo)),
                ("kubectl", partial(timed_run, floor, env=e, cwd=env.repo)),
            ],
            runs=runs,
        )
        state = "Pending (no exec)" if pending else "Running (+1 exec each for agent state)"
        rows.append(
            Row(
                name=f"list.{'pending' if pending else 'running'}",
                what=f"`list`, {count} sessions {state}",
                unit="s",
                kodama=samples["kodama"],
                floor_what="`kubectl get pods,pvc -l …`",
                floor=samples["kubectl"],
                target=Target("ratio", 1.5, "≤ 1.5x kubectl"),
                load=(before, load1()),
                profile_argv=kodama[1:],
                note=f"what list saw: {dict(seen)}; agent states {dict(agents)}",
            )
        )
    return rows
