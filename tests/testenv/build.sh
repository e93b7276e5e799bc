#!/usr/bin/env bash
# Builds (once) every binary of the test control plane into the cache:
#   $BIN_DIR/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kwok,
#             kodama-testenv-node,mutagen,mutagen-agent,mutagen-agents.tar.gz}
# from the Go module proxy only. Re-running it is a no-op when all are there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "go is not installed (needed once, to build the control plane)"
mkdir -p "$BIN_DIR"
# Planes in other state folders share this cache: one build at a time.
exec 8>"$CACHE_ROOT/$VERSIONS/.build.lock"
flock 8
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
LDFLAGS="-s -w"
BUILD="$TESTENV_DIR/modules"

# Our own node agent changes with the repository: key it by its sources.
agent_hash() {
  (cd "$BUILD/kwok" && cat go.mod go.sum nodeagent/*.go | sha256sum | cut -c1-16)
}

started=$(date +%s)
built=""

need() { local f; for f in "$@"; do [ -x "$BIN_DIR/$f" ] || return 0; done; return 1; }

# One go build for all four: they share most packages. Without the version stamp
# the kubelet reports v0.0.0-master and the API server's skew checks complain.
K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
K8S_LDFLAGS="$LDFLAGS -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR"
if need kube-apiserver kube-controller-manager kube-scheduler; then
  say "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet $K8S_VERSION (first run: 20-30 min on 2 cores)"
  (cd "$BUILD/k8s" && go build -ldflags="$K8S_LDFLAGS" -o "$BIN_DIR/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet)
  built="$built kubernetes"
elif need kubelet; then
  # A cache from before the real node: only the kubelet is missing.
  say "building kubelet $K8S_VERSION (for the real node)"
  (cd "$BUILD/k8s" && go build -ldflags="$K8S_LDFLAGS" -o "$BIN_DIR/" k8s.io/kubernetes/cmd/kubelet)
  built="$built kubelet"
fi

if need etcd; then
  say "building etcd $ETCD_VERSION"
  (cd "$BUILD/etcd" && go build -ldflags="$LDFLAGS" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3)
  built="$built etcd"
fi

hash=$(agent_hash)
if need kwok || [ "$(cat "$BIN_DIR/kodama-testenv-node.sha" 2>/dev/null)" != "$hash" ]; then
  say "building kwok $KWOK_VERSION and the node agent"
  (cd "$BUILD/kwok" && go build -ldflags="$LDFLAGS" -o "$BIN_DIR/" sigs.k8s.io/kwok/cmd/kwok \
    && go build -ldflags="$LDFLAGS" -o "$BIN_DIR/kodama-testenv-node" ./nodeagent)
  echo "$hash" > "$BIN_DIR/kodama-testenv-node.sha"
  built="$built kwok"
fi

# kwok's Exec CRD, from the module we build kwok from, for the API server.
if [ ! -f "$BIN_DIR/kwok-exec-crd.yaml" ]; then
  kwok_src=$(cd "$BUILD/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  cp "$kwok_src/kustomize/crd/bases/kwok.x-k8s.io_execs.yaml" "$BIN_DIR/kwok-exec-crd.yaml"
  chmod 0644 "$BIN_DIR/kwok-exec-crd.yaml"
fi

if need mutagen mutagen-agent || [ ! -f "$BIN_DIR/mutagen-agents.tar.gz" ]; then
  say "building mutagen $MUTAGEN_VERSION (CLI, agent, agent bundle)"
  (cd "$BUILD/mutagen" \
    && go build -tags mutagencli -ldflags="$LDFLAGS" -o "$BIN_DIR/mutagen" github.com/mutagen-io/mutagen/cmd/mutagen \
    && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -tags mutagenagent -ldflags="$LDFLAGS" \
         -o "$BIN_DIR/mutagen-agent" github.com/mutagen-io/mutagen/cmd/mutagen-agent)
  # mutagen looks for this bundle beside its executable; the entry is named
  # <GOOS>_<GOARCH>, as mutagen's own build script writes it.
  tmp=$(mktemp -d)
  cp "$BIN_DIR/mutagen-agent" "$tmp/linux_amd64"
  chmod 0755 "$tmp/linux_amd64"
  tar -C "$tmp" -czf "$BIN_DIR/mutagen-agents.tar.gz.tmp" --owner=0 --group=0 linux_amd64
  mv "$BIN_DIR/mutagen-agents.tar.gz.tmp" "$BIN_DIR/mutagen-agents.tar.gz"
  rm -rf "$tmp"
  built="$built mutagen"
fi

if [ -n "$built" ]; then
  say "build of${built} took $(( $(date +%s) - started ))s; cache: $BIN_DIR ($(du -sh "$CACHE_ROOT/$VERSIONS" | cut -f1))"
fi
