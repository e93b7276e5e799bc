"""image build's pure parts: the packaged Dockerfile, builder detection, argv, recording."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kodama.config import load_layer
from kodama.engine import image
from kodama.errors import InvalidInput, KodamaError

REPO = Path(__file__).resolve().parents[2]


def test_packaged_dockerfile_is_images_agent_dockerfile() -> None:
    # images/agent/Dockerfile is the one people edit; the package links to it, and a build
    # copies it in for `image build` after `pipx install`. A copy in its place would drift.
    packaged = REPO / "kodama" / "agent_image" / "Dockerfile"
    assert packaged.is_symlink()
    assert packaged.resolve() == (REPO / "images" / "agent" / "Dockerfile").resolve()
    assert image.packaged_dockerfile() == (REPO / "images" / "agent" / "Dockerfile").read_text()


def test_detection_order_and_daemons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()

    def tool(name: str, script: str) -> None:
        (bindir / name).write_text(f"#!/bin/sh\n{script}\n")
        (bindir / name).chmod(0o755)

    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(KodamaError, match="no image builder found"):
        image.detect_builder()
    tool("nerdctl", "exit 0")
    assert image.detect_builder() == "nerdctl"
    tool("buildah", "exit 0")
    assert image.detect_builder() == "buildah"
    tool("docker", "exit 1")  # installed, no daemon: skipped
    assert image.detect_builder() == "buildah"
    tool("docker", "exit 0")
    assert image.detect_builder() == "docker"
    assert image.detect_builder("buildah") == "buildah"
    with pytest.raises(InvalidInput, match="podman is not on PATH"):
        image.detect_builder("podman")


def test_argv_per_builder() -> None:
    df, ctx = Path("/c/Dockerfile"), Path("/c")
    assert image.build_argv("buildah", "r/a:1", df, ctx, [("BASE", "x")], tls_verify=False) == [
        "buildah", "bud", "-f", "/c/Dockerfile", "-t", "r/a:1", "--tls-verify=false",
        "--build-arg", "BASE=x", "/c",
    ]  # fmt: skip
    assert image.build_argv("docker", "r/a:1", df, ctx) == [
        "docker", "build", "-f", "/c/Dockerfile", "-t", "r/a:1", "/c",
    ]  # fmt: skip
    assert image.push_argv("buildah", "r/a:1", tls_verify=False) == [
        "buildah", "push", "--tls-verify=false", "r/a:1", "docker://r/a:1",
    ]  # fmt: skip
    assert image.push_argv("podman", "r/a:1") == ["podman", "push", "r/a:1"]
    assert image.push_argv("nerdctl", "r/a:1", tls_verify=False) == [
        "nerdctl", "push", "--insecure-registry", "r/a:1",
    ]  # fmt: skip
    assert image.push_argv("docker", "r/a:1", tls_verify=False) == ["docker", "push", "r/a:1"]


def test_base_arg() -> None:
    assert image.base_arg("ARG BASE_IMAGE=node:20\nFROM ${BASE_IMAGE}\n") == "BASE_IMAGE"
    assert image.base_arg("ARG B\nFROM --platform=linux/amd64 $B AS x\n") == "B"
    assert image.base_arg("ARG V=20\nFROM node:${V}-slim\n") is None
    assert image.base_arg("# no from\n") is None


def test_bad_input_is_refused_before_building(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        image.build(dockerfile=str(tmp_path / "missing"))
    df = tmp_path / "Dockerfile"
    df.write_text("FROM scratch\n")
    with pytest.raises(InvalidInput, match="first FROM is not a build argument"):
        image.build(dockerfile=str(df), base="x")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "image: r/a:1\n"),
        ("# mine\nimage: old:1  # comment\ntimeout: 60\n", "# mine\nimage: r/a:1\ntimeout: 60\n"),
        (
            "defaults:\n  namespace: agents\n  image: old\n",
            "defaults:\n  namespace: agents\n  image: r/a:1\n",
        ),
        ("timeout: 60", "timeout: 60\nimage: r/a:1\n"),
    ],
)
def test_record_image_edits_one_line(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(before)
    image.record_image("r/a:1", path)
    assert path.read_text() == after
    layer = load_layer(path)
    assert layer is not None
    data = yaml.safe_load(path.read_text())
    assert (data.get("image") or data["defaults"]["image"]) == "r/a:1"
