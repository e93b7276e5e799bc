"""`kubectl kodama list -A` over 500 sessions in 10 namespaces, next to `kubectl get -A … -o json`.

Making 500 sessions with `start` would take many minutes, so the objects are built by Kodama's own
pure manifest code (the PVCs with the spec annotation, the pod) from the spec of one
`start --dry-run`, renamed per session, and applied with one `kubectl apply` per namespace. The
pods select a label no node has: they stay Pending, so `list -A` does its two cluster-wide lists
and no exec. A check before timing: `list -A -o json` must show all 500.
"""

from __future__ import annotations

import importlib
import json
from functools import partial
from types import ModuleType
from typing import Any

import yaml
from bench_list import LIMIT, floor_argv
from harness import MANAGED, NOWHERE, BenchError, Env, Row, interleaved, load1, timed_run

NAMESPACES = 10
PER_NAMESPACE = 50


def _manifests() -> ModuleType:
    # The module moves to kodama/k8s/ with the engine layout change (issue 17).
    for name in ("kodama.k8s.manifests", "kodama.manifests"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise BenchError("kodama's manifests module not found")


def objects(env: Env, namespaces: list[str], per_ns: int) -> dict[str, list[dict[str, Any]]]:
    """Every session's PVCs and pod, per namespace, as `start` would create them."""
    from kodama.models import SessionSpec

    m = _manifests()
    docs = [
        d
        for d in yaml.safe_load_all(env.dry_run(namespaces[0], "s000", "--node-selector", NOWHERE))
        if d
    ]
    ws = next(
        d
        for d in docs
        if d["kind"] == "PersistentVolumeClaim" and "workspace" in d["metadata"]["name"]
    )
    base = SessionSpec.model_validate_json(ws["metadata"]["annotations"][m.SPEC_ANNOTATION])
    out: dict[str, list[dict[str, Any]]] = {}
    for ns in namespaces:
        items: list[dict[str, Any]] = []
        for i in range(per_ns):
            name = f"s{i:03d}"
            update: dict[str, Any] = {"name": name, "namespace": ns}
            if base.branch == f"kodama/{base.name}":
                update["branch"] = f"kodama/{name}"
            spec = base.model_copy(update=update)
            items += [m.pvc(spec, "workspace"), m.pvc(spec, "home"), m.pod(spec)]
        out[ns] = items
    return out


def populate(env: Env, namespaces: list[str], per_ns: int) -> None:
    if all(env.reuse(ns, per_ns, "Pending") for ns in namespaces):
        return
    for ns in namespaces:
        env.namespace(ns)
    for ns, items in objects(env, namespaces, per_ns).items():
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        env.k(ns, "apply", "-f", "-", input=body, timeout=300)


def bench(env: Env, runs: int, quick: bool, prepared: set[str]) -> list[Row]:
    n_ns, per_ns = (3, 20) if quick else (NAMESPACES, PER_NAMESPACE)
    namespaces = [f"kodama-bench-all-{i:02d}" for i in range(n_ns)]
    if "list-all" not in prepared:
        populate(env, namespaces, per_ns)
        prepared.add("list-all")
    listed = json.loads(env.kk(namespaces[0], "list", "-A", "-o", "json").stdout)["items"]
    ours = [i for i in listed if i.get("namespace", "") in namespaces]
    if len(ours) != n_ns * per_ns:
        raise BenchError(f"list -A shows {len(ours)} of {n_ns * per_ns} sessions")
    e = env.environ()
    kodama = env.kodama(namespaces[0], "list", "-A")
    before = load1()
    samples = interleaved(
        [
            ("kodama", partial(timed_run, kodama, env=e, cwd=env.repo)),
            ("kubectl", partial(timed_run, floor_argv(env, None), env=e, cwd=env.repo)),
        ],
        runs=min(runs, 3),  # a round is ~10 s of kubectl alone: 500 sessions on 2 cores
    )
    return [
        Row(
            name="list.all",
            what=f"`list -A`, {n_ns * per_ns} sessions Pending in {n_ns} namespaces",
            unit="s",
            kodama=samples["kodama"],
            floor_what="`kubectl get pods,pvc -A -l … -o json`",
            floor=samples["kubectl"],
            target=LIMIT,
            load=(before, load1()),
            profile_argv=kodama[1:],
            note=f"{len(listed)} sessions in the cluster in all ({MANAGED}), "
            f"{sum(1 for i in listed if i.get('status') == 'Running')} of them Running (one exec "
            "each for the AGENT column)",
        )
    ]
