"""Usage: run intervals, token counts from Claude Code's transcripts, cost from config prices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kodama.agent import usage
from kodama.config import PricingConfig
from kodama.k8s import manifests
from kodama.models import SessionSpec, Status
from tests.fixtures.specs import session_spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "claude_transcript.jsonl"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_real_transcript_counts_each_message_once() -> None:
    # Written by Claude Code 2.1.332 against the Messages API stub, whose two responses reported
    # 101/23/5/7 and 202/31/11/13 (input/output/cache read/cache write); the first response had
    # two content blocks, so two transcript entries carry its usage.
    lines = FIXTURE.read_text().splitlines()
    assert sum('"usage"' in line for line in lines) == 3
    by_model = usage.parse_transcripts(lines)
    t = usage.total(by_model)
    assert (t.input, t.output, t.cache_read, t.cache_write, t.messages) == (303, 54, 16, 20, 2)
    assert list(by_model) == ["claude-opus-5-5"]


def test_transcripts_ignore_junk_and_other_entries() -> None:
    good = {
        "type": "assistant",
        "message": {"id": "m1", "model": "x", "usage": {"input_tokens": 5, "output_tokens": -3}},
    }
    lines = [
        "not json",
        json.dumps({"type": "user", "message": {"usage": {"input_tokens": 99}}}),
        json.dumps({"type": "assistant", "message": "text"}),
        json.dumps(good),
        json.dumps({"type": "assistant", "message": {"model": "y", "usage": {"input_tokens": 1}}}),
        json.dumps({"type": "assistant", "message": {"model": "y", "usage": {"input_tokens": 2}}}),
    ]
    by_model = usage.parse_transcripts(lines)
    assert by_model["x"].input == 5 and by_model["x"].output == 0  # negative counts dropped
    assert by_model["y"].input == 3 and by_model["y"].messages == 2  # no id: each counted


def test_runs_open_close_and_seconds() -> None:
    runs = usage.open_run([], T0)
    runs = usage.close_runs(runs, T0 + timedelta(minutes=10))
    runs = usage.open_run(runs, T0 + timedelta(hours=1))
    raw = usage.dump_runs(runs)
    back = usage.parse_runs(raw)
    assert back == runs
    running_pod = {"status": {"phase": "Running"}}
    secs, running = usage.run_seconds(back, T0 + timedelta(hours=1, minutes=5), running_pod)
    assert (secs, running) == (900, True)
    ended = {
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {"state": {"terminated": {"finishedAt": "2026-01-01T01:02:00Z"}}}
            ],
        }
    }
    assert usage.run_seconds(back, T0 + timedelta(hours=3), ended) == (720, False)
    # No pod and an open run: the end is unknown, counted as zero.
    assert usage.run_seconds(back, T0 + timedelta(hours=3), None) == (600, False)


def test_open_run_after_an_unknown_end_marks_it_lost() -> None:
    runs = usage.open_run(usage.open_run([], T0), T0 + timedelta(hours=1))
    assert runs[0].lost and runs[0].end == T0 and runs[1].end is None


def test_runs_annotation_is_validated() -> None:
    raw = json.dumps(
        [
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z"},
            {"start": "garbage"},
            {
                "start": "2026-01-01T00:05:00Z",
                "end": "2026-01-01T00:01:00Z",
            },  # ends before it starts
            "x",
        ]
    )
    assert len(usage.parse_runs(raw)) == 1
    assert usage.parse_runs("{not json") == []
    assert usage.parse_runs(json.dumps({"a": 1})) == []


def spec(**kw: Any) -> SessionSpec:
    sizes = {"cpu": "500m", "memory": "2Gi", "workspace_size": "10Gi", "home_size": "2Gi"}
    return session_spec(name="s", **{**sizes, **kw})


def ws(runs: list[usage.Run], tokens: str | None = None) -> dict[str, Any]:
    ann = {manifests.PHASE_ANNOTATION: "ready", manifests.RUNS_ANNOTATION: usage.dump_runs(runs)}
    if tokens:
        ann[manifests.TOKENS_ANNOTATION] = tokens
    return {
        "metadata": {"name": "kodama-s-workspace", "annotations": ann},
        "status": {"phase": "Bound"},
    }


def test_build_resources_times_hours_and_no_pricing() -> None:
    runs = [usage.Run(start=T0, end=T0 + timedelta(hours=2))]
    u = usage.build(
        spec(), ws(runs), {"metadata": {"name": "h"}}, None, T0 + timedelta(hours=5), None
    )
    assert u.status == Status.STOPPED
    assert u.seconds == 7200 and u.cpu_hours == 1.0 and u.memory_gib_hours == 4.0
    assert u.storage == {"workspace": "10Gi", "home": "2Gi"} and u.storage_gib == 12.0
    assert u.cost is None and u.cost_note is not None and "pricing" in u.cost_note
    assert u.tokens is None and u.tokens_note is not None


def test_cost_from_config_prices() -> None:
    runs = [usage.Run(start=T0, end=T0 + timedelta(hours=2))]
    tokens = usage.dump_tokens(
        {
            "claude-sonnet-4-5-20250929": usage.Tokens(
                input=1_000_000, output=100_000, cache_read=2_000_000, cache_write=0, messages=3
            ),
            "mystery": usage.Tokens(input=5, messages=1),
        },
        T0,
    )
    pricing = PricingConfig.model_validate(
        {
            "currency": "EUR",
            "cpuHour": 0.04,
            "memoryGiBHour": 0.005,
            "models": {
                "claude-sonnet-4": {"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}
            },
        }
    )
    u = usage.build(spec(), ws(runs, tokens), None, None, T0 + timedelta(hours=5), pricing)
    assert u.tokens is not None and u.tokens.input == 1_000_005 and u.tokens_read_at == T0
    assert u.cost is not None and u.cost.currency == "EUR"
    assert u.cost.compute == pytest.approx(1.0 * 0.04 + 4.0 * 0.005)
    assert u.cost.tokens == pytest.approx(3 + 1.5 + 0.6)
    assert u.cost.storage is None
    assert "storage" in u.cost.unpriced and "model mystery" in u.cost.unpriced
    assert u.cost.total == pytest.approx(u.cost.compute + u.cost.tokens)
