# Shared settings of the test control plane scripts (sourced, not run).
# shellcheck shell=bash

TESTENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TESTENV_DIR/../.." && pwd)"

# Pinned versions. Changing one changes the cache folder, so a new build.
K8S_VERSION=v1.34.4
KWOK_VERSION=v0.8.0
MUTAGEN_VERSION=v0.18.1
ETCD_VERSION=v3.6.16
VERSIONS="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_mutagen-${MUTAGEN_VERSION}"

CACHE_ROOT="${KODAMA_TESTENV_CACHE:-$HOME/.cache/kodama-testenv}"
BIN_DIR="$CACHE_ROOT/$VERSIONS/bin"

STATE_DIR="${KODAMA_TESTENV_STATE:-$REPO_ROOT/.testenv}"
PKI_DIR="$STATE_DIR/pki"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"
KUBECONFIG_FILE="$STATE_DIR/kubeconfig"
VOLUMES_DIR="$STATE_DIR/volumes"

NODE_NAME=kodama-testenv-node
STORAGE_CLASS=kodama-testenv
PROVISIONER=testenv.kodama.dev/hostpath

# Ports: fixed offsets from a configurable base, recorded in $STATE_DIR/ports.env.
PORT_BASE="${KODAMA_TESTENV_PORT_BASE:-16400}"
ETCD_PORT=$((PORT_BASE + 1))
ETCD_PEER_PORT=$((PORT_BASE + 2))
APISERVER_PORT=$((PORT_BASE + 43))
NODE_AGENT_PORT=$((PORT_BASE + 50))
KCM_PORT=$((PORT_BASE + 57))
SCHEDULER_PORT=$((PORT_BASE + 59))
ALL_PORTS="$ETCD_PORT $ETCD_PEER_PORT $APISERVER_PORT $NODE_AGENT_PORT $KCM_PORT $SCHEDULER_PORT"

# The components started by `up`, in start order; `down` stops them in reverse.
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok node-agent"

# One `up`/`down` at a time per state folder (parallel test runs share it).
# The components are started with fd 9 closed, so they never hold the lock.
LOCK_FILE="${TMPDIR:-/tmp}/kodama-testenv-$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12).flock"
lock_state() {
  [ -n "${KODAMA_TESTENV_LOCKED:-}" ] && return 0
  exec 9>"$LOCK_FILE"
  flock 9
  export KODAMA_TESTENV_LOCKED=1
}

say() { printf 'testenv: %s\n' "$*"; }
die() { printf 'testenv: error: %s\n' "$*" >&2; exit 1; }

kctl() { kubectl --kubeconfig "$KUBECONFIG_FILE" --cache-dir "$STATE_DIR/kube-cache" "$@"; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

component_pid() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }

# apiserver_ready: true when the API server answers /readyz with our admin cert.
apiserver_ready() {
  [ -f "$PKI_DIR/admin.crt" ] || return 1
  curl -sf --max-time 3 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

# all_running: every recorded component alive and the API server ready.
all_running() {
  local c
  for c in $COMPONENTS; do pid_alive "$(component_pid "$c")" || return 1; done
  apiserver_ready
}

# Ports: the listening sockets of this state (used by status and down).
port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
