"""start → Running, stop and resume, next to the same objects handled by kubectl by hand.

Floors (the API round trips a user cannot avoid):
- start:  `kubectl apply -f -` of `kubectl-kodama start NAME --dry-run -o yaml` (two PVCs and the
          pod; no Secrets, as no credentials are set) + `kubectl wait --for=condition=Ready pod/…`;
- stop:   `kubectl delete pod kodama-NAME` (waits for the pod to be gone, like `stop`);
- resume: `kubectl apply -f` of the pod alone + `kubectl wait --for=condition=Ready`.

Kodama's `start` does more than the floor: it also ships the local repository into the workspace
and launches the agent, both through `kubectl exec`. The per-step split (from the progress lines
`start` prints on stderr, timestamped as they arrive) shows how much of the ratio that is.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import yaml
from harness import BenchError, Env, Row, Target, load1, run, timed

NS = "kodama-bench-life"
# First word of a progress line -> step name (plain-line renderer: "• Creating session …").
STEP_WORDS = {
    "Creating": "create",
    "Waiting": "wait Ready",
    "Shipping": "ship repo",
    "Cloning": "clone",
    "Launching": "launch agent",
    "Deleting": "delete pod",
    "Starting": "sync",
}


def timed_steps(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, dict[str, float]]:
    """Wall time of the command and the time spent in each progress step it printed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    marks: list[tuple[str, float]] = [("python start-up + plan", t0)]
    lines: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        now = time.perf_counter()
        lines.append(line)
        text = line.strip()
        if text.startswith("•"):
            word = text[1:].split()[0] if len(text) > 1 else ""
            marks.append((STEP_WORDS.get(word, word.lower()), now))
        elif text.startswith("✓"):
            marks.append(("finish (annotate, get, exit)", now))
    rc = proc.wait()
    end = time.perf_counter()
    if rc != 0:
        raise BenchError(f"{' '.join(argv)} exited {rc}: {''.join(lines)[-2000:]}")
    steps: dict[str, float] = defaultdict(float)
    for (name, at), (_, nxt) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        steps[name] += nxt - at
    return end - t0, dict(steps)


def split_text(splits: list[dict[str, float]]) -> str:
    keys: list[str] = []
    for s in splits:
        keys += [k for k in s if k not in keys]
    parts = [
        f"{k} {statistics.median([s.get(k, 0.0) for s in splits]) * 1000:.0f} ms" for k in keys
    ]
    return "median split: " + ", ".join(parts)


def bench(env: Env, runs: int) -> list[Row]:
    env.namespace(NS)
    e = env.environ()

    def floor_docs(name: str) -> list[dict[str, object]]:
        return [d for d in yaml.safe_load_all(env.dry_run(NS, name)) if d]

    def apply_and_wait(docs: list[dict[str, object]], name: str) -> float:
        text = yaml.safe_dump_all(docs)
        return timed(
            lambda: (
                run(env.kubectl(NS, "apply", "-f", "-"), env=e, input=text),
                run(
                    env.kubectl(
                        NS, "wait", "--for=condition=Ready", f"pod/kodama-{name}", "--timeout=120s"
                    ),
                    env=e,
                ),
            )
        )

    # -- start ---------------------------------------------------------------------------------
    start_k: list[float] = []
    start_f: list[float] = []
    splits: list[dict[str, float]] = []
    before = load1()
    for i in range(runs + 1):  # round 0 is the warm-up
        kname, fname = f"k{i}", f"f{i}"
        docs = floor_docs(fname)
        wall, steps = timed_steps(env.kodama(NS, "start", kname), e, env.repo)
        floor = apply_and_wait(docs, fname)
        if i > 0:
            start_k.append(wall)
            start_f.append(floor)
            splits.append(steps)
        env.kk(NS, "delete", kname, "--yes")
        env.k(NS, "delete", "pod,pvc,secret", "-l", f"kodama.dev/session={fname}", "--wait=false")
    rows = [
        Row(
            name="start",
            what="`start` → Running (+ ship repo, launch agent)",
            unit="s",
            kodama=start_k,
            floor_what="`kubectl apply` + `kubectl wait`",
            floor=start_f,
            target=Target("ratio", 1.5, "≤ 1.5x apply+wait"),
            note=split_text(splits),
            load=(before, load1()),
        )
    ]

    # -- stop / resume on one session each -----------------------------------------------------
    env.kk(NS, "start", "life")
    pod_doc = [d for d in floor_docs("flife") if d.get("kind") == "Pod"]
    apply_and_wait(floor_docs("flife"), "flife")
    stop_k: list[float] = []
    stop_f: list[float] = []
    res_k: list[float] = []
    res_f: list[float] = []
    res_splits: list[dict[str, float]] = []
    before = load1()
    for i in range(runs + 1):
        sk, _ = timed_steps(env.kodama(NS, "stop", "life"), e, env.repo)
        sf = timed(
            lambda: run(env.kubectl(NS, "delete", "pod", "kodama-flife", "--wait=true"), env=e)
        )
        rk, rsteps = timed_steps(env.kodama(NS, "resume", "life"), e, env.repo)
        rf = apply_and_wait(pod_doc, "flife")
        if i > 0:
            stop_k.append(sk)
            stop_f.append(sf)
            res_k.append(rk)
            res_f.append(rf)
            res_splits.append(rsteps)
    load = (before, load1())
    rows += [
        Row(
            name="stop",
            what="`stop` (pod gone, PVCs kept)",
            unit="s",
            kodama=stop_k,
            floor_what="`kubectl delete pod --wait`",
            floor=stop_f,
            target=Target("ratio", 1.5, "≤ 1.5x (start's)"),
            load=load,
        ),
        Row(
            name="resume",
            what="`resume` → Running (+ ensure agent)",
            unit="s",
            kodama=res_k,
            floor_what="`kubectl apply` pod + `kubectl wait`",
            floor=res_f,
            target=Target("ratio", 1.5, "≤ 1.5x (start's)"),
            note=split_text(res_splits),
            load=load,
        ),
    ]
    return rows
