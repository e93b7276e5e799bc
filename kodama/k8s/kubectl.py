"""The only module that builds kubectl command lines (exec, attach, shims).

Every command line carries the session's --kubeconfig/--context/-n so a subprocess talks to
exactly the cluster the engine talks to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from kodama.errors import ClusterError, KodamaError, RemoteCommandFailed
from kodama.k8s.manifests import CONTAINER

# kubectl's own diagnostics, which mean nothing to a Kodama user: klog lines such as
# "E1130 05:14:47.123456   4242 websocket.go:296] Unknown stream id 1, discarding message" and
# exec's "command terminated with exit code N" (the exit code itself is passed through).
_KLOG = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+\s+[\w./-]+:\d+\] ")
_TERMINATED = re.compile(r"^command terminated with exit code \d+\s*$")


def is_kubectl_noise(line: str) -> bool:
    return bool(_KLOG.match(line) or _TERMINATED.match(line))


def meaningful(stderr: bytes | str) -> list[str]:
    """The lines of a kubectl's stderr a user should see (the remote command's own, mostly)."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    return [ln for ln in text.splitlines() if ln.strip() and not is_kubectl_noise(ln)]


@dataclass
class StderrFilter:
    """Reads a child's stderr in a thread: kubectl's noise is dropped, other lines are kept and,
    when `forward` is given (the CLI's stderr), passed on as they come."""

    stream: IO[bytes]
    forward: IO[bytes] | None = None
    kept: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode(errors="replace")
            if is_kubectl_noise(line.rstrip("\r\n")):
                continue
            self.kept.append(line.rstrip("\r\n"))
            if self.forward is not None:
                self.forward.write(raw)
                self.forward.flush()

    def join(self) -> list[str]:
        self._thread.join()
        return self.kept


def kubectl_binary() -> str:
    return os.environ.get("KODAMA_KUBECTL") or shutil.which("kubectl") or "kubectl"


def client_version() -> tuple[str | None, str]:
    """(kubectl's client version or None when it does not run, the binary used)."""
    import json

    binary = kubectl_binary()
    try:
        proc = subprocess.run(
            [binary, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        info = json.loads(proc.stdout).get("clientVersion") or {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None, binary
    return (str(info.get("gitVersion")) if info.get("gitVersion") else None), binary


@dataclass(frozen=True)
class Kubectl:
    namespace: str
    kubeconfig: str | None = None
    context: str | None = None

    def base(self) -> list[str]:
        argv = [kubectl_binary()]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        if self.context:
            argv += ["--context", self.context]
        argv += ["-n", self.namespace]
        return argv

    def exec_argv(
        self,
        pod: str,
        command: Sequence[str],
        *,
        stdin: bool = False,
        tty: bool = False,
        container: str = CONTAINER,
    ) -> list[str]:
        argv = [*self.base(), "exec"]
        if stdin:
            argv.append("-i")
        if tty:
            argv.append("-t")
        argv += [pod, "-c", container, "--", *command]
        return argv

    def script_argv(
        self,
        pod: str,
        script: str,
        args: Sequence[str] = (),
        *,
        stdin: bool = False,
        container: str = CONTAINER,
    ) -> list[str]:
        """Run a POSIX shell script in the pod: `sh -c SCRIPT kodama ARGS...`."""
        return self.exec_argv(
            pod, ["sh", "-c", script, "kodama", *args], stdin=stdin, container=container
        )

    def run(
        self,
        argv: list[str],
        *,
        input: bytes | None = None,
        timeout: float | None = 300,
        check: bool = True,
        what: str = "command in the pod",
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            proc = subprocess.run(
                argv,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise ClusterError(
                "kubectl not found", hint="install kubectl or set KODAMA_KUBECTL"
            ) from None
        except subprocess.TimeoutExpired:
            raise KodamaError(f"{what} timed out after {timeout:g}s") from None
        if check and proc.returncode != 0:
            err = meaningful(proc.stderr)
            last = err[-1] if err else f"exit code {proc.returncode}"
            raise RemoteCommandFailed(f"{what} failed: {last}", proc.returncode)
        return proc
