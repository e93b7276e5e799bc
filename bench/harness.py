"""Plumbing shared by the benchmarks: timing, the test control plane, machine facts, the table.

Every benchmark measures Kodama side by side with a floor (what a user gets from kubectl by
hand) in the same run, interleaving the two so that a load spike hits both alike.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEFAULT_KUBECONFIG = ROOT / ".testenv" / "kubeconfig"

# The stand-in agent of the cluster tests: the simulated node runs no image, exec runs on the host.
# Benchmarks start dozens of sessions: they go to the simulated node (tainted while the plane's
# real node, which holds a few pods on 2 cores, takes the default placement). Kind `claude`, as
# most users run: start registers the hooks, and the agent state follows the hook-written file
# (the editor benchmark writes it through the real hook to show "waiting for you").
STANDIN_AGENT = "sh -c 'while :; do sleep 3600; done'"
CONFIG_YAML = f"""\
image: busybox
nodeSelector:
  kubernetes.io/hostname: kodama-testenv-node
tolerations:
  - key: kodama.dev/simulated
    operator: Exists
    effect: NoSchedule
agent:
  command: "{STANDIN_AGENT}"
  kind: claude
sync:
  enabled: false
resources:
  cpu: 50m
  memory: 64Mi
storage:
  workspace: 1Gi
  claudeHome: 1Gi
timeout: 120
"""
# A nodeSelector no node has: the pod stays Pending, so `list` reads no agent state over exec.
NOWHERE = "kodama.dev/bench=nowhere"
MANAGED = "app.kubernetes.io/managed-by=kodama"


class BenchError(RuntimeError):
    pass


def bin_path(name: str) -> str:
    """The venv's console script when there is one (make bench puts it on PATH too)."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise BenchError(f"{name} not found (run through `make bench`)")
    return found


# -- timing ------------------------------------------------------------------------------------


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | bytes | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        input=data,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return proc


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_run(argv: Sequence[str], **kw: Any) -> float:
    return timed(lambda: run(argv, **kw))


def interleaved(
    pairs: Sequence[tuple[str, Callable[[], float]]],
    runs: int,
    warmup: int = 1,
) -> dict[str, list[float]]:
    """Call each measure function once per round (warm-up rounds dropped); seconds per label."""
    out: dict[str, list[float]] = {label: [] for label, _ in pairs}
    for i in range(warmup + runs):
        for label, fn in pairs:
            value = fn()
            if i >= warmup:
                out[label].append(value)
    return out


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def p95(values: Sequence[float]) -> float | None:
    """Nearest-rank 95th percentile (with 20 samples: the 19th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


# -- results -----------------------------------------------------------------------------------


@dataclass
class Target:
    """`ratio`: kodama/floor <= limit; `max`: kodama <= limit (in the row's unit)."""

    kind: str
    limit: float
    text: str


@dataclass
class Row:
    name: str
    what: str
    unit: str  # "s" | "MB"
    kodama: list[float]
    floor_what: str = ""
    floor: list[float] = field(default_factory=list)
    target: Target | None = None
    note: str = ""
    load: tuple[float, float] = (0.0, 0.0)  # 1-min load average before / after
    count: int | None = None  # samples behind kodama when it holds a summary (e.g. a median)
    group: str = ""  # the benchmark (cli, list, ...) that produced the row
    profile_argv: list[str] = field(default_factory=list)  # Kodama side, for --profile
    stat: str = "median"  # "median" | "p95": what `ours` (and a `max` target) is read from

    @property
    def kodama_median(self) -> float | None:
        return median(self.kodama)

    @property
    def kodama_value(self) -> float | None:
        """The summary the target is judged on: the median, or the p95 for latency targets."""
        return p95(self.kodama) if self.stat == "p95" else median(self.kodama)

    @property
    def floor_median(self) -> float | None:
        return median(self.floor)

    @property
    def ratio(self) -> float | None:
        k, f = self.kodama_median, self.floor_median
        return k / f if k is not None and f else None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.target.kind == "ratio":
            return None if self.ratio is None else self.ratio <= self.target.limit
        k = self.kodama_value
        return None if k is None else k <= self.target.limit

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            kodama_value=self.kodama_value,
            kodama_median=self.kodama_median,
            floor_median=self.floor_median,
            ratio=self.ratio,
            met=self.met,
        )
        return d


def fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "s":
        return f"{v * 1000:.0f} ms" if v < 10 else f"{v:.1f} s"
    return f"{v:.1f} {unit}"


def verdict(row: Row) -> str:
    return {True: "met", False: "**missed**", None: "—"}[row.met]


def table(rows: Sequence[Row]) -> str:
    head = "| target | ours | floor (median) | ratio | limit | met/missed | n | load 1m |"
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "—"
        floor = f"{fmt_value(r.floor_median, r.unit)} {r.floor_what}" if r.floor else "—"
        ours = fmt_value(r.kodama_value, r.unit)
        if r.stat != "median" and r.kodama:
            ours = f"{ours} ({r.stat}; median {fmt_value(r.kodama_median, r.unit)})"
        lines.append(
            f"| {r.what} | {ours} | {floor} | {ratio} | "
            f"{r.target.text if r.target else '—'} | {verdict(r)} | {r.count or len(r.kodama)} | "
            f"{r.load[0]:.1f}→{r.load[1]:.1f} |"
        )
    return "\n".join(lines)


# -- the machine -------------------------------------------------------------------------------


def _out(argv: Sequence[str]) -> str:
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine(kubeconfig: Path | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": _mem_total_gb(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kodama_commit": _out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "bytecode": "cached" if os.environ.get("PYTHONPYCACHEPREFIX") else "default",
        "kodama_dirty": bool(
            _out(["git", "-C", str(ROOT), "status", "--porcelain", "kodama", "lsp"])
        ),
    }
    raw = _out(
        ["kubectl", "version", "-o", "json"]
        + (["--kubeconfig", str(kubeconfig)] if kubeconfig else [])
    )
    try:
        v = json.loads(raw)
        facts["kubectl"] = v.get("clientVersion", {}).get("gitVersion")
        facts["kube_apiserver"] = v.get("serverVersion", {}).get("gitVersion")
    except ValueError:
        facts["kubectl"] = _out(["kubectl", "version", "--client"])
    # The test control plane's binaries are built from modules without version stamps
    # (kube-apiserver says v0.0.0-master): the build folder of the one serving us names them.
    facts["testenv_build"] = _apiserver_build(kubeconfig) if kubeconfig else None
    mutagen = shutil.which("mutagen") or os.environ.get("KODAMA_MUTAGEN")
    if mutagen:
        facts["mutagen"] = _out([mutagen, "version"])
    return facts


def _apiserver_build(kubeconfig: Path) -> str | None:
    """`k8s-vX_etcd-vY_…` of the kube-apiserver process listening on the kubeconfig's port."""
    m = re.search(r"server:\s*https://[^:]+:(\d+)", kubeconfig.read_text())
    if not m:
        return None
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv[0].endswith("kube-apiserver") and m.group(1) in argv:
            return Path(argv[0]).parent.parent.name
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['cores']} cores ({m.get('cpu')}), {m.get('memory_gb')} GB, load {m['load_average']}, "
        f"Python {m['python']}, kubectl {m.get('kubectl')}, "
        f"control plane {m.get('testenv_build') or m.get('kube_apiserver')}, "
        f"Kodama {m.get('kodama_commit')}{' (+uncommitted)' if m.get('kodama_dirty') else ''}"
    )


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


# -- the test control plane --------------------------------------------------------------------


@dataclass
class Env:
    """A throwaway KODAMA_HOME with the stand-in agent, a git checkout, and the kube flags."""

    kubeconfig: Path
    work: Path
    namespaces: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.work / "kodama-home"

    @property
    def repo(self) -> Path:
        return self.work / "repo"

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "KUBECONFIG"):
            env.pop(key, None)
        env["KODAMA_HOME"] = str(self.home)
        env["KUBECACHEDIR"] = str(self.work / "kube-cache")
        return env

    def kodama(self, ns: str, *args: str) -> list[str]:
        return [bin_path("kubectl-kodama"), "--kubeconfig", str(self.kubeconfig), "-n", ns, *args]

    def kubectl(self, ns: str | None, *args: str) -> list[str]:
        base = ["kubectl", "--kubeconfig", str(self.kubeconfig)]
        return [*base, *(["-n", ns] if ns else []), *args]

    def k(self, ns: str | None, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
        return run(self.kubectl(ns, *args), env=self.environ(), cwd=self.repo, **kw)

    def kk(self, ns: str, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
        return run(self.kodama(ns, *args), env=self.environ(), cwd=self.repo, **kw)

    def namespace(self, ns: str) -> str:
        """Create (or recreate) a namespace under the `restricted` Pod Security Standard."""
        self.k(None, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=300)
        self.k(None, "create", "namespace", ns)
        self.k(None, "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
        self.namespaces.append(ns)
        return ns

    def reuse(self, ns: str, count: int, phase: str) -> bool:
        """With --keep, a namespace left by an earlier run is used again when it holds exactly
        `count` session pods in `phase` (saves minutes of setup while iterating)."""
        proc = self.k(None, "get", "pods", "-n", ns, "-l", MANAGED, "-o", "json", check=False)
        if proc.returncode != 0:
            return False
        items = json.loads(proc.stdout).get("items", [])
        ok = len(items) == count and all(i.get("status", {}).get("phase") == phase for i in items)
        if ok and ns not in self.namespaces:
            self.namespaces.append(ns)
        return ok

    def dry_run(self, ns: str, name: str, *extra: str) -> str:
        return self.kk(ns, "start", name, "--dry-run", "-o", "yaml", *extra).stdout.decode()

    def cleanup(self) -> None:
        for ns in self.namespaces:
            run(
                self.kubectl(None, "delete", "namespace", ns, "--wait=false", "--ignore-not-found"),
                env=self.environ(),
                check=False,
            )


@contextmanager
def bench_env(kubeconfig: Path, keep: bool = False) -> Iterator[Env]:
    work = Path(tempfile.mkdtemp(prefix="kodama-bench-"))
    env = Env(kubeconfig=kubeconfig, work=work)
    env.home.mkdir()
    (env.home / "config.yaml").write_text(CONFIG_YAML)
    make_repo(env.repo)
    try:
        yield env
    finally:
        if not keep:
            env.cleanup()
            shutil.rmtree(work, ignore_errors=True)


def make_repo(path: Path) -> None:
    path.mkdir(parents=True)
    git = ["git", "-C", str(path)]
    run(["git", "init", "-q", "-b", "main", str(path)])
    run([*git, "config", "user.email", "bench@example.com"])
    run([*git, "config", "user.name", "Bench"])
    (path / "README.md").write_text("bench\n")
    run([*git, "add", "."])
    run([*git, "commit", "-qm", "init"])


def load1() -> float:
    return os.getloadavg()[0]
