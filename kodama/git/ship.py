"""What `start` ships into an empty workspace: a git bundle plus the uncommitted changes.

The parts are written to a temporary folder and streamed to the pod as one tar, so a large
repository is never held in memory (it used to be, three times over).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from kodama.errors import KodamaError


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False, timeout=600
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise KodamaError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout


class Shipment:
    """A built payload: write(stream) sends a tar of repo.bundle (branches, HEAD, the base),
    dirty.tar and deleted (the uncommitted changes, when the base is HEAD); close() removes it.
    """

    def __init__(self, parts: Path, summary: str) -> None:
        self.parts = parts
        self.summary = summary
        # The git name and email of the pod's commits, when looked up with the build.
        self.identity: tuple[str, str] | None = None

    def write(self, stream: IO[bytes]) -> None:
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name in ("repo.bundle", "dirty.tar", "deleted"):
                path = self.parts / name
                if path.exists():
                    info = tar.gettarinfo(str(path), arcname=name)
                    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                    with path.open("rb") as fh:
                        tar.addfile(info, fh)

    def close(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)


def build(root: Path, base_commit: str, base_ref: str | None, *, ignored: bool = False) -> Shipment:
    """Build what `start` ships (start builds it while its pod is being scheduled and started,
    so that once the pod is Ready only the stream is left)."""
    parts = Path(tempfile.mkdtemp(prefix="kodama-ship-"))
    try:
        refs = ["--branches", "HEAD"]
        full = ""
        if base_ref:
            proc = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--symbolic-full-name", base_ref],
                capture_output=True,
                text=True,
                check=False,
            )
            full = proc.stdout.strip() if proc.returncode == 0 else ""
        if full.startswith("refs/") and not full.startswith("refs/heads/"):
            refs.append(full)
        _git(root, "bundle", "create", "-q", str(parts / "repo.bundle"), *refs)
        summary = f"bundle {(parts / 'repo.bundle').stat().st_size / 1e6:.1f} MB"
        if _git(root, "rev-parse", "HEAD").strip() == base_commit:
            count, deleted = _dirty(root, parts / "dirty.tar", ignored=ignored)
            if not count:
                (parts / "dirty.tar").unlink()
            if deleted:
                (parts / "deleted").write_text("".join(f"{p}\n" for p in deleted))
            summary += f", {count} uncommitted file(s), {len(deleted)} deletion(s)"
        return Shipment(parts, summary)
    except BaseException:
        shutil.rmtree(parts, ignore_errors=True)
        raise


def _dirty(root: Path, dest: Path, *, ignored: bool) -> tuple[int, list[str]]:
    """Changes against HEAD (staged or not) and untracked files, as a tar file plus deletions."""
    changed = _git(root, "diff", "--name-only", "-z", "--no-renames", "HEAD").split("\0")
    others = ["ls-files", "-z", "-o"] + ([] if ignored else ["--exclude-standard"])
    paths = sorted({p for p in [*changed, *_git(root, *others).split("\0")] if p})
    deleted: list[str] = []
    count = 0
    with tarfile.open(dest, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            path = root / rel
            if rel.endswith("/") or (path.is_dir() and not path.is_symlink()):
                continue  # a nested repository or submodule: not ours to ship
            if not os.path.lexists(path):
                if "\n" not in rel:
                    deleted.append(rel)
                continue
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
            count += 1
    return count, deleted
