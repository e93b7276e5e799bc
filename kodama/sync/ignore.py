"""What file sync leaves alone: VCS folders, git-ignored files, and `sync.exclude`.

Mutagen's own ignore syntax is gitignore-like at the root of the sync (a pattern without a slash
matches a name at any depth, one with a slash is anchored, `!` negates, a trailing `/` means
directories only, the last matching pattern wins) but it reads no `.gitignore` files. So each
`.gitignore` is translated into root-anchored mutagen patterns, in git's order of precedence.
The one-shot push/pull uses git itself to decide (`ls-files`, `check-ignore`), which applies the
same rules.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from kodama.errors import KodamaError


def _strip_trailing_spaces(line: str) -> str:
    """git drops trailing spaces unless the last one is escaped with a backslash."""
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        if end >= 2 and line[end - 2] == "\\":
            return line[: end - 2] + line[end - 1 :]
        end -= 1
    return line[:end]


def translate_line(line: str, base: str = "") -> str | None:
    """One gitignore line of the file in folder `base` (POSIX, relative) -> a mutagen pattern."""
    line = _strip_trailing_spaces(line.rstrip("\r\n"))
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    if line.startswith("\\#"):
        line = line[1:]  # `#` has no meaning to mutagen; `\!` stays escaped for its matcher
    dir_only = line.endswith("/")
    body = line.rstrip("/")
    if not body:
        return None
    anchored = "/" in body
    body = body.lstrip("/")
    if not body or body in (".", ".."):
        return None
    base = base.strip("/")
    if base:
        pattern = f"/{base}/{body}" if anchored else f"/{base}/**/{body}"
    else:
        pattern = f"/{body}" if anchored else body
    if dir_only:
        pattern += "/"
    return ("!" if negated else "") + pattern


def translate(text: str, base: str = "") -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        pattern = translate_line(line, base)
        if pattern is not None:
            out.append(pattern)
    return out


def _git(root: Path, *args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", "-C", str(root), *args], input=input, capture_output=True, check=False
    )
    if proc.returncode not in (0, 1):  # check-ignore exits 1 when nothing is ignored
        err = proc.stderr.decode(errors="replace").strip()
        raise KodamaError(f"git {args[0]} failed: {err or proc.returncode}")
    return proc.stdout


def gitignore_files(root: Path) -> list[str]:
    """The repository's .gitignore files (tracked or not themselves ignored), shallow first."""
    try:
        raw = _git(
            root, "ls-files", "-z", "-co", "--exclude-standard", "--", ":(glob)**/.gitignore"
        )
    except (KodamaError, OSError):
        return [".gitignore"] if (root / ".gitignore").is_file() else []
    names = {n for n in raw.decode(errors="replace").split("\0") if n}
    if (root / ".gitignore").is_file():
        names.add(".gitignore")
    return sorted(names, key=lambda n: (n.count("/"), n))


# --ignore-vcs matches `.git` exactly; on a file system that folds case or drops trailing dots
# and spaces (macOS, Windows) a `.GIT/config` from the pod would land in `.git/config`.
GIT_LOOKALIKES = [".[gG][iI][tT]", ".[gG][iI][tT][. ]", "[gG][iI][tT]~1"]


def mutagen_ignores(root: Path, extra: Sequence[str] = ()) -> list[str]:
    """Patterns for `sync create`: .git look-alikes, info/exclude, then .gitignore files (deeper
    wins), then extra."""
    patterns: list[str] = list(GIT_LOOKALIKES)
    info = root / ".git" / "info" / "exclude"
    if info.is_file():
        patterns += translate(info.read_text(errors="replace"))
    for rel in gitignore_files(root):
        try:
            text = (root / rel).read_text(errors="replace")
        except OSError:
            continue
        parent = str(PurePosixPath(rel).parent)
        patterns += translate(text, "" if parent == "." else parent)
    for line in extra:
        pattern = translate_line(line)
        # Last match wins: a negation here would re-include what git ignores (.env files...).
        if pattern is not None and not pattern.startswith("!"):
            patterns.append(pattern)
    return patterns


def _ignored(root: Path, paths: Iterable[str], extra: Sequence[str]) -> set[str]:
    """Which of `paths` (relative to root) git's rules plus `extra` ignore, tracked or not."""
    items = [p for p in paths if p]
    if not items:
        return set()
    with tempfile.NamedTemporaryFile("w", suffix=".kodama-exclude", delete=False) as fh:
        fh.write("\n".join(extra) + "\n")
        excludes = fh.name
    try:
        out = _git(
            root,
            "-c",
            f"core.excludesFile={excludes}",
            "check-ignore",
            "--no-index",
            "-z",
            "--stdin",
            input=b"\0".join(p.encode() for p in items) + b"\0",
        )
    finally:
        os.unlink(excludes)
    return {p for p in out.decode(errors="replace").split("\0") if p}


# Code points HFS+ ignores in file names (git's is_hfs_dotgit skips the same ones).
_IGNORABLE = dict.fromkeys(
    [*range(0x200C, 0x2010), *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)


def is_git_dir_name(part: str) -> bool:
    """Whether a file system that folds case, normalises Unicode or drops trailing dots and
    spaces (macOS, Windows) would open this name as `.git` (or its 8.3 short name)."""
    name = unicodedata.normalize("NFKC", part.translate(_IGNORABLE)).casefold().rstrip(". ")
    return name in (".git", "git~1")


def _is_vcs(rel: str) -> bool:
    return any(
        part in (".hg", ".svn", ".bzr", "_darcs") or is_git_dir_name(part)
        for part in rel.split("/")
    )


def local_files(root: Path, sub: str = "", extra: Sequence[str] = ()) -> list[str]:
    """Files under root/sub that sync would carry: not VCS, not git-ignored, not excluded."""
    spec = [sub] if sub else []
    raw = _git(root, "ls-files", "-z", "-co", "--exclude-standard", "--", *spec)
    files = [f for f in raw.decode(errors="replace").split("\0") if f and not _is_vcs(f)]
    files = [f for f in files if (root / f).is_file() or (root / f).is_symlink()]
    drop = _ignored(root, files, extra)
    return sorted(f for f in files if f not in drop)


def filter_incoming(root: Path, paths: Iterable[str], extra: Sequence[str] = ()) -> list[str]:
    """Of files arriving from the pod, those the local rules do not ignore."""
    items = [p for p in paths if p and not _is_vcs(p)]
    drop = _ignored(root, items, extra)
    return [p for p in items if p not in drop]
