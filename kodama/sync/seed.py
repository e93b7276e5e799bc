"""Seed the workspace with one tar stream before a new mutagen session takes over.

Mutagen moves a first sync file by file over the exec stream; one tar stream is 2-3 times
faster. The seed only creates what the pod lacks. That is exactly what mutagen's first cycle of a
new session does itself (no common ancestor yet: a file only on the local side is created in the
pod; a path present on both sides is compared, equal is fine, different is a conflict it reports),
so seeding changes how fast the first sync is, never what ends up where, and it is safe in a
resumed session's workspace as much as in a freshly shipped one. It never runs while a mutagen
session exists: that one has an ancestor, and a file re-created under it would undo a deletion.

Safety in the pod:
- nothing there is replaced or deleted: each path is checked in the pod at the moment of placing;
- files land in a staging folder next to the workspace's files (same file system) and are renamed
  into place only once the whole stream has arrived: an interrupted seed leaves no half-written
  file (which mutagen would report as a conflict), only a staging folder the live sync ignores and
  the next seed removes;
- nothing is placed through a link or a non-folder of the pod (nothing outside the workspace);
- only what the live sync carries: no VCS folders, git-ignored files or `sync.exclude` entries,
  links only when mutagen's portable mode would carry them (relative, staying inside).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kodama import proc
from kodama.errors import KodamaError, RemoteCommandFailed
from kodama.events import CancelToken, Reporter
from kodama.k8s.kubectl import meaningful
from kodama.k8s.runtime import PodContext
from kodama.sync.ignore import local_files

# tar's 512-byte blocks and 20-block records (tarfile is imported only for unusual names: the
# engine's import stays light).
BLOCK, RECORD = 512, 10240
STAGING_PREFIX = ".kodama-seed."
# For mutagen's ignore list: a staging folder left by a killed seed never reaches the checkout.
IGNORE = f"/{STAGING_PREFIX}*/"
SEED_TIMEOUT = 1800.0

# Reads candidate paths (one a line, an empty line ends them) on stdin; prints the workspace,
# those the pod lacks, then an empty line. `[ -e ]` and `[ -L ]` are shell built-ins: thousands
# of paths cost milliseconds, not forks. `read` takes stdin byte by byte, so what follows the
# answer (`send` and the tar for _RECEIVE, or `none`) is still there for the rest of the script.
_PROBE = """W="$KODAMA_WORKSPACE"
case "$W" in /*) ;; *) exit 3 ;; esac
cd "$W" || exit 4
printf '%s\\n' "$W"
while IFS= read -r p && [ -n "$p" ]; do
  [ -e "$p" ] || [ -L "$p" ] || printf '%s\\n' "$p"
done
printf '\\n'
IFS= read -r go || exit 0
[ "$go" = send ] || exit 0
"""

# $1: the staging folder's name. stdin: a tar of f/<path>... then `roots`, which comes last (if
# it is there, every file before it arrived whole): `-path` lines (files torn while read: not to
# be placed), then `+path` lines (what to rename into place). Prints the paths it did not place.
_RECEIVE = """set -e
W="$KODAMA_WORKSPACE"
case "$W" in /*) ;; *) exit 3 ;; esac
cd "$W"
find . -maxdepth 1 -name '@PREFIX@*' -mmin +60 -exec rm -rf {} + 2>/dev/null || :
S="$W/$1"
mkdir "$S"
trap 'rm -rf "$S"' EXIT
trap 'exit 1' HUP INT TERM PIPE
tar -xf - -C "$S"
[ -f "$S/roots" ]
set -f
while IFS= read -r line; do
  p=${line#?}
  case "$line" in -*) rm -f "$S/f/$p"; printf '%s\\n' "$p"; continue ;; esac
  ok=1
  case "$p" in */*)
    d="$W"; IFS=/
    for c in ${p%/*}; do
      d="$d/$c"
      if [ -L "$d" ] || [ ! -d "$d" ]; then ok=0; break; fi
    done
    unset IFS ;;
  esac
  if [ $ok = 1 ] && [ ! -e "$p" ] && [ ! -L "$p" ] && mv -n "$S/f/$p" "$W/$p" 2>/dev/null; then
    :
  else
    printf '%s\\n' "$p"
  fi
done < "$S/roots"
""".replace("@PREFIX@", STAGING_PREFIX)
# Probe and seed in one exec (one kubectl start-up and exec round trip fewer).
_SEED = _PROBE + _RECEIVE


class SeedFailed(KodamaError):
    """The stream (not the probe) failed: nothing of it was placed; mutagen copies instead."""


@dataclass
class Plan:
    """What the pod lacks: `files` to send, placed as `roots` (each the highest missing folder,
    or the file itself when its folder exists)."""

    workspace: str
    files: list[str] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    size: int = 0


def portable_link(path: str, target: str) -> bool:
    """Whether mutagen's portable symbolic link mode carries this link (mutagen 0.18's rules)."""
    if not target or len(target) > 247 or ":" in target or "\\" in target:
        return False
    if target.startswith("/"):
        return False
    depth = path.count("/")
    for part in target.split("/"):
        if part == "..":
            depth -= 1
        elif part != ".":
            depth += 1
        if depth < 0:
            return False
    return True


def candidates(root: Path, excludes: list[str]) -> dict[str, int]:
    """Local files the live sync would carry and a seed can (regular files and portable links),
    with their sizes."""
    out: dict[str, int] = {}
    for rel in local_files(root, "", excludes):
        # The pod's script reads one path a line; a staging name would be removed as stale.
        if "\n" in rel or rel.startswith(STAGING_PREFIX):
            continue
        path = os.path.join(root, rel)
        try:
            st = os.lstat(path)
        except OSError:
            continue  # gone since git listed it
        if stat.S_ISLNK(st.st_mode):
            if portable_link(rel, os.readlink(path)):
                out[rel] = 0
        elif stat.S_ISREG(st.st_mode):
            out[rel] = st.st_size
    return out


def ancestors(rel: str) -> list[str]:
    """a/b/c -> [a, a/b]: the folders on the way, shallow first."""
    out = []
    i = rel.find("/")
    while i > 0:
        out.append(rel[:i])
        i = rel.find("/", i + 1)
    return out


def place(files: list[str], missing: set[str]) -> list[str]:
    """For each missing file, its highest missing folder (or itself): what the pod renames."""
    roots: dict[str, None] = {}
    for rel in files:
        top = next((a for a in ancestors(rel) if a in missing), rel)
        roots[top] = None
    return list(roots)


def _answer(lines: list[str], code: int | None, stderr: bytes) -> tuple[str, set[str]]:
    """The probe's answer (workspace, paths the pod lacks), or why there is none."""
    workspace = lines[0].strip() if lines else ""
    if code is not None or len(lines) < 2 or lines[-1] != "" or not workspace.startswith("/"):
        if code == 3:
            raise KodamaError("the pod has no KODAMA_WORKSPACE; is it a Kodama session pod?")
        err = meaningful(stderr)
        raise RemoteCommandFailed(
            f"reading the workspace failed: {err[-1] if err else code}", code or 1
        )
    return workspace, {line for line in lines[1:-1] if line}


def run(
    ctx: PodContext,
    root: Path,
    excludes: list[str],
    cancel: CancelToken,
    on_plan: Callable[[Plan], None] = lambda plan: None,
) -> tuple[Plan, int]:
    """Find what the pod lacks and stream it there, in one exec: the plan and how many files
    were placed. `on_plan` sees the plan between the two. A failed probe raises as such; a failed
    stream raises SeedFailed (nothing of it placed)."""
    try:
        sizes = candidates(root, excludes)
    except (KodamaError, OSError):
        sizes = {}  # not a git checkout: the live sync alone decides, as before
    files = list(sizes)
    folders = sorted({a for f in files for a in ancestors(f)})
    ask = "".join(f"{p}\n" for p in [*folders, *files]).encode("utf-8", "surrogateescape")
    staging = f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    argv = ctx.kubectl.script_argv(ctx.pod, _SEED, [staging], stdin=True)
    with tempfile.TemporaryFile() as err:
        child = proc.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        assert child.stdin is not None and child.stdout is not None
        with proc.Guard(child, cancel, SEED_TIMEOUT, "seeding the workspace"):
            # The question goes in from a thread: the answer may outgrow the pipes meanwhile.
            asking = threading.Thread(target=_ask, args=(child.stdin, ask + b"\n"), daemon=True)
            asking.start()
            lines = _read_answer(child.stdout)
            asking.join()
            if len(lines) < 2 or lines[-1] != "":  # the probe failed: its exit code says why
                code: int | None = child.wait()
                err.seek(0)
                _answer(lines, code, err.read())
            workspace, missing = _answer(lines, None, b"")
            send = [f for f in files if f in missing]
            plan = Plan(workspace, send, place(send, missing), sum(sizes[f] for f in send))
            on_plan(plan)
            failed: OSError | None = None
            try:
                child.stdin.write(b"send\n" if send else b"none\n")
                if send:
                    _writer(root, plan, cancel)(child.stdin)
            except BrokenPipeError:
                pass  # the pod stopped reading: its exit code and stderr say why
            except OSError as exc:  # a local file; the pod got a cut stream and placed nothing
                failed = exc
            finally:
                with contextlib.suppress(BrokenPipeError):
                    child.stdin.close()
            out = child.stdout.read()
            code = child.wait()
        if failed is not None:
            raise SeedFailed(f"seeding the workspace failed: {failed}")
        if code != 0:
            err.seek(0)
            msg = meaningful(err.read())
            raise SeedFailed(f"seeding the workspace failed: {msg[-1] if msg else code}")
    skipped = set(out.decode(errors="replace").split("\n")) - {""}
    return plan, sum(1 for f in plan.files if not _under_any(f, skipped))


def fill(
    ctx: PodContext,
    local: Path,
    excludes: list[str],
    reporter: Reporter,
    cancel: CancelToken,
    planned: Callable[[Plan], None],
) -> None:
    """Copy what the pod lacks in one tar stream, so that mutagen starts from an equal tree,
    saying so; `planned` sees the plan first (the workspace's path is in it)."""

    def announce(plan: Plan) -> None:
        planned(plan)
        if plan.files:
            reporter.step(
                "seed",
                f"Copying {len(plan.files)} file(s) ({plan.size / 1e6:.1f} MB) into the "
                "workspace in one stream",
            )

    try:
        plan, placed = run(ctx, local, excludes, cancel, announce)
    except SeedFailed as exc:
        # Nothing half-written is left in the workspace: mutagen copies what is missing.
        reporter.warn(f"{exc}; mutagen copies the files instead")
        return
    if not plan.files:
        return
    left = len(plan.files) - placed
    reporter.info(
        f"Seeded {placed} file(s)"
        + (f"; {left} appeared in the pod meanwhile, mutagen compares them" if left else "")
    )


def _ask(stream: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):  # a pod that stopped reading: the answer says why
        stream.write(data)
        stream.flush()


def _read_answer(stream: IO[bytes]) -> list[str]:
    """Lines up to the empty one that ends the answer (all there are, if it never comes)."""
    lines: list[str] = []
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        lines.append(line)
        if line == "" and len(lines) > 1:
            break
    return lines


def _header(name: str, *, mode: int, mtime: int, size: int = 0, link: str | None = None) -> bytes:
    fast = None if link is not None else _ustar(name, size, mode, mtime)
    if fast is not None:
        return fast
    import tarfile

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, mtime
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _ustar(name: str, size: int, mode: int, mtime: int) -> bytes | None:
    """A regular file's POSIX ustar header, for the common short ASCII name (None otherwise):
    what tarfile builds too, without its generic PAX checks, which dominate for small files."""
    if not name.isascii() or len(name) > 100 or size >= 8**11 or mtime >= 8**11 or mtime < 0:
        return None
    head = b"".join(
        [
            name.encode().ljust(100, b"\0"),
            b"%07o\0" % mode,
            b"0000000\0" * 2,  # uid, gid
            b"%011o\0" % size,
            b"%011o\0" % mtime,
            b" " * 8,  # the checksum, counted as spaces
            b"0",  # a regular file
            b"\0" * 100,  # no link name
            b"ustar\x0000",
            b"\0" * (32 + 32 + 8 + 8 + 155 + 12),  # owner names, devices, prefix, padding
        ]
    )
    checksum = b"%06o\0 " % sum(head)
    return head[:148] + checksum + head[156:]


def _writer(root: Path, plan: Plan, token: CancelToken) -> Callable[[IO[bytes]], None]:
    """The tar stream, headers written by hand: tarfile's gettarinfo/addfile cost 2-3 times the
    CPU (owner name look-ups, copies), which a loaded machine turns into seconds."""

    def write(stream: IO[bytes]) -> None:
        changed: list[str] = []
        for rel in plan.files:
            token.check()
            if not _add(stream, root, rel):
                changed.append(rel)
        # `-` lines come first: files that changed while read are dropped from the staging
        # folder, so a torn copy never lands (mutagen sends those itself).
        manifest = "".join(f"-{r}\n" for r in changed) + "".join(f"+{r}\n" for r in plan.roots)
        data = manifest.encode("utf-8", "surrogateescape")
        stream.write(_header("roots", size=len(data), mode=0o600, mtime=0))
        stream.write(data + _padding(len(data)))
        stream.write(b"\0" * RECORD)  # end of archive (two blocks), record-sized

    return write


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _add(stream: IO[bytes], root: Path, rel: str) -> bool:
    """Write one member; False when the file changed (or vanished) while it was read."""
    path = os.path.join(root, rel)
    name = f"f/{rel}"
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        stream.write(_header(name, mode=0o777, mtime=int(st.st_mtime), link=target))
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as fh:
        size = st.st_size
        # What mutagen gives a file it creates (--default-file-mode 0644, executability kept),
        # so both sides scan equal.
        mode = 0o755 if st.st_mode & 0o111 else 0o644
        stream.write(_header(name, size=size, mode=mode, mtime=int(st.st_mtime)))
        left = size
        while left:
            chunk = fh.read(min(left, 1 << 20))
            if not chunk:
                break
            stream.write(chunk)
            left -= len(chunk)
        stream.write(b"\0" * left + _padding(size))
        after = os.fstat(fh.fileno())
    return not left and (after.st_size, after.st_mtime_ns) == (size, st.st_mtime_ns)


def _under_any(rel: str, roots: set[str]) -> bool:
    return rel in roots or any(a in roots for a in ancestors(rel))
