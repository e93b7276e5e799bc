#!/usr/bin/env bash
# Images of the real node, built once into the cache and rebuilt when their inputs change:
#   pause  static binary of images/pause.c in a one-file image (user 65535): containerd's sandbox image
#   base   Debian bookworm from mmdebstrap --variant=minbase, with this host's extra CA certificates
#   agent  images/agent/Dockerfile itself, built by buildah FROM the base (BASE_IMAGE build argument)
#
#   images.sh build            build what is missing (no registry needed)
#   images.sh push HOST:PORT [CONFIG]  push the agent image to that (plain HTTP) registry unless
#                              it has it (then drop older agent builds from it; CONFIG: the
#                              registry's config file, for its garbage collection); prints the
#                              reference pods use
#   images.sh pause-archive    prints the path of the pause image archive (for ctr import)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Progress goes to stderr: `push` prints the image reference on stdout.
say() { printf 'testenv: %s\n' "$*" >&2; }

IMG_SRC="$TESTENV_DIR/images"
AGENT_DIR="$REPO_ROOT/images/agent"
CLAUDE_CODE_VERSION=2.1.332
SUITE=bookworm
BUILDAH_ROOT="$IMAGES_DIR/buildah"

key() { sha256sum | cut -c1-16; }
PAUSE_KEY=$(cat "$IMG_SRC/pause.c" "$IMG_SRC/mkimage.py" | key)
PAUSE_ARCHIVE="$IMAGES_DIR/pause-$PAUSE_KEY.tar"
PAUSE_REF="localhost/kodama-testenv/pause:$PAUSE_KEY"
# The base changes with its recipe (this block) and the certificates copied into it.
BASE_RECIPE="mmdebstrap --variant=minbase --include=ca-certificates $SUITE; env NODE_EXTRA_CA_CERTS"
BASE_KEY=$( { echo "$BASE_RECIPE"; cat "$IMG_SRC/mkimage.py" /usr/local/share/ca-certificates/*.crt 2>/dev/null; } | key)
BASE_ARCHIVE="$IMAGES_DIR/base-$BASE_KEY.tar"
BASE_REF="localhost/kodama-testenv/base:$BASE_KEY"
AGENT_KEY=$( { cat "$AGENT_DIR/Dockerfile"; echo "$BASE_KEY $CLAUDE_CODE_VERSION"; } | key)
AGENT_LOCAL="localhost/kodama-testenv/agent:$AGENT_KEY"
AGENT_REPO=kodama/agent

bah() { buildah --root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/run" --storage-driver overlay "$@"; }

build_pause() {
  [ -f "$PAUSE_ARCHIVE" ] && return 0
  local t0 tmp; t0=$(date +%s); tmp=$(mktemp -d "$IMAGES_DIR/.pause.XXXXXX")
  gcc -Os -static -s -o "$tmp/pause" "$IMG_SRC/pause.c"
  python3 "$IMG_SRC/mkimage.py" --file "/pause=$tmp/pause" --ref "$PAUSE_REF" --out "$tmp/pause.tar" \
    --user 65535:65535 --entrypoint /pause
  mv "$tmp/pause.tar" "$PAUSE_ARCHIVE"; rm -rf "$tmp"
  rm -f $(ls "$IMAGES_DIR"/pause-*.tar | grep -vxF "$PAUSE_ARCHIVE") 2>/dev/null || true
  say "built the pause image in $(( $(date +%s) - t0 ))s"
}

build_base() {
  [ -f "$BASE_ARCHIVE" ] && return 0
  local t0 tmp; t0=$(date +%s); tmp=$(mktemp -d "$IMAGES_DIR/.base.XXXXXX")
  say "building the $SUITE base image with mmdebstrap (about 1 min)"
  # HTTPS from inside builds goes through a proxy with its own CA: trust what this host trusts.
  # One retry: a download through the proxy fails now and then.
  local try
  for try in 1 2; do
    mmdebstrap --quiet --variant=minbase --mode=root --include=ca-certificates \
      --customize-hook='for f in /usr/local/share/ca-certificates/*.crt; do [ -e "$f" ] && cp "$f" "$1/usr/local/share/ca-certificates/"; done; chroot "$1" update-ca-certificates >/dev/null' \
      "$SUITE" "$tmp/rootfs.tar" > "$tmp/mmdebstrap.log" 2>&1 && break
    [ "$try" = 1 ] && { say "mmdebstrap failed; retrying once"; continue; }
    cat "$tmp/mmdebstrap.log" >&2; die "mmdebstrap failed (log above)"
  done
  python3 "$IMG_SRC/mkimage.py" --layer "$tmp/rootfs.tar" --ref "$BASE_REF" --out "$tmp/base.tar" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd /bin/bash
  mv "$tmp/base.tar" "$BASE_ARCHIVE"; rm -rf "$tmp"
  rm -f $(ls "$IMAGES_DIR"/base-*.tar | grep -vxF "$BASE_ARCHIVE") 2>/dev/null || true
  say "built the base image in $(( $(date +%s) - t0 ))s ($(du -h "$BASE_ARCHIVE" | cut -f1))"
}

agent_built() { bah inspect --type image "$AGENT_LOCAL" >/dev/null 2>&1; }

build_agent() {
  agent_built && return 0
  local t0 old; t0=$(date +%s)
  bah inspect --type image "$BASE_REF" >/dev/null 2>&1 \
    || bah pull --quiet "docker-archive:$BASE_ARCHIVE" >/dev/null
  say "building images/agent/Dockerfile with buildah (Claude Code $CLAUDE_CODE_VERSION; about 2 min)"
  bah bud --quiet --isolation chroot --network host --pull-never \
    --build-arg "BASE_IMAGE=$BASE_REF" --build-arg "CLAUDE_CODE_VERSION=$CLAUDE_CODE_VERSION" \
    -t "$AGENT_LOCAL" "$AGENT_DIR" > "$IMAGES_DIR/agent-build.log" 2>&1 \
    || { tail -30 "$IMAGES_DIR/agent-build.log" >&2; die "building the agent image failed; log: $IMAGES_DIR/agent-build.log"; }
  # Older builds of the agent (and bases nothing uses any more) only take disk.
  for old in $(bah images --format '{{.Name}}:{{.Tag}}' | grep -E '^localhost/kodama-testenv/(agent|base):' \
      | grep -vxF -e "$AGENT_LOCAL" -e "$BASE_REF"); do
    bah rmi "$old" >/dev/null 2>&1 || true
  done
  say "built the agent image in $(( $(date +%s) - t0 ))s"
}

registry_has() { # host:port repo tag
  curl -sf -o /dev/null --max-time 5 -I \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$1/v2/$2/manifests/$3"
}

# drop_other_tags HOST:PORT [REGISTRY_CONFIG]: earlier agent builds leave the registry (their
# manifests deleted, then their blobs collected), so its storage holds one agent image.
drop_other_tags() {
  local tag digest dropped=""
  for tag in $(curl -sf "http://$1/v2/$AGENT_REPO/tags/list" | python3 -c 'import json,sys; print(*json.load(sys.stdin).get("tags") or [])'); do
    [ "$tag" = "$AGENT_KEY" ] && continue
    digest=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "http://$1/v2/$AGENT_REPO/manifests/$tag" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}')
    if [ -n "$digest" ] && curl -sf -X DELETE "http://$1/v2/$AGENT_REPO/manifests/$digest" >/dev/null; then
      dropped="$dropped $tag"
    fi
  done
  if [ -n "$dropped" ] && [ -n "${2:-}" ]; then
    docker-registry garbage-collect --delete-untagged "$2" >/dev/null 2>&1 || say "warning: registry garbage-collect failed"
  fi
}

cmd=${1:-build}
mkdir -p "$IMAGES_DIR"
# One build at a time on this host (the cache is shared by every state folder).
exec 7>"$IMAGES_DIR/.lock"
flock 7
case "$cmd" in
  build)
    build_pause; build_base; build_agent ;;
  pause-archive)
    build_pause; echo "$PAUSE_ARCHIVE" ;;
  push)
    registry=${2:?usage: images.sh push HOST:PORT}
    if ! registry_has "$registry" "$AGENT_REPO" "$AGENT_KEY"; then
      build_pause; build_base; build_agent
      t0=$(date +%s)
      # Uncompressed layers: the registry is local, and gzip of ~500 MB costs more than it saves.
      bah push --quiet --tls-verify=false --disable-compression "$AGENT_LOCAL" \
        "docker://$registry/$AGENT_REPO:$AGENT_KEY" >/dev/null
      say "pushed $registry/$AGENT_REPO:$AGENT_KEY in $(( $(date +%s) - t0 ))s"
    fi
    drop_other_tags "$registry" "${3:-}"
    echo "$registry/$AGENT_REPO:$AGENT_KEY" ;;
  *) die "usage: images.sh build | push HOST:PORT | pause-archive" ;;
esac
