"""One-shot `sync push` / `sync pull`: a tar stream over `kubectl exec -i`, for people without
mutagen. Same excludes as the live sync (VCS folders, git-ignored files, `sync.exclude`).
Files are added or overwritten on the receiving side; nothing there is deleted.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from kodama import proc
from kodama.errors import KodamaError, RemoteCommandFailed
from kodama.events import CancelToken
from kodama.k8s.kubectl import meaningful
from kodama.k8s.runtime import PodContext
from kodama.sync.ignore import filter_incoming, is_git_dir_name, local_files

# $1 is a path relative to the workspace ("" = all of it).
_RECEIVE = 'set -e\ncd "$KODAMA_WORKSPACE"\nexec tar -xf -'
_SEND = 'set -e\ncd "$KODAMA_WORKSPACE"\nexec tar -cf - --exclude=.git -- "${1:-.}"'


# One-shot copies of a whole workspace can be large, but never take this long on a live link.
COPY_TIMEOUT = 1800.0


def _failed(code: int, err: bytes, what: str) -> RemoteCommandFailed:
    lines = meaningful(err)
    return RemoteCommandFailed(f"{what} failed: {lines[-1] if lines else code}", code)


def push(
    ctx: PodContext,
    root: Path,
    sub: str = "",
    excludes: list[str] | None = None,
    *,
    cancel: CancelToken | None = None,
    timeout: float | None = COPY_TIMEOUT,
) -> int:
    """Local checkout (or root/sub) -> workspace. Returns the number of files sent."""
    files = local_files(root, sub, excludes or [])
    if not files:
        return 0
    token = cancel or CancelToken()

    def write(stream: IO[bytes]) -> None:
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for rel in files:
                token.check()
                info = tar.gettarinfo(str(root / rel), arcname=rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with (root / rel).open("rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)

    argv = ctx.kubectl.script_argv(ctx.pod, _RECEIVE, stdin=True)
    done = proc.run(argv, cancel=token, timeout=timeout, what="sync push", write=write)
    if done.returncode != 0:
        raise _failed(done.returncode, done.stderr, "sync push")
    return len(files)


def pull(
    ctx: PodContext,
    root: Path,
    sub: str = "",
    excludes: list[str] | None = None,
    *,
    force: bool = False,
    cancel: CancelToken | None = None,
    timeout: float | None = COPY_TIMEOUT,
) -> int:
    """Workspace (or its sub path) -> local checkout. Returns the number of files written.

    What comes from the pod is untrusted (the agent may have been talked into anything): nothing
    lands in `.git` however it is spelled, nothing is written through a local symbolic link, and
    local uncommitted changes are not overwritten unless `force`.
    """
    argv = ctx.kubectl.script_argv(ctx.pod, _SEND, [sub])
    with (
        tempfile.TemporaryDirectory(prefix="kodama-pull-") as tmp,
        tempfile.TemporaryFile() as err,
    ):
        child = proc.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert child.stdout is not None
        bad: str | None = None
        with proc.Guard(child, cancel or CancelToken(), timeout, "sync pull"):
            try:
                with tarfile.open(fileobj=child.stdout, mode="r|") as tar:
                    tar.extractall(tmp, filter="data")
            except tarfile.TarError as exc:
                bad = str(exc)
                proc.kill(child)
            code = child.wait()
        err.seek(0)
        if bad is not None:  # the pod's own error, if it said one, explains the bad stream
            why = _failed(code, err.read(), "sync pull").message if code > 0 else ""
            raise KodamaError(why or f"sync pull: bad archive from the pod: {bad}")
        if code != 0:
            raise _failed(code, err.read(), "sync pull")
        base = Path(tmp)
        names = [
            p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file() or p.is_symlink()
        ]
        names = [n[2:] if n.startswith("./") else n for n in names]
        for rel in names:
            problem = incoming_problem(rel, base)
            if problem:
                raise KodamaError(f"sync pull: refusing {rel!r} from the pod: {problem}")
            _check_destination(root, rel)
        keep = filter_incoming(root, names, excludes or [])
        if not force:
            clobbered = overwritten_changes(root, base, keep)
            if clobbered:
                shown = ", ".join(clobbered[:10]) + (" ..." if len(clobbered) > 10 else "")
                raise KodamaError(
                    f"sync pull would overwrite uncommitted local changes in "
                    f"{len(clobbered)} file(s): {shown}",
                    hint="commit or stash them first, or pass --force to overwrite them",
                )
        for rel in keep:
            dest = root / rel
            # Again, right before writing: a link pulled earlier in this loop counts too.
            _check_destination(root, rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_dir() and not dest.is_symlink():
                raise KodamaError(f"sync pull: {rel} is a folder locally and a file in the pod")
            with contextlib.suppress(FileNotFoundError):
                if dest.is_symlink():
                    dest.unlink()
            shutil.move(str(base / rel), str(dest))
        return len(keep)


def incoming_problem(rel: str, base: Path) -> str | None:
    """Why a path pulled from the pod must not be written locally (None: it may)."""
    if any(is_git_dir_name(part) for part in rel.split("/")):
        return "it would land in .git on a case-insensitive or normalising file system"
    link = base / rel
    if link.is_symlink():
        target = os.path.normpath(os.path.join(os.path.dirname(rel), os.readlink(link)))
        if target.startswith("../") or target == ".." or os.path.isabs(target):
            return "it is a link out of the checkout"
        if any(is_git_dir_name(part) for part in target.split("/")):
            return "it is a link into .git"
    return None


def _check_destination(root: Path, rel: str) -> None:
    """The folder a file goes to, with local links followed, is in the checkout and not .git."""
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(root / rel))
    inside = os.path.relpath(parent, real_root)
    if inside == ".." or inside.startswith("../") or os.path.isabs(inside):
        raise KodamaError(f"sync pull: refusing {rel!r}: a local link leads out of the checkout")
    if any(is_git_dir_name(part) for part in inside.split("/")):
        raise KodamaError(f"sync pull: refusing {rel!r}: a local link leads into .git")


def overwritten_changes(root: Path, base: Path, keep: list[str]) -> list[str]:
    """Files of `keep` whose local copy has uncommitted changes and differs from the pod's."""
    proc = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain=v1", "-z", "--no-renames", "-uall"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:  # not a repository: every differing file is a local change
        dirty = None
    else:
        dirty = {e[3:] for e in proc.stdout.decode(errors="replace").split("\0") if len(e) > 3}
    out = []
    for rel in keep:
        local, incoming = root / rel, base / rel
        if not os.path.lexists(local) or (dirty is not None and rel not in dirty):
            continue
        if not _same(local, incoming):
            out.append(rel)
    return sorted(out)


def _same(a: Path, b: Path) -> bool:
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False
