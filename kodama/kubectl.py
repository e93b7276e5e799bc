"""The only module that builds kubectl command lines (exec, attach, shims).

Every command line carries the session's --kubeconfig/--context/-n so a subprocess talks to
exactly the cluster the engine talks to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ClusterError, KodamaError, RemoteCommandFailed
from .manifests import CONTAINER


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
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            last = err[-1] if err else f"exit code {proc.returncode}"
            raise RemoteCommandFailed(f"{what} failed: {last}", proc.returncode)
        return proc
