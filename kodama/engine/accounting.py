"""What sessions used, read from the cluster: run intervals, tokens from the pod, cost.

The arithmetic is pure (kodama.agent.usage); this module reads PVCs, pods and transcripts.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kodama.agent.usage import (
    TRANSCRIPTS_COMMAND,
    Tokens,
    Usage,
    build,
    dump_tokens,
    estimate,
    parse_transcripts,
    total,
)
from kodama.errors import KodamaError
from kodama.k8s import manifests
from kodama.k8s.manifests import SELECTOR, SESSION_LABEL, TOKENS_ANNOTATION
from kodama.k8s.spec_check import spec_from_pvc
from kodama.models import SessionSpec, Status

if TYPE_CHECKING:
    from kodama.engine.core import EngineBase


def read_tokens(engine: EngineBase, spec: SessionSpec) -> dict[str, Tokens]:
    out = engine.cluster.exec_output(
        manifests.pod_name(spec.name),
        spec.namespace,
        manifests.CONTAINER,
        TRANSCRIPTS_COMMAND,
        timeout=60,
    )
    return parse_transcripts(out.splitlines())


def remember_tokens(engine: EngineBase, spec: SessionSpec, now: datetime) -> None:
    """Read the tokens now and keep them on the PVC (stop calls this before the pod goes)."""
    models = read_tokens(engine, spec)
    if models:
        engine.cluster.patch_annotations(
            "PersistentVolumeClaim",
            manifests.workspace_pvc_name(spec.name),
            spec.namespace,
            {TOKENS_ANNOTATION: dump_tokens(models, now)},
        )


def collect(
    engine: EngineBase, name: str | None = None, *, all_namespaces: bool = False
) -> list[Usage]:
    """Usage of one session or of all (one list per kind; one exec per running Claude Code)."""
    c = engine.cluster
    ns = None if all_namespaces else engine.namespace()
    selector = manifests.session_selector(name) if name else SELECTOR
    pvcs = c.list_objects("PersistentVolumeClaim", selector, ns)
    pods = c.list_objects("Pod", selector, ns)

    def key(obj: dict[str, Any]) -> tuple[str, str]:
        meta = obj["metadata"]
        return meta["namespace"], (meta.get("labels") or {}).get(SESSION_LABEL, "")

    pods_by = {key(p): p for p in pods}
    homes = {key(p): p for p in pvcs if p["metadata"]["name"].endswith("-home")}
    items: list[tuple[SessionSpec, dict[str, Any]]] = []
    for ws in pvcs:
        if not ws["metadata"]["name"].endswith("-workspace"):
            continue
        with contextlib.suppress(KodamaError, ValueError):
            items.append((spec_from_pvc(ws), ws))
    if name and not items:
        engine.spec_of(name)  # raises the usual NotFound
    now = datetime.now(UTC)
    pricing = engine.config().config.pricing
    out = [
        build(spec, ws, homes.get(key(ws)), pods_by.get(key(ws)), now, pricing)
        for spec, ws in items
    ]
    live = [
        (u, spec)
        for u, (spec, _) in zip(out, items, strict=True)
        if u.status == Status.RUNNING and spec.agent_kind == "claude"
    ]

    def fresh(pair: tuple[Usage, SessionSpec]) -> None:
        u, spec = pair
        try:
            models = read_tokens(engine, spec)
        except KodamaError as exc:
            u.tokens_note = f"could not read the transcripts: {exc.message}"
            return
        u.tokens_by_model, u.tokens, u.tokens_read_at = models, total(models), now
        u.tokens_note = None
        u.cost, u.cost_note = estimate(u, pricing)
        with contextlib.suppress(KodamaError):
            c.patch_annotations(
                "PersistentVolumeClaim",
                manifests.workspace_pvc_name(spec.name),
                spec.namespace,
                {TOKENS_ANNOTATION: dump_tokens(models, now)},
            )

    if live:
        with ThreadPoolExecutor(max_workers=min(8, len(live))) as pool:
            list(pool.map(fresh, live))
    out.sort(key=lambda u: (u.namespace, u.name))
    return out
