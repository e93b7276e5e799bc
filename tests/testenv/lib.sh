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

# The real node (realnode.sh): kubelet + containerd in a network namespace of its own.
# One per host: the kubelet uses a few fixed host paths whatever its --root-dir.
# KODAMA_TESTENV_REAL_NODE=0 leaves it out (extra planes on other port bases).
REAL_NODE="${KODAMA_TESTENV_REAL_NODE:-1}"
REAL_NODE_NAME=kodama-testenv-real
REAL_NETNS=kodama-testenv-real
REAL_VETH_HOST=kdm-real0     # root namespace side
REAL_VETH_NODE=kdm-real1     # node namespace side
REAL_HOST_IP=10.213.0.1      # the registry and the API server's forwarder listen here
REAL_NODE_IP=10.213.0.2
REAL_POD_CIDR=10.213.128.0/24
REGISTRY_PORT=5213          # not 5000: a docker-registry service may hold that
REAL_DIR="$STATE_DIR/real"
# Which state folder owns this host's real node (its path), while it runs.
REAL_OWNER_FILE=/run/kodama-testenv-real.owner
IMAGES_DIR="$CACHE_ROOT/images"
SIMULATED_TAINT=kodama.dev/simulated

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
# The components are started with fds 6-9 closed, so they never hold a lock.
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
# running PID: alive and not a zombie (a component whose parent, `up`, is gone may wait
# unreaped for a while after it ended).
running() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && ! awk '{exit ($3 == "Z" ? 0 : 1)}' "/proc/$1/stat" 2>/dev/null; }

component_pid() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }

# start NAME CMD...: own session/process group, output to logs/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" > "$LOG_DIR/$name.log" 2>&1 < /dev/null 9>&- 8>&- 7>&- 6>&- &
  echo $! > "$RUN_DIR/$name.pid"
}
wait_for() { # what seconds command...
  local what=$1 secs=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$what not ready after ${secs}s; see $LOG_DIR"
    sleep 0.3
  done
}

# cert NAME SUBJECT [EXTENSIONS]: an EC key and a certificate signed by the plane's CA, in $PKI_DIR.
cert() {
  local name=$1 subj=$2 ext=${3:-}
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI_DIR/$name.key" 2>/dev/null
  openssl req -new -key "$PKI_DIR/$name.key" -subj "$subj" -out "$PKI_DIR/$name.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$ext" > "$PKI_DIR/$name.ext"
  openssl x509 -req -in "$PKI_DIR/$name.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI_DIR/$name.ext" -out "$PKI_DIR/$name.crt" 2>/dev/null
  rm -f "$PKI_DIR/$name.csr" "$PKI_DIR/$name.ext"
}

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
