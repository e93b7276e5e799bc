"""image build with a real builder (buildah) pushing to a real registry (Debian's
docker-registry, the distribution registry) bound to 127.0.0.1, started by the test.

The agent Dockerfile itself needs a base image from a registry and npm: too slow and too
networked for a test. A tiny Dockerfile (-f) goes through the same code: detection, build, push,
recording `image:`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import cli_path

pytestmark = pytest.mark.cluster


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("docker-registry")
    if exe is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    conf = tmp_path / "registry.yml"
    conf.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'registry'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    proc = subprocess.Popen(
        [exe, "serve", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"registry exited: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_build_with_buildah_push_and_record(registry: str, tmp_path: Path) -> None:
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install buildah)")
    storage = tmp_path / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{tmp_path / "run"}"\ngraphroot = "{tmp_path / "root"}"\n'
    )
    ctx = tmp_path / "tiny"
    ctx.mkdir()
    (ctx / "hello").write_text("hello from kodama\n")
    (ctx / "Dockerfile").write_text(
        "ARG BASE_IMAGE=busybox\nFROM ${BASE_IMAGE}\nCOPY hello /hello\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("# my settings\ntimeout: 120\n")
    env = dict(
        os.environ,
        KODAMA_HOME=str(home),
        CONTAINERS_STORAGE_CONF=str(storage),
        BUILDAH_ISOLATION="chroot",
        # docker and nerdctl without a daemon, podman absent: detection must pick buildah.
        PATH=f"{Path(cli_path()).parent}:/usr/local/bin:/usr/bin:/bin",
    )
    ref = f"{registry}/kodama/agent:t1"
    proc = subprocess.run(
        [cli_path(), "image", "build", "-f", str(ctx / "Dockerfile"), "--base", "scratch",
         "--push", ref, "--no-tls-verify", "-o", "json"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["builder"] == "buildah" and result["pushed"] == ref
    tags = json.load(urllib.request.urlopen(f"http://{registry}/v2/kodama/agent/tags/list"))
    assert tags["tags"] == ["t1"]
    config = (home / "config.yaml").read_text()
    assert config.startswith("# my settings\ntimeout: 120\n")
    assert yaml.safe_load(config)["image"] == ref
    # The image holds the file and nothing else: it was built FROM scratch (--base).
    manifest = json.load(
        urllib.request.urlopen(
            urllib.request.Request(
                f"http://{registry}/v2/kodama/agent/manifests/t1",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                         "application/vnd.docker.distribution.manifest.v2+json"},
            )
        )
    )  # fmt: skip
    assert len(manifest["layers"]) == 1


def _base_archive() -> Path | None:
    images = (
        Path(os.environ.get("KODAMA_TESTENV_CACHE", Path.home() / ".cache" / "kodama-testenv"))
        / "images"
    )
    found = sorted(images.glob("base-*.tar")) if images.is_dir() else []
    return found[-1] if found else None


def test_the_packaged_dockerfile_builds_and_pushes(
    registry: str, tmp_path: Path, testenv: Any
) -> None:
    """The real agent Dockerfile from the package (apt, npm, Claude Code: 2 min idle, 6 under
    load), FROM the test plane's Debian base archive through --base, pushed to the registry."""
    if not (
        getattr(testenv, "real_node", False) or os.environ.get("KODAMA_TEST_IMAGE_BUILD") == "1"
    ):
        pytest.skip(
            "builds the whole agent image (apt, npm): runs with the real node, whose plane builds "
            "images anyway, or with KODAMA_TEST_IMAGE_BUILD=1"
        )
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install buildah)")
    base = _base_archive()
    if base is None:
        pytest.skip("no base image archive: tests/testenv/images.sh builds it for the real node")
    storage = tmp_path / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "overlay"\nrunroot = "{tmp_path / "run"}"\n'
        f'graphroot = "{tmp_path / "root"}"\n'
    )
    home = tmp_path / "home"
    home.mkdir()
    env = dict(
        os.environ,
        KODAMA_HOME=str(home),
        CONTAINERS_STORAGE_CONF=str(storage),
        BUILDAH_ISOLATION="chroot",
    )
    ref = f"{registry}/kodama/agent:full"
    try:
        proc = subprocess.run(
            [cli_path(), "image", "build", "--builder", "buildah", "--base",
             f"docker-archive:{base}", "--push", ref, "--no-tls-verify"],
            env=env, capture_output=True, text=True, timeout=1200, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip() == ref
        assert "(Claude Code)" in proc.stderr  # the Dockerfile's own `claude --version` step
        tags = json.load(urllib.request.urlopen(f"http://{registry}/v2/kodama/agent/tags/list"))
        assert tags["tags"] == ["full"]
        assert yaml.safe_load((home / "config.yaml").read_text()) == {"image": ref}
    finally:
        subprocess.run(["buildah", "rmi", "-a", "-f"], env=env, capture_output=True, check=False)
        shutil.rmtree(tmp_path / "root", ignore_errors=True)
