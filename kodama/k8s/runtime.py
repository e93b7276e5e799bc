"""Run-time work inside a session pod, always through `kubectl exec` (never entrypoints).

The pod spec sets HOME, KODAMA_WORKSPACE and KODAMA_SECRETS; in-pod scripts use only those.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kodama.k8s.kubectl import Kubectl
from kodama.models import SessionSpec


@dataclass
class PodContext:
    kubectl: Kubectl
    pod: str
    spec: SessionSpec
    local_path: Path | None = None

    def run(
        self,
        command: Sequence[str],
        *,
        input: bytes | None = None,
        check: bool = True,
        timeout: float | None = 300,
        what: str = "command in the pod",
    ) -> subprocess.CompletedProcess[bytes]:
        argv = self.kubectl.exec_argv(self.pod, list(command), stdin=input is not None)
        return self.kubectl.run(argv, input=input, check=check, timeout=timeout, what=what)

    def script(
        self,
        script: str,
        args: Sequence[str] = (),
        *,
        input: bytes | None = None,
        check: bool = True,
        timeout: float | None = 300,
        what: str = "script in the pod",
    ) -> subprocess.CompletedProcess[bytes]:
        argv = self.kubectl.script_argv(self.pod, script, args, stdin=input is not None)
        return self.kubectl.run(argv, input=input, check=check, timeout=timeout, what=what)
