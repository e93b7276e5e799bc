"""Turn one layer tar into an image archive that `buildah pull docker-archive:`,
`skopeo copy` and `ctr images import` accept (the `docker save` layout:
manifest.json, a config JSON naming the layer's diff_id, the layer tar).

    mkimage.py --layer rootfs.tar --ref NAME:TAG --out image.tar [--env K=V]... [--user U] [--cmd ARG]...
    mkimage.py --file PATH_IN_IMAGE=LOCAL_FILE ...   (a one-file layer, made here)

No registry and no daemon are involved, so the archive only depends on its inputs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

EPOCH = 0  # fixed mtimes: the same inputs give the same digests


def one_file_layer(dest: Path, path_in_image: str, local: Path) -> None:
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(path_in_image.lstrip("/"))
        info.size = local.stat().st_size
        info.mode = 0o755
        info.mtime = EPOCH
        with local.open("rb") as f:
            tar.addfile(info, f)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = EPOCH
    tar.addfile(info, io.BytesIO(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--layer", type=Path, help="an uncompressed rootfs tar")
    source.add_argument("--file", help="PATH_IN_IMAGE=LOCAL_FILE: a layer holding that one file")
    parser.add_argument("--ref", required=True, help="name:tag recorded in the archive")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--user", default="")
    parser.add_argument("--cmd", action="append", default=[])
    parser.add_argument("--entrypoint", action="append", default=[])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.out.parent) as tmp:
        layer = Path(tmp) / "layer.tar"
        if args.file:
            inside, _, local = args.file.partition("=")
            one_file_layer(layer, inside, Path(local))
        else:
            shutil.copyfile(args.layer, layer)
        diff_id = sha256_file(layer)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {
                "Env": args.env
                or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                **({"User": args.user} if args.user else {}),
                **({"Cmd": args.cmd} if args.cmd else {}),
                **({"Entrypoint": args.entrypoint} if args.entrypoint else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [
                {"created": "1970-01-01T00:00:00Z", "created_by": "tests/testenv/images/mkimage.py"}
            ],
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
        layer_name = f"{diff_id}/layer.tar"
        manifest = [{"Config": config_name, "RepoTags": [args.ref], "Layers": [layer_name]}]
        partial = args.out.with_name(args.out.name + ".partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            add_bytes(tar, config_name, config_bytes)
            info = tar.gettarinfo(str(layer), arcname=layer_name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
            with layer.open("rb") as f:
                tar.addfile(info, f)
            add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        os.replace(partial, args.out)


if __name__ == "__main__":
    main()
