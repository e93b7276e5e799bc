"""Cluster load from one open editor: a kodama-lsp with 50 Running sessions, nothing changing.

Counted on the server side, from the API server's own metrics (GET /metrics) read before and
after a window in which the language server (default options, as an editor starts it) runs:
- API requests: the server authenticates as its own user (a ServiceAccount token with the
  `admin` role in the namespace, as a developer's account would be, not the plane's
  system:masters certificate), and a FlowSchema of its own (`kodama-bench-editor`) classifies
  exactly that user's requests, so API Priority and Fairness counts them alone in
  `apiserver_flowcontrol_dispatched_requests_total` (watches included, when they start);
  controllers, the simulated node and the metric scrapes fall under other schemas;
- execs: `apiserver_request_total` for CONNECT pods/exec (APF does not track long-running
  requests like exec; nothing else on the plane execs meanwhile).
A breakdown per verb and resource (all users: only indicative) goes into the note.

Then the time until "waiting for you" shows, i.e. until the server notifies
`kodama/agentState` with state `waiting`, after the session's agent hook wrote it (the real
`kodama-agent hook` with a Notification event, run in the pod):
- s000, an agent that was working a moment ago (issue 18: within 15 s);
- s001, an agent idle for 20 minutes, its run started 30 minutes ago (within 60 s): its state
  and run files are back-dated before the server starts.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from bench_list import RUNNING_NS, populate
from harness import BenchError, Env, Row, Target, load1, run
from lsp_client import Editor, field

RECENT, OLD = "s000", "s001"
METRIC = re.compile(r"^(?P<name>\w+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')
HOOK = '"$HOME/.kodama/bin/kodama-agent"'


SCHEMA = "kodama-bench-editor"
USER = "kodama-bench-editor"  # ServiceAccount in the namespace of the Running sessions
APF = "apiserver_flowcontrol_dispatched_requests_total"


def counters(env: Env) -> Counter[tuple[str, str, str]]:
    """apiserver_request_total per (verb, resource, subresource), plus ("APF", schema, "")."""
    text = run(env.kubectl(None, "get", "--raw", "/metrics"), env=env.environ()).stdout.decode()
    out: Counter[tuple[str, str, str]] = Counter()
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m or m.group("name") not in ("apiserver_request_total", APF):
            continue
        labels = dict(LABEL.findall(m.group("labels")))
        if m.group("name") == APF:
            key = ("APF", labels.get("flow_schema", ""), "")
        else:
            verb, res = labels.get("verb", ""), labels.get("resource", "")
            key = (verb, res, labels.get("subresource", ""))
        out[key] += int(float(m.group("value")))
    return out


def editor_identity(env: Env) -> Path:
    """A kubeconfig for the editor's own user, and the FlowSchema that counts its requests."""
    sa = f"system:serviceaccount:{RUNNING_NS}:{USER}"
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": USER}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": USER},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "ServiceAccount", "name": USER, "namespace": RUNNING_NS}],
        },
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": SCHEMA},
            "spec": {
                "priorityLevelConfiguration": {"name": "workload-high"},
                "matchingPrecedence": 50,  # before every schema but exempt and probes
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [{"kind": "User", "user": {"name": sa}}],
                        "resourceRules": [
                            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                             "namespaces": ["*"], "clusterScope": True}
                        ],
                        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    }
                ],
            },
        },
    ]  # fmt: skip
    env.k(
        RUNNING_NS,
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )
    token = env.k(RUNNING_NS, "create", "token", USER, "--duration=2h").stdout.decode().strip()
    admin = yaml.safe_load(env.kubeconfig.read_text())
    ctx = admin["contexts"][0]["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == ctx["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": USER, "user": {"token": token}}],
        "contexts": [{"name": USER, "context": {"cluster": cluster["name"], "user": USER}}],
        "current-context": USER,
    }
    path = env.work / "editor-kubeconfig"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config))
    return path


def drop_identity(env: Env) -> None:
    env.k(None, "delete", "flowschema", SCHEMA, "--ignore-not-found", check=False)


def per_minute(
    before: Counter[tuple[str, str, str]], after: Counter[tuple[str, str, str]], seconds: float
) -> dict[tuple[str, str, str], float]:
    return {k: (after[k] - before[k]) * 60 / seconds for k in after if after[k] != before[k]}


def is_exec(key: tuple[str, str, str]) -> bool:
    return key[1] == "pods" and key[2] == "exec"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_sh(env: Env, name: str, script: str) -> None:
    env.k(RUNNING_NS, "exec", f"kodama-{name}", "--", "sh", "-c", script)


def hook(env: Env, name: str, event: str, message: str = "") -> None:
    payload = f'{{"hook_event_name":"{event}","message":"{message}"}}'
    pod_sh(env, name, f"printf '%s' '{payload}' | sh {HOOK} hook")


def backdate(env: Env, name: str) -> None:
    """The agent of `name` started 30 minutes ago and has been idle for 20."""
    now = datetime.now(UTC)
    started, idle = _iso(now - timedelta(minutes=30)), _iso(now - timedelta(minutes=20))
    state = f'{{"state":"idle","message":null,"since":"{idle}","exitCode":null}}'
    pod_sh(
        env,
        name,
        f"K=$HOME/.kodama; printf '%s\\n' '{state}' > $K/agent-state.json && "
        f'sed -i \'s/"startedAt":"[^"]*"/"startedAt":"{started}"/\' $K/agent-run.json',
    )


async def _until_waiting(ed: Editor, name: str, since: float, timeout: float) -> float | None:
    deadline = since + timeout
    while time.monotonic() < deadline:
        for at, p in ed.agent_states:
            if at >= since and field(p, "name") == name and field(p, "state") == "waiting":
                return at - since
        await asyncio.sleep(0.05)
    return None


async def _bench(env: Env, window: float) -> dict[str, Any]:
    hook(env, RECENT, "UserPromptSubmit")  # working a moment ago
    backdate(env, OLD)
    kubeconfig = editor_identity(env)
    ed = Editor(env, RUNNING_NS, kubeconfig=kubeconfig)
    await ed.start()
    out: dict[str, Any] = {}
    try:
        # Settle: the first refresh lists every session and reads every agent state once.
        t_init = time.monotonic()
        while not ed.session_lists and time.monotonic() - t_init < 60:
            await asyncio.sleep(0.1)
        out["first_list_s"] = time.monotonic() - t_init if ed.session_lists else None
        await asyncio.sleep(5)
        c0 = counters(env)
        t0 = time.monotonic()
        await asyncio.sleep(window)
        out["rates"] = per_minute(c0, counters(env), time.monotonic() - t0)
        out["rss_mb"] = ed.rss_mb()
        for name, limit in ((RECENT, 15.0), (OLD, 60.0)):
            hook(env, name, "Notification", "bench needs you")
            out[f"waiting_{name}"] = await _until_waiting(ed, name, time.monotonic(), limit * 3)
    finally:
        await ed.stop()
        drop_identity(env)
        for name in (RECENT, OLD):  # back to working, as the list benchmark found them
            hook(env, name, "UserPromptSubmit")
    return out


def _fmt(rates: dict[tuple[str, str, str], float]) -> str:
    parts = sorted(rates.items(), key=lambda kv: -kv[1])
    return ", ".join(
        f"{verb} {res}{'/' + sub if sub else ''} {v:.0f}"
        for (verb, res, sub), v in parts
        if v >= 0.5
    )


def bench(env: Env, runs: int, prepared: set[str], count: int, quick: bool) -> list[Row]:
    if RUNNING_NS not in prepared:
        populate(env, RUNNING_NS, count, pending=False)
        prepared.add(RUNNING_NS)
    window = 30.0 if quick else 60.0
    before = load1()
    r = asyncio.run(_bench(env, window))
    load = (before, load1())
    rates: dict[tuple[str, str, str], float] = r["rates"]
    execs = sum(v for k, v in rates.items() if is_exec(k))
    api = rates.get(("APF", SCHEMA, ""), 0.0)
    kinds = {
        k: v
        for k, v in rates.items()
        if k[0] != "APF" and k[1] in ("pods", "persistentvolumeclaims")
    }
    if not r.get("first_list_s"):
        raise BenchError("the language server never sent kodama/sessionsChanged")
    setting = f"one editor, {count} Running sessions, nothing changing"
    rows = [
        Row(
            name="editor.execs",
            what=f"execs/min, {setting}",
            unit="/min",
            kodama=[execs],
            target=Target("max", 120, "≤ 120 /min"),
            load=load,
            note=f"over {window:.0f} s, from the API server's apiserver_request_total",
        ),
        Row(
            name="editor.requests",
            what=f"API requests/min (execs aside), {setting}",
            unit="/min",
            kodama=[api],
            load=load,
            note=f"its user's requests (APF flow schema); pods and PVC requests of all users "
            f"meanwhile, per minute: {_fmt(kinds)}; server RSS {r['rss_mb']:.0f} MB",
        ),
    ]
    for name, limit, who in (
        (RECENT, 15.0, "working a moment ago"),
        (OLD, 60.0, "idle for 20 min"),
    ):
        got = r[f"waiting_{name}"]
        rows.append(
            Row(
                name=f"editor.waiting_{'recent' if name == RECENT else 'old'}",
                what=f"hook → 'waiting for you' shown, agent {who}",
                unit="s",
                kodama=[got if got is not None else limit * 3],
                target=Target("max", limit, f"≤ {limit:.0f} s"),
                load=load,
                note="" if got is not None else f"not shown within {limit * 3:.0f} s (given up)",
            )
        )
    return rows
