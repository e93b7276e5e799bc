"""tests/testenv/images/mkimage.py: the image archive the real node's images start from."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

MKIMAGE = Path(__file__).resolve().parents[1] / "testenv" / "images" / "mkimage.py"


def run(*args: str) -> None:
    subprocess.run([sys.executable, str(MKIMAGE), *args], check=True, timeout=60)


def read_archive(path: Path) -> tuple[list[dict], dict, dict[str, bytes]]:
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    manifest = json.loads(files["manifest.json"])
    config = json.loads(files[manifest[0]["Config"]])
    return manifest, config, files


def test_one_file_image_names_its_layer_by_content(tmp_path: Path) -> None:
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF not really")
    out = tmp_path / "pause.tar"
    run(
        "--file",
        f"/pause={binary}",
        "--ref",
        "localhost/p:1",
        "--out",
        str(out),
        "--user",
        "65535:65535",
        "--entrypoint",
        "/pause",
    )

    manifest, config, files = read_archive(out)
    assert manifest[0]["RepoTags"] == ["localhost/p:1"]
    (layer_name,) = manifest[0]["Layers"]
    layer = files[layer_name]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    assert (
        manifest[0]["Config"] == hashlib.sha256(files[manifest[0]["Config"]]).hexdigest() + ".json"
    )
    assert config["config"]["User"] == "65535:65535"
    assert config["config"]["Entrypoint"] == ["/pause"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        (member,) = inner.getmembers()
        assert member.name == "pause" and member.mode == 0o755
        assert inner.extractfile(member).read() == binary.read_bytes()  # type: ignore[union-attr]


def test_same_inputs_same_archive(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        info = tarfile.TarInfo("etc/hostname")
        data = b"x\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    outs = [tmp_path / "a.tar", tmp_path / "b.tar"]
    for out in outs:
        run(
            "--layer",
            str(rootfs),
            "--ref",
            "localhost/base:1",
            "--out",
            str(out),
            "--env",
            "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
        )
    assert outs[0].read_bytes() == outs[1].read_bytes()
    _, config, _ = read_archive(outs[0])
    assert config["config"]["Env"] == ["NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"]
    assert config["rootfs"]["diff_ids"] == [
        "sha256:" + hashlib.sha256(rootfs.read_bytes()).hexdigest()
    ]
