"""What a session used: run time, requested CPU/memory x time, PVC sizes, tokens, cost.

Run intervals live in the workspace PVC's `kodama.dev/runs` annotation: start/resume open one,
stop (or the next resume, after an idle stop) closes it with the time the pod ended. Token counts
are summed from Claude Code's transcripts on the home PVC (one exec per running session) and kept
in `kodama.dev/tokens`, so a stopped session still reports what was last read. Prices come only
from the `pricing:` config section; nothing is built in.

All of it is pure: kodama.engine.accounting reads the cluster and calls it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from kodama.config import PricingConfig
from kodama.errors import InvalidInput
from kodama.k8s.manifests import RUNS_ANNOTATION, TOKENS_ANNOTATION
from kodama.k8s.status import derive, finished_at, pod_ended
from kodama.models import SessionSpec, Status, _Model
from kodama.validation import parse_quantity

MAX_RUNS = 500  # intervals kept in the annotation (oldest dropped)
HOURS = Decimal(3600)
GIB = Decimal(1024**3)

TRANSCRIPTS_COMMAND = [
    "sh",
    "-c",
    '[ -f "$HOME/.kodama/bin/kodama-agent" ] || exit 0; exec sh "$HOME/.kodama/bin/kodama-agent" transcripts',
]


class Run(_Model):
    start: datetime
    end: datetime | None = None
    lost: bool = False  # the pod went without Kodama seeing when: counted as zero


class Tokens(_Model):
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    messages: int = 0

    def add(self, other: Tokens) -> None:
        self.input += other.input
        self.output += other.output
        self.cache_read += other.cache_read
        self.cache_write += other.cache_write
        self.messages += other.messages


class Cost(_Model):
    currency: str
    compute: float | None = None
    storage: float | None = None
    tokens: float | None = None
    total: float
    unpriced: list[str] = Field(default_factory=list)  # what had no price in the config


class Usage(_Model):
    name: str
    namespace: str
    status: Status
    family: str | None = None
    runs: list[Run] = Field(default_factory=list)
    running: bool = False
    seconds: float = 0
    lost_runs: int = 0
    cpu: str | None = None
    memory: str | None = None
    cpu_hours: float = 0  # cores requested x hours run
    memory_gib_hours: float = 0
    storage: dict[str, str] = Field(default_factory=dict)  # workspace/home: requested size
    storage_gib: float = 0
    tokens: Tokens | None = None
    tokens_by_model: dict[str, Tokens] = Field(default_factory=dict)
    tokens_read_at: datetime | None = None
    tokens_note: str | None = None
    cost: Cost | None = None
    cost_note: str | None = None


# -- run intervals (pure) ---------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_runs(raw: str | None) -> list[Run]:
    """The annotation, validated like any input others can write: bad entries are dropped."""
    if not raw or len(raw) > 200_000:
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    out: list[Run] = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        start = parse_time(item.get("start"))
        if start is None:
            continue
        end = parse_time(item.get("end")) if item.get("end") is not None else None
        if end is not None and end < start:
            continue
        out.append(Run(start=start, end=end, lost=item.get("lost") is True))
    return out[-MAX_RUNS:]


def dump_runs(runs: list[Run]) -> str:
    def one(r: Run) -> dict[str, Any]:
        d: dict[str, Any] = {"start": _iso(r.start), "end": _iso(r.end) if r.end else None}
        if r.lost:
            d["lost"] = True
        return d

    return json.dumps([one(r) for r in runs[-MAX_RUNS:]], separators=(",", ":"))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def close_runs(runs: list[Run], end: datetime | None) -> list[Run]:
    """Close the open run at `end`; with no known end it is kept as lost (counted as zero)."""
    out = list(runs)
    if out and out[-1].end is None:
        last = out[-1]
        if end is None:
            out[-1] = Run(start=last.start, end=last.start, lost=True)
        else:
            out[-1] = Run(start=last.start, end=max(end, last.start))
    return out


def open_run(runs: list[Run], now: datetime, previous_end: datetime | None = None) -> list[Run]:
    return [*close_runs(runs, previous_end), Run(start=now)]


def runs_update(
    ws: dict[str, Any] | None, *, end: datetime | None, start: datetime | None
) -> dict[str, str | None]:
    """The annotation patch that closes the open run at `end` and, with `start`, opens one."""
    ann = ((ws or {}).get("metadata") or {}).get("annotations") or {}
    runs = parse_runs(ann.get(RUNS_ANNOTATION))
    runs = open_run(runs, start, end) if start is not None else close_runs(runs, end)
    return {RUNS_ANNOTATION: dump_runs(runs)}


def run_seconds(runs: list[Run], now: datetime, pod: dict[str, Any] | None) -> tuple[float, bool]:
    """Seconds run in total, and whether a run is open now. An open run ends at the pod's
    finish time when the pod has ended, at `now` while it runs; without a pod it counts zero."""
    total = 0.0
    running = False
    for i, r in enumerate(runs):
        end = r.end
        if end is None and i == len(runs) - 1:
            if pod is not None and pod_ended(pod):
                end = parse_time(finished_at(pod)) or r.start
            elif pod is not None:
                end, running = now, True
            else:
                end = r.start
        if end is not None:
            total += max(0.0, (end - r.start).total_seconds())
    return total, running


# -- tokens (pure) ----------------------------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def parse_transcripts(lines: Iterable[str]) -> dict[str, Tokens]:
    """Per model, the token usage of every assistant message, each counted once.

    Claude Code writes one transcript entry per content block of a response, each carrying the
    whole response's usage under the same message id: the last entry of an id wins.
    """
    by_id: dict[str, tuple[str, Tokens]] = {}
    anonymous: list[tuple[str, Tokens]] = []
    for line in lines:
        line = line.strip()
        if not line or len(line) > 4_000_000:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("type") != "assistant":
            continue
        msg = entry.get("message")
        if not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict):
            continue
        u = msg["usage"]
        model = msg.get("model") if isinstance(msg.get("model"), str) else "unknown"
        tokens = Tokens(
            input=_int(u.get("input_tokens")),
            output=_int(u.get("output_tokens")),
            cache_read=_int(u.get("cache_read_input_tokens")),
            cache_write=_int(u.get("cache_creation_input_tokens")),
            messages=1,
        )
        mid = msg.get("id")
        if isinstance(mid, str) and mid:
            by_id[mid] = (str(model)[:100], tokens)
        else:
            anonymous.append((str(model)[:100], tokens))
    out: dict[str, Tokens] = {}
    for model, tokens in [*by_id.values(), *anonymous]:
        out.setdefault(model, Tokens()).add(tokens)
    return out


def total(by_model: dict[str, Tokens]) -> Tokens:
    t = Tokens()
    for v in by_model.values():
        t.add(v)
    return t


def parse_tokens_annotation(raw: str | None) -> tuple[dict[str, Tokens], datetime | None]:
    if not raw or len(raw) > 100_000:
        return {}, None
    try:
        data = json.loads(raw)
        models = {
            str(k)[:100]: Tokens.model_validate(v)
            for k, v in (data.get("models") or {}).items()
            if isinstance(v, dict)
        }
    except (ValueError, AttributeError):
        return {}, None
    if any(
        min(t.input, t.output, t.cache_read, t.cache_write, t.messages) < 0 for t in models.values()
    ):
        return {}, None
    return models, parse_time(data.get("readAt"))


def dump_tokens(by_model: dict[str, Tokens], read_at: datetime) -> str:
    return json.dumps(
        {
            "readAt": _iso(read_at),
            "models": {k: v.model_dump(by_alias=True) for k, v in sorted(by_model.items())},
        },
        separators=(",", ":"),
    )


# -- resources and cost (pure) ----------------------------------------------------------------


def cores(qty: str | None) -> Decimal:
    if not qty:
        return Decimal(0)
    try:
        return parse_quantity(qty)
    except (InvalidInput, ValueError, ArithmeticError):
        return Decimal(0)


def gib(qty: str | None) -> Decimal:
    return cores(qty) / GIB


def _price(models: dict[str, Any], model: str) -> Any:
    """Exact name first, else the longest configured prefix (`claude-sonnet-4` prices
    `claude-sonnet-4-5-20250929`)."""
    if model in models:
        return models[model]
    best = max((k for k in models if model.startswith(k)), key=len, default=None)
    return models[best] if best is not None else None


def estimate(u: Usage, pricing: PricingConfig | None) -> tuple[Cost | None, str | None]:
    if pricing is None:
        return None, "no prices configured (add a `pricing:` section to the config)"
    unpriced: list[str] = []
    compute: float | None = None
    if pricing.cpu_hour is not None or pricing.memory_gib_hour is not None:
        compute = u.cpu_hours * (pricing.cpu_hour or 0) + u.memory_gib_hours * (
            pricing.memory_gib_hour or 0
        )
        if pricing.cpu_hour is None:
            unpriced.append("cpu")
        if pricing.memory_gib_hour is None:
            unpriced.append("memory")
    else:
        unpriced += ["cpu", "memory"]
    storage: float | None = None
    if pricing.storage_gib_month is not None:
        storage = u.storage_gib * pricing.storage_gib_month * u.seconds / (30 * 86400)
    else:
        unpriced.append("storage")
    tokens: float | None = None
    if u.tokens_by_model:
        tokens = 0.0
        for model, t in sorted(u.tokens_by_model.items()):
            p = _price(pricing.models, model)
            if p is None:
                unpriced.append(f"model {model}")
                continue
            tokens += (
                t.input * p.input
                + t.output * p.output
                + t.cache_read * p.cache_read
                + t.cache_write * p.cache_write
            ) / 1_000_000
    parts = [x for x in (compute, storage, tokens) if x is not None]
    cost = Cost(
        currency=pricing.currency,
        compute=compute,
        storage=storage,
        tokens=tokens,
        total=sum(parts),
        unpriced=unpriced,
    )
    return cost, None


def build(
    spec: SessionSpec,
    ws: dict[str, Any],
    home: dict[str, Any] | None,
    pod: dict[str, Any] | None,
    now: datetime,
    pricing: PricingConfig | None,
) -> Usage:
    status, _ = derive(ws, home, pod)
    ann = (ws.get("metadata") or {}).get("annotations") or {}
    runs = parse_runs(ann.get(RUNS_ANNOTATION))
    seconds, running = run_seconds(runs, now, pod)
    hours = Decimal(str(seconds)) / HOURS
    storage = {"workspace": spec.workspace_size, "home": spec.home_size}
    models, read_at = parse_tokens_annotation(ann.get(TOKENS_ANNOTATION))
    u = Usage(
        name=spec.name,
        namespace=spec.namespace,
        status=status,
        family=spec.family,
        runs=runs,
        running=running,
        seconds=seconds,
        lost_runs=sum(1 for r in runs if r.lost),
        cpu=spec.cpu,
        memory=spec.memory,
        cpu_hours=float(cores(spec.cpu) * hours),
        memory_gib_hours=float(gib(spec.memory) * hours),
        storage=storage,
        storage_gib=float(sum((gib(v) for v in storage.values()), Decimal(0))),
        tokens_by_model=models,
        tokens=total(models) if models else None,
        tokens_read_at=read_at,
    )
    if spec.agent_kind != "claude":
        u.tokens_note = "token counts are read from Claude Code's transcripts only"
    elif not models and status != Status.RUNNING:
        u.tokens_note = "not read yet: tokens are read from the running pod"
    u.cost, u.cost_note = estimate(u, pricing)
    return u
