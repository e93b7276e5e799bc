"""`image build`: the default agent image, built with whatever builder is installed.

The Dockerfile ships inside the package (kodama/agent_image/Dockerfile, a link to
images/agent/Dockerfile that a build copies in) so `pipx install kodama` is all a user needs. A pushed
image is recorded as `image:` in ~/.kodama/config.yaml, editing that one line so the user's
comments and layout stay.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from kodama.config import global_config_path, load_layer, parse_yaml_text
from kodama.errors import ConfigError, InvalidInput, KodamaError
from kodama.events import CancelToken, EventSink, Reporter, null_sink
from kodama.models import _Model

BUILDERS = ("docker", "podman", "buildah", "nerdctl")
NEEDS_DAEMON = ("docker", "nerdctl")  # installed is not enough: their daemon must answer
DEFAULT_TAG = "kodama-agent:latest"
_FIRST_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)
_ARG_REF = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


class ImageResult(_Model):
    builder: str
    tag: str
    pushed: str | None = None
    recorded_in: str | None = None


def packaged_dockerfile() -> str:
    return resources.files("kodama").joinpath("agent_image", "Dockerfile").read_text()


def detect_builder(
    preferred: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """The first usable builder of BUILDERS (or the one asked for)."""
    if preferred is not None:
        if preferred not in BUILDERS:
            raise InvalidInput(f"--builder must be one of {', '.join(BUILDERS)}, not {preferred!r}")
        if which(preferred) is None:
            raise InvalidInput(f"--builder {preferred}: {preferred} is not on PATH")
        return preferred
    skipped = []
    for name in BUILDERS:
        path = which(name)
        if path is None:
            continue
        if name in NEEDS_DAEMON and not _daemon_answers(path):
            skipped.append(f"{name} (its daemon does not answer)")
            continue
        return name
    raise KodamaError(
        "no image builder found: install docker, podman, buildah or nerdctl"
        + (f"; found but unusable: {', '.join(skipped)}" if skipped else ""),
        hint="or build images/agent/Dockerfile (`kubectl kodama image dockerfile`) elsewhere",
    )


def _daemon_answers(path: str) -> bool:
    try:
        proc = subprocess.run(
            [path, "info"], capture_output=True, timeout=15, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def base_arg(dockerfile: str) -> str | None:
    """The build argument the first FROM is made of (`FROM ${BASE_IMAGE}`), if it is one."""
    m = _FIRST_FROM.search(dockerfile)
    ref = _ARG_REF.match(m.group(1)) if m else None
    return ref.group(1) if ref else None


def build_argv(
    builder: str,
    tag: str,
    dockerfile: Path,
    context: Path,
    build_args: Sequence[tuple[str, str]] = (),
    *,
    tls_verify: bool = True,
) -> list[str]:
    verb = "bud" if builder == "buildah" else "build"  # `bud` works on every buildah release
    argv = [builder, verb, "-f", str(dockerfile), "-t", tag]
    if not tls_verify and builder in ("podman", "buildah"):
        argv.append("--tls-verify=false")
    for key, value in build_args:
        argv += ["--build-arg", f"{key}={value}"]
    return [*argv, str(context)]


def push_argv(builder: str, ref: str, *, tls_verify: bool = True) -> list[str]:
    argv = [builder, "push"]
    if not tls_verify:
        argv += {"podman": ["--tls-verify=false"], "buildah": ["--tls-verify=false"]}.get(
            builder, ["--insecure-registry"] if builder == "nerdctl" else []
        )
    if builder == "buildah":
        return [*argv, ref, f"docker://{ref}"]
    return [*argv, ref]


def record_image(ref: str, path: Path | None = None) -> Path:
    """Set `image:` in the global config, keeping every other line as it was."""
    path = path or global_config_path()
    text = path.read_text() if path.is_file() else ""
    layer = parse_yaml_text(text, str(path))
    lines = text.splitlines(keepends=True)
    line_no = layer.lines.get(("image",)) or layer.lines.get(("defaults", "image"))
    if line_no is not None:
        old = lines[line_no - 1]
        indent = old[: len(old) - len(old.lstrip())]
        lines[line_no - 1] = f"{indent}image: {ref}\n"
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(f"image: {ref}\n")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(lines))
    try:
        load_layer(tmp)
    except ConfigError as exc:
        tmp.unlink()
        raise KodamaError(f"cannot record the image in {path}: {exc.message}") from None
    tmp.replace(path)
    return path


def build(
    *,
    tag: str | None = None,
    push: str | None = None,
    builder: str | None = None,
    base: str | None = None,
    build_args: Sequence[tuple[str, str]] = (),
    dockerfile: str | None = None,
    tls_verify: bool = True,
    record: bool = True,
    events: EventSink = null_sink,
    cancel: CancelToken | None = None,
) -> ImageResult:
    cancel = cancel or CancelToken()
    rep = Reporter(events, "")
    if dockerfile is not None:
        df = Path(dockerfile).expanduser().resolve()
        if not df.is_file():
            raise InvalidInput(f"--file {dockerfile}: no such file")
        text = df.read_text()
    else:
        text = packaged_dockerfile()
    args = list(build_args)
    if base is not None:
        arg = base_arg(text)
        if arg is None:
            raise InvalidInput("--base: the Dockerfile's first FROM is not a build argument")
        args.append((arg, base))
    name = detect_builder(builder)
    tag = push or tag or DEFAULT_TAG
    with tempfile.TemporaryDirectory(prefix="kodama-image-") as tmp:
        if dockerfile is None:
            context = Path(tmp)
            df = context / "Dockerfile"
            df.write_text(text)
        else:
            context = df.parent
        rep.step("build", f"Building {tag} with {name}")
        _run(build_argv(name, tag, df, context, args, tls_verify=tls_verify), rep, cancel)
    result = ImageResult(builder=name, tag=tag)
    if push:
        rep.step("push", f"Pushing {push}")
        _run(push_argv(name, push, tls_verify=tls_verify), rep, cancel)
        result.pushed = push
        if record:
            result.recorded_in = str(record_image(push))
    rep.done(
        f"Built {tag}"
        + (f", pushed it and recorded it in {result.recorded_in}" if result.recorded_in else "")
        + ("" if push else "; push it (--push REF) so a cluster can pull it")
    )
    return result


def _run(argv: list[str], rep: Reporter, cancel: CancelToken) -> None:
    """Run a builder command, its output relayed line by line as progress."""
    cancel.check()
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    except OSError as exc:
        raise KodamaError(f"cannot run {argv[0]}: {exc.strerror}") from None
    assert proc.stdout is not None
    last = ""
    for line in proc.stdout:
        if line.strip():
            last = line.strip()
            rep.info(last)
        if cancel.cancelled:
            proc.terminate()
    code = proc.wait()
    cancel.check()
    if code != 0:
        raise KodamaError(f"{argv[0]} {argv[1]} failed (exit {code}): {last}")
