"""File-sync numbers: propagation latency (each direction) and the initial sync of a big tree.

    python bench/sync_bench.py                   # on the test control plane (.testenv/kubeconfig)
    python bench/sync_bench.py --fake            # no cluster: a stand-in kubectl execs locally
    python bench/sync_bench.py --edits 20 --files 5000 --json out.json

Both modes run the real mutagen through Kodama's ssh/scp shims. On the test control plane,
`kubectl exec` is a local process with the workspace in a host folder, which lets the bench
watch the pod's files directly instead of polling through exec (that would add its own
latency). Not meant for real clusters.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
AGENT = "sh -c 'while :; do sleep 3600; done'"


def find_mutagen() -> str:
    found = os.environ.get("KODAMA_MUTAGEN") or shutil.which("mutagen")
    built = sorted(glob.glob(os.path.expanduser("~/.cache/kodama-testenv/*/bin/mutagen")))
    if not found and built:
        found = built[-1]
    if not found:
        sys.exit("mutagen not found: set KODAMA_MUTAGEN or put it on PATH")
    return found


def wait(check: Callable[[], bool], timeout: float = 120) -> float:
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("gave up waiting")
        time.sleep(0.005)
    return time.monotonic() - t0


def has(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except OSError:
        return False


def make_tree(root: Path, files: int) -> None:
    per_dir = 100
    for i in range(files):
        d = root / "tree" / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.txt").write_text(f"file {i}\n" + "x" * 1000)


class Harness:
    """Runs Kodama and knows where the pod's workspace is on this host."""

    def __init__(self, work: Path, mutagen: str) -> None:
        self.work = work
        self.repo = work / "repo"
        self.home = work / "kh"
        self.home.mkdir()
        self.env = dict(os.environ, KODAMA_HOME=str(self.home), KODAMA_MUTAGEN=mutagen)
        self.env["KUBECACHEDIR"] = str(work / "kube-cache")
        self.repo.mkdir()
        for args in (
            ["init", "-q", "-b", "main"],
            ["config", "user.email", "b@example.com"],
            ["config", "user.name", "Bench"],
        ):
            subprocess.run(["git", "-C", str(self.repo), *args], check=True)
        (self.repo / "README.md").write_text("bench\n")
        subprocess.run(["git", "-C", str(self.repo), "add", "."], check=True)
        subprocess.run(["git", "-C", str(self.repo), "commit", "-qm", "init"], check=True)
        self.workspace = Path()

    def start_session(self) -> None: ...
    def start_sync(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class ClusterHarness(Harness):
    def __init__(self, work: Path, mutagen: str, kubeconfig: str) -> None:
        super().__init__(work, mutagen)
        self.kubeconfig = kubeconfig
        self.ns = f"kodama-bench-{uuid.uuid4().hex[:6]}"
        (self.home / "config.yaml").write_text(
            # The simulated node (host exec): the sync benchmark measures Kodama and mutagen,
            # not the real node's 2 cores.
            f'image: busybox\nagent:\n  command: "{AGENT}"\n  kind: other\n'
            "nodeSelector:\n  kubernetes.io/hostname: kodama-testenv-node\n"
            "tolerations:\n- {key: kodama.dev/simulated, operator: Exists, effect: NoSchedule}\n"
            "resources:\n  cpu: 100m\n  memory: 128Mi\n"
        )
        self.kubectl("create", "namespace", self.ns)

    def kubectl(self, *args: str) -> str:
        return subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def kodama(self, *args: str) -> str:
        exe = Path(sys.executable).parent / "kubectl-kodama"
        proc = subprocess.run(
            [str(exe), "--kubeconfig", self.kubeconfig, "-n", self.ns, *args],
            cwd=self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"kodama {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def start_session(self) -> None:
        self.kodama("start", "bench", "--no-sync")
        path = self.kodama("attach", "bench", "--", "sh", "-c", 'printf %s "$KODAMA_WORKSPACE"')
        self.workspace = Path(path.strip())
        if not self.workspace.is_dir():
            sys.exit(
                f"{self.workspace} is not on this host: the bench needs the test control plane"
            )

    def start_sync(self) -> None:
        self.kodama("sync", "start", "bench")

    def flush(self) -> None:
        self.kodama("sync", "flush", "bench")

    def close(self) -> None:
        try:
            self.kodama("delete", "bench", "--yes")
        finally:
            self.kubectl("delete", "namespace", self.ns, "--wait=false")


class FakeHarness(Harness):
    """The engine in this process, kubectl the tests' fake (tests/fixtures/fake_kubectl.py)."""

    def __init__(self, work: Path, mutagen: str) -> None:
        super().__init__(work, mutagen)
        sys.path.insert(0, str(REPO))
        from kodama.store import Store
        from tests.fixtures import fake_kubectl

        pod = work / "pod"
        (pod / "home").mkdir(parents=True)
        self.workspace = pod / "workspace"
        self.workspace.mkdir()
        kubectl = fake_kubectl.install(work)
        self.env.update(KODAMA_KUBECTL=str(kubectl), FAKE_POD_ROOT=str(pod))
        os.environ.update(self.env)  # the engine runs in this process
        self.store = Store()

    def start_sync(self) -> None:
        from kodama.events import CancelToken, Reporter
        from kodama.sync import session as sync
        from tests.fixtures.specs import pod_context

        ctx = pod_context(self.repo, name="bench", namespace="bench")
        sync.start(ctx, self.store, Reporter(lambda e: None, "bench"), CancelToken())

    def flush(self) -> None:
        from kodama.sync import session as sync

        sync.control(self.store, "bench", "bench", "flush")

    def close(self) -> None:
        from kodama.sync import session as sync

        sync.stop(self.store, "bench", "bench")


def run(h: Harness, edits: int, files: int) -> dict[str, Any]:
    h.start_session()
    make_tree(h.repo, files)  # untracked: only the sync can carry it into the pod
    t0 = time.monotonic()
    h.start_sync()
    created = time.monotonic() - t0
    last = h.workspace / "tree" / f"d{(files - 1) // 100:03d}" / f"f{files - 1:05d}.txt"
    wait(lambda: last.exists(), timeout=1800)
    h.flush()
    initial = time.monotonic() - t0
    count = sum(1 for _ in (h.workspace / "tree").rglob("*.txt"))
    to_pod, to_local = [], []
    for i in range(edits):
        text = f"local edit {i} {uuid.uuid4()}\n"
        (h.repo / "edit.txt").write_text(text)
        t = time.monotonic()
        wait(lambda text=text: has(h.workspace / "edit.txt", text))  # type: ignore[misc]
        to_pod.append(time.monotonic() - t)
        time.sleep(0.3)
        text = f"pod edit {i} {uuid.uuid4()}\n"
        (h.workspace / "edit.txt").write_text(text)
        t = time.monotonic()
        wait(lambda text=text: has(h.repo / "edit.txt", text))  # type: ignore[misc]
        to_local.append(time.monotonic() - t)
        time.sleep(0.3)

    def summary(xs: list[float]) -> dict[str, float]:
        return {
            "median_s": round(statistics.median(xs), 3),
            "min_s": round(min(xs), 3),
            "max_s": round(max(xs), 3),
        }

    return {
        "files": files,
        "files_in_pod": count,
        "sync_start_s": round(created, 2),
        "initial_sync_s": round(initial, 2),
        "local_to_pod": summary(to_pod),
        "pod_to_local": summary(to_local),
        "edits": edits,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fake", action="store_true", help="no cluster: a stand-in kubectl")
    ap.add_argument("--kubeconfig", default=str(REPO / ".testenv" / "kubeconfig"))
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    args = ap.parse_args()
    mutagen = find_mutagen()
    work = Path(tempfile.mkdtemp(prefix="ksb-"))
    h: Harness
    if args.fake:
        h = FakeHarness(work, mutagen)
    else:
        if not Path(args.kubeconfig).is_file():
            sys.exit(f"{args.kubeconfig} not found: `make testenv-up`, or use --fake")
        h = ClusterHarness(work, mutagen, args.kubeconfig)
    try:
        result = run(h, args.edits, args.files)
    finally:
        h.close()
        shutil.rmtree(work, ignore_errors=True)
    result["mode"] = "fake-kubectl" if args.fake else "test control plane"
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
