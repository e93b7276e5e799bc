"""mutagen's `ssh` and `scp`, turned into `kubectl exec -i` into a session's pod.

Mutagen has no Kubernetes transport, but its SSH transport runs whatever `ssh`/`scp` it finds in
MUTAGEN_SSH_PATH. Kodama's daemon points that at two tiny scripts which land here. The "host"
mutagen passes is `<name>.<namespace>.kodama` (dots cannot occur in either DNS label, so it splits
unambiguously); the session's record under KODAMA_HOME says which kubeconfig, context, pod and
container to exec into. Nothing runs in the pod but `sh`, `cat` and the mutagen agent itself.

Mutagen starts a shim for every connection (and three more to install its agent), and a sync
waits for it: this module imports only the standard library, yaml, kubectl.py and manifests'
names, not the models or the store (pydantic alone costs 5 times the rest of a shim's start-up). It reads the record
file itself, in the layout kodama.store writes (tests/unit/test_sync.py holds the two together).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kodama.home import SAFE_LABEL, kodama_home, load_record_file
from kodama.k8s.kubectl import Kubectl
from kodama.k8s.manifests import CONTAINER

HOST_SUFFIX = ".kodama"

# Options of OpenSSH's ssh and scp that take a value (everything else is a flag we ignore).
_SSH_VALUE_OPTS = frozenset("BbcDEeFIiJLlmOopQRSWw")
_SCP_VALUE_OPTS = frozenset("cDFiJloPSX")

# sshd runs a command with the user's shell in HOME; mutagen relies on both (the agent path
# it invokes, and the destination of its scp, are relative to HOME).
SSH_SCRIPT = 'cd "$HOME" || exit 255\nexec sh -c "$1"'
SCP_SCRIPT = (
    'set -e\ncd "$HOME"\ncase "$1" in */*) mkdir -p "${1%/*}" ;; esac\n'
    'cat > "$1.kodama-tmp"\nchmod 755 "$1.kodama-tmp"\nmv -f "$1.kodama-tmp" "$1"'
)


class ShimError(Exception):
    pass


def host_for(namespace: str, name: str) -> str:
    return f"{name}.{namespace}{HOST_SUFFIX}"


def parse_host(host: str) -> tuple[str, str]:
    """`name.ns.kodama` -> (namespace, name)."""
    user, _, bare = host.rpartition("@")
    del user
    if not bare.endswith(HOST_SUFFIX):
        raise ShimError(f"{host!r} is not a Kodama host (expected NAME.NAMESPACE{HOST_SUFFIX})")
    parts = bare[: -len(HOST_SUFFIX)].split(".")
    if len(parts) != 2 or not all(parts):
        raise ShimError(f"{host!r} is not a Kodama host (expected NAME.NAMESPACE{HOST_SUFFIX})")
    return parts[1], parts[0]


def split_options(args: list[str], with_value: frozenset[str]) -> tuple[dict[str, str], list[str]]:
    """getopt-style scan: `-C -oX=Y -p 22 host cmd...` -> ({C:'', o:'X=Y', p:'22'}, [host, cmd])."""
    opts: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            flag = arg[j]
            if flag in with_value:
                if j + 1 < len(arg):
                    opts[flag] = arg[j + 1 :]
                else:
                    i += 1
                    if i >= len(args):
                        raise ShimError(f"option -{flag} needs a value")
                    opts[flag] = args[i]
                break
            opts[flag] = ""
            j += 1
        i += 1
    return opts, args[i:]


@dataclass(frozen=True)
class SshCall:
    host: str
    command: str


@dataclass(frozen=True)
class ScpCall:
    source: str
    host: str
    path: str


def parse_ssh(args: list[str]) -> SshCall:
    _, rest = split_options(args, _SSH_VALUE_OPTS)
    if not rest:
        raise ShimError("no host given")
    command = " ".join(rest[1:])
    if not command.strip():
        raise ShimError("interactive logins are not supported; pass a command")
    return SshCall(rest[0], command)


def _is_remote(spec: str) -> bool:
    head = spec.split("/", 1)[0]
    return ":" in head


def parse_scp(args: list[str]) -> ScpCall:
    _, rest = split_options(args, _SCP_VALUE_OPTS)
    if len(rest) != 2:
        raise ShimError("only `scp [OPTIONS] LOCAL_FILE HOST:PATH` is supported")
    source, dest = rest
    if _is_remote(source) or not _is_remote(dest):
        raise ShimError("only copies from a local file to the pod are supported")
    host, _, path = dest.partition(":")
    if path.startswith("~/"):
        path = path[2:]
    if not path or path.endswith("/"):
        raise ShimError(f"a destination file name is needed, got {dest!r}")
    return ScpCall(source, host, path)


@dataclass(frozen=True)
class Target:
    kubectl: Kubectl
    pod: str
    container: str
    kubeconfig_env: str | None = None  # KUBECONFIG when `sync start` ran without --kubeconfig


def sync_record(home: Path, namespace: str, name: str) -> dict[str, Any] | None:
    """The `sync` part of the session's file while sync is on (Store.read's answer, in the
    file's own layout): `<name>.yaml`, or `<name>.<namespace>.yaml` when another namespace's
    session of that name had the first."""
    if not (SAFE_LABEL.match(namespace) and SAFE_LABEL.match(name)):
        return None  # never a path outside the sessions folder
    folder = home / "sessions"
    for path in (folder / f"{name}.yaml", folder / f"{name}.{namespace}.yaml"):
        data = load_record_file(path)
        if data is not None and data.get("namespace") == namespace:
            sync = data.get("sync")
            return sync if isinstance(sync, dict) and sync.get("enabled") else None
    return None


def resolve(host: str, home: Path | None = None) -> Target:
    namespace, name = parse_host(host)
    sync = sync_record(home or kodama_home(), namespace, name)
    if not isinstance(sync, dict) or not sync.get("pod"):
        raise ShimError(
            f"no sync record for session {name} in namespace {namespace} "
            f"(run `kubectl kodama sync start {name}`)"
        )
    return Target(
        Kubectl(namespace, sync.get("kubeconfig"), sync.get("context")),
        str(sync["pod"]),
        str(sync.get("container") or CONTAINER),
        sync.get("kubeconfigEnv") or None,
    )


def ssh_argv(call: SshCall, target: Target) -> list[str]:
    return target.kubectl.script_argv(
        target.pod, SSH_SCRIPT, [call.command], stdin=True, container=target.container
    )


def scp_argv(call: ScpCall, target: Target) -> list[str]:
    return target.kubectl.script_argv(
        target.pod, SCP_SCRIPT, [call.path], stdin=True, container=target.container
    )


def _apply_env(target: Target) -> None:
    # The daemon's environment is whoever started it first; the session's own wins.
    if target.kubeconfig_env:
        os.environ["KUBECONFIG"] = target.kubeconfig_env


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("ssh", "scp"):
        print("usage: python -m kodama.sync.shims ssh|scp ARGS...", file=sys.stderr)
        return 2
    kind, rest = args[0], args[1:]
    try:
        if kind == "ssh":
            ssh = parse_ssh(rest)
            target = resolve(ssh.host)
            _apply_env(target)
            cmd = ssh_argv(ssh, target)
            # Replace this process: mutagen talks to kubectl's stdin/stdout directly and sees
            # the remote exit code (127 = agent not installed yet) exactly as ssh reports it.
            os.execvp(cmd[0], cmd)
        scp = parse_scp(rest)
        target = resolve(scp.host)
        _apply_env(target)
        cmd = scp_argv(scp, target)
        source = Path(scp.source)
        import subprocess

        try:
            with source.open("rb") as fh:
                return subprocess.run(cmd, stdin=fh, check=False).returncode
        except OSError as exc:
            raise ShimError(f"cannot read {source}: {exc.strerror}") from None
    except ShimError as exc:
        print(f"kodama-{kind}: {exc}", file=sys.stderr)
        return 255
    except OSError as exc:  # kubectl missing
        print(f"kodama-{kind}: cannot run kubectl: {exc.strerror}", file=sys.stderr)
        return 255
