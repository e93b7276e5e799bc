"""`start` on the plane's real node (kubelet + containerd, the agent image, real Claude Code),
beside the simulated node.

Only when the plane has the real node (`.testenv/agent-image` next to the kubeconfig, written by
`up` once the node is Ready); otherwise the rows say why they were skipped. Per round:
- `kubectl-kodama start NAME` with the agent image on the real node (default placement) until it
  returns (Running: pod Ready, repo shipped, agent launched), next to `kubectl apply` + `kubectl
  wait` of the same objects (its `--dry-run`) on the same node;
- then the time until the agent shows its prompt: the agent state, read with `get -o json`
  every half second, turns `idle` (Claude Code's SessionStart hook) or `waiting`;
- the same `start` on the simulated node (the benchmark config: no image, the stand-in agent).
Credentials for Claude Code, when the caller's environment has them, are passed through to the
real-node `start` (never printed) and Claude Code talks to Anthropic. Without them (this machine has
no network), Claude Code talks to the tests' Messages API stub (tests/fixtures/messages_api.py) run
in the node's network namespace, with a dummy key, as tests/cluster/test_claude.py does: without a
reachable API and a key, Claude Code stops at its login screen and its SessionStart hook may never
come, so the prompt was seen in 1 of 3 rounds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from bench_lifecycle import timed_steps
from harness import Env, Row, Target, load1, run, timed

REPO = Path(__file__).resolve().parent.parent
NS = "kodama-bench-real"
DUMMY_KEY = "sk-ant-api03-kodama-bench-" + "0" * 24
CREDENTIALS = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")
PROMPT_STATES = ("idle", "waiting")


def agent_image(kubeconfig: Path) -> str | None:
    try:
        return (kubeconfig.parent / "agent-image").read_text().strip() or None
    except OSError:
        return None


def lib_setting(name: str) -> str:
    """A value of tests/testenv/lib.sh (NAME=value): where the real node's network lives."""
    for line in (REPO / "tests" / "testenv" / "lib.sh").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].split("#", 1)[0].strip().strip('"')
    raise LookupError(name)


def messages_stub() -> Any:
    """The tests' Messages API stub in the real node's network namespace (pods reach only it)."""
    sys.path.insert(0, str(REPO))
    from tests.fixtures.messages_api import MessagesApi

    api = MessagesApi(
        host=lib_setting("REAL_NODE_IP"),
        prefix=["nsenter", f"--net=/run/netns/{lib_setting('REAL_NETNS')}"],
    )
    api.script([])
    return api


def unredacted(doc: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """`--dry-run` prints a Secret's values as <redacted>: the floor applies the real ones."""
    if doc.get("kind") == "Secret" and doc.get("data"):
        doc["stringData"] = {k: environ.get(k, "") for k in doc.pop("data")}
    return doc


def skipped(why: str) -> list[Row]:
    print(f"realnode: skipped: {why}", file=sys.stderr)
    return [
        Row(
            name=f"realnode.{key}",
            what=what,
            unit="s",
            kodama=[],
            target=target,
            note=f"skipped: {why}",
        )
        for key, what, target in (
            ("start", "`start` → Running, real node", Target("ratio", 1.5, "≤ 1.5x apply+wait")),
            ("prompt", "`start` returned → agent prompt, real node", None),
        )
    ]


def bench(env: Env, runs: int) -> list[Row]:
    image = agent_image(env.kubeconfig)
    if image is None:
        return skipped(f"the plane has no real node (no {env.kubeconfig.parent / 'agent-image'})")
    home = env.work / "kodama-home-real"
    home.mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "image": image,
        "resources": {"cpu": "500m", "memory": "1Gi"},
        "storage": {"workspace": "1Gi", "claudeHome": "1Gi"},
        "sync": {"enabled": False},
        "timeout": 300,
    }
    real = env.environ()
    real["KODAMA_HOME"] = str(home)
    real.update({k: os.environ[k] for k in CREDENTIALS if os.environ.get(k)})
    stub = None
    if not any(k in real for k in CREDENTIALS):
        stub = messages_stub()
        real["ANTHROPIC_API_KEY"] = DUMMY_KEY
        config["env"] = {
            "ANTHROPIC_BASE_URL": stub.url,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
        }
    (home / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        return _rounds(env, runs, real, stub is not None)
    finally:
        if stub is not None:
            stub.close()


def _rounds(env: Env, runs: int, real: dict[str, str], stubbed: bool) -> list[Row]:
    sim = env.environ()
    env.namespace(NS)

    def agent_state(name: str) -> str:
        proc = run(env.kodama(NS, "get", name, "-o", "json"), env=real, cwd=env.repo, check=False)
        try:
            return str((json.loads(proc.stdout).get("agent") or {}).get("state", ""))
        except ValueError:
            return ""

    def apply_and_wait(docs: str, name: str) -> float:
        pod = f"pod/kodama-{name}"
        return timed(
            lambda: (
                run(env.kubectl(NS, "apply", "-f", "-"), env=real, input=docs),
                run(
                    env.kubectl(NS, "wait", "--for=condition=Ready", pod, "--timeout=300s"),
                    env=real,
                ),
            )
        )

    start_k: list[float] = []
    start_f: list[float] = []
    prompt: list[float] = []
    sim_k: list[float] = []
    seen: list[str] = []
    nodes: set[str] = set()
    before = load1()
    for i in range(min(runs, 3) + 1):  # round 0 warms up (the first pull of the image)
        kname, fname, sname = f"r{i}", f"rf{i}", f"rs{i}"
        wall, _ = timed_steps(env.kodama(NS, "start", kname), real, env.repo)
        t0 = time.monotonic()
        state = agent_state(kname)
        while state not in PROMPT_STATES and time.monotonic() - t0 < 180:
            time.sleep(0.5)
            state = agent_state(kname)
        waited = time.monotonic() - t0
        pod = json.loads(env.k(NS, "get", "pod", f"kodama-{kname}", "-o", "json").stdout)
        nodes.add(str(pod.get("spec", {}).get("nodeName")))
        dry = run(env.kodama(NS, "start", fname, "--dry-run", "-o", "yaml"), env=real, cwd=env.repo)
        docs = yaml.safe_dump_all(
            [unredacted(d, real) for d in yaml.safe_load_all(dry.stdout) if d]
        )
        floor = apply_and_wait(docs, fname)
        swall, _ = timed_steps(env.kodama(NS, "start", sname), sim, env.repo)
        if i > 0:
            start_k.append(wall)
            start_f.append(floor)
            sim_k.append(swall)
            seen.append(state or "?")
            if state in PROMPT_STATES:
                prompt.append(waited)
        run(env.kodama(NS, "delete", kname, "--yes"), env=real, cwd=env.repo)
        env.kk(NS, "delete", sname, "--yes")
        env.k(NS, "delete", "pod,pvc,secret", "-l", f"kodama.dev/session={fname}", "--wait=false")
    load = (before, load1())
    sim_median = sorted(sim_k)[len(sim_k) // 2] if sim_k else None
    side = f"simulated node: {sim_median * 1000:.0f} ms (median)" if sim_median else ""
    return [
        Row(
            name="realnode.start",
            what="`start` → Running, real node",
            unit="s",
            kodama=start_k,
            floor_what="`kubectl apply` + `kubectl wait`",
            floor=start_f,
            target=Target("ratio", 1.5, "≤ 1.5x apply+wait"),
            load=load,
            note=f"nodes {sorted(nodes)}; same `start` on the {side}",
        ),
        Row(
            name="realnode.prompt",
            what="`start` returned → agent prompt, real node",
            unit="s",
            kodama=prompt,
            load=load,
            note=f"agent state when given up or shown: {seen}; Claude Code's API: "
            + ("the tests' Messages API stub" if stubbed else "Anthropic (credentials given)"),
        ),
    ]
