"""One-shot `sync push` / `sync pull`: a tar stream over `kubectl exec -i`, for people without
mutagen. Same excludes as the live sync (VCS folders, git-ignored files, `sync.exclude`).
Files are added or overwritten on the receiving side; nothing there is deleted.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .errors import KodamaError, RemoteCommandFailed
from .runtime import PodContext
from .sync_ignore import filter_incoming, local_files

# $1 is a path relative to the workspace ("" = all of it).
_RECEIVE = 'set -e\ncd "$KODAMA_WORKSPACE"\nexec tar -xf -'
_SEND = 'set -e\ncd "$KODAMA_WORKSPACE"\nexec tar -cf - --exclude=.git -- "${1:-.}"'


def _check(proc: subprocess.Popen[bytes], what: str) -> None:
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = proc.wait()
    if code != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raise RemoteCommandFailed(f"{what} failed: {lines[-1] if lines else code}", code)


def push(ctx: PodContext, root: Path, sub: str = "", excludes: list[str] | None = None) -> int:
    """Local checkout (or root/sub) -> workspace. Returns the number of files sent."""
    files = local_files(root, sub, excludes or [])
    if not files:
        return 0
    argv = ctx.kubectl.script_argv(ctx.pod, _RECEIVE, stdin=True)
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None
    try:
        with tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for rel in files:
                info = tar.gettarinfo(str(root / rel), arcname=rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with (root / rel).open("rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
    except BrokenPipeError:
        pass  # the pod side failed; its stderr says why
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    _check(proc, "sync push")
    return len(files)


def pull(ctx: PodContext, root: Path, sub: str = "", excludes: list[str] | None = None) -> int:
    """Workspace (or its sub path) -> local checkout. Returns the number of files written."""
    argv = ctx.kubectl.script_argv(ctx.pod, _SEND, [sub])
    with tempfile.TemporaryDirectory(prefix="kodama-pull-") as tmp:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                tar.extractall(tmp, filter="data")
        except tarfile.TarError as exc:
            proc.kill()
            _check(proc, "sync pull")
            raise KodamaError(f"sync pull: bad archive from the pod: {exc}") from None
        _check(proc, "sync pull")
        base = Path(tmp)
        names = [
            p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file() or p.is_symlink()
        ]
        names = [n[2:] if n.startswith("./") else n for n in names]
        keep = filter_incoming(root, names, excludes or [])
        for rel in keep:
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_dir() and not dest.is_symlink():
                raise KodamaError(f"sync pull: {rel} is a folder locally and a file in the pod")
            with contextlib.suppress(FileNotFoundError):
                if dest.is_symlink():
                    dest.unlink()
            shutil.move(str(base / rel), str(dest))
        return len(keep)
