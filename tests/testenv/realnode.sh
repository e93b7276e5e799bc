#!/usr/bin/env bash
# The real node of the test plane: a kubelet and containerd (runc, CNI bridge) inside a network
# namespace of their own, joined to the plane's API server, pulling images from a registry the
# plane runs on the root side of the node's veth.
#
#   realnode.sh up       after the control plane is up (called by `up`)
#   realnode.sh down     before the control plane stops (called by `down`); leaves no process,
#                        mount, netns, veth, cgroup, host file or changed sysctl behind
#   realnode.sh check    fail with one line when this plane cannot have the real node (not root,
#                        a missing package, another state folder's real node running)
#   realnode.sh healthy  exit 0 when the kubelet, containerd, registry and forwarder all run
#
# Containment: pods reach the node's own address and nothing else. The root namespace has no
# route back to pod addresses and would answer out of the machine's default route, so nothing
# from a pod is forwarded through the veth (iptables in the node namespace, set before any pod).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NETNS_PATH=/run/netns/$REAL_NETNS
CGROUP_ROOT=/$REAL_NODE_NAME
CONTAINERD_SOCK="$REAL_DIR/containerd.sock"
# Pulled images and unpacked layers survive `down`, so a warm `up` pulls nothing.
CONTAINERD_ROOT="$IMAGES_DIR/containerd"
REGISTRY="$REAL_HOST_IP:$REGISTRY_PORT"
REAL_COMPONENTS="registry apiserver-forward containerd kubelet"
# Host paths the kubelet, containerd and CNI use whatever their configured roots.
FIXED_PATHS="/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /run/netns"
# What the kubelet changes VM-wide (recorded before it starts, restored by down).
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

innet() { nsenter --net="$NETNS_PATH" "$@"; }
nctr() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

healthy() {
  local c
  [ -e "$NETNS_PATH" ] || return 1
  for c in $REAL_COMPONENTS; do running "$(component_pid "$c")" || return 1; done
}

# The state folder whose real node holds this host, if it still runs.
running_owner() {
  local owner
  owner=$(cat "$REAL_OWNER_FILE" 2>/dev/null) || return 1
  [ -n "$owner" ] && running "$(cat "$owner/run/kubelet.pid" 2>/dev/null)" && echo "$owner"
}

check_prerequisites() {
  [ "$(id -u)" -eq 0 ] || die "the real node needs root (network namespace, containerd, kubelet); run as root or set KODAMA_TESTENV_REAL_NODE=0"
  local missing="" c
  for c in ip nsenter iptables containerd ctr runc socat docker-registry mmdebstrap buildah gcc python3; do
    command -v "$c" >/dev/null || missing="$missing $c"
  done
  [ -x /usr/lib/cni/bridge ] || missing="$missing containernetworking-plugins"
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing="$missing libc6-dev"
  [ -z "$missing" ] || die "missing for the real node:$missing (run: bash scripts/system-deps.sh; or KODAMA_TESTENV_REAL_NODE=0)"
  [ -x "$BIN_DIR/kubelet" ] || die "no kubelet at $BIN_DIR/kubelet (run tests/testenv/build.sh)"
  [ -d /sys/fs/cgroup/memory ] || die "the real node supports cgroup v1 hosts only (no /sys/fs/cgroup/memory); set KODAMA_TESTENV_REAL_NODE=0"
}

cgroup_dirs() { # every hierarchy's copy of our cgroup root, deepest first
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h${CGROUP_ROOT#/}" ] && find "$h${CGROUP_ROOT#/}" -depth -type d
  done
  return 0
}

node_ready_since() { # RFC 3339 time: Ready, as posted by a kubelet at or after it
  local got
  got=$(kctl get node "$REAL_NODE_NAME" -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}') || return 1
  [ "${got%% *}" = True ] && { [[ "${got#* }" > "$1" ]] || [ "${got#* }" = "$1" ]; }
}

# Before the plane starts anything: can this state folder have the host's real node?
check() {
  check_prerequisites
  local other
  if other=$(running_owner) && [ "$other" != "$STATE_DIR" ]; then
    die "another plane's real node runs on this host (state folder $other): run its down, or set KODAMA_TESTENV_REAL_NODE=0"
  fi
}

# --- up -------------------------------------------------------------------------------------
up() {
  if healthy; then return 0; fi
  check
  local t0; t0=$(date +%s)
  # A partial node (ours, or one whose plane died without down) goes first.
  if [ -e "$NETNS_PATH" ] || [ -e "$REAL_OWNER_FILE" ] || [ -d "$REAL_DIR" ]; then
    down
  fi
  mkdir -p "$REAL_DIR" "$LOG_DIR" "$RUN_DIR" "$IMAGES_DIR/registry"
  echo "$STATE_DIR" > "$REAL_OWNER_FILE"

  local p s
  : > "$REAL_DIR/created-paths"
  for p in $FIXED_PATHS; do [ -e "$p" ] || echo "$p" >> "$REAL_DIR/created-paths"; done
  : > "$REAL_DIR/sysctls"
  for s in $SYSCTLS; do echo "$s=$(sysctl -n "$s")" >> "$REAL_DIR/sysctls"; done

  say "real node: network namespace $REAL_NETNS ($REAL_HOST_IP <-> $REAL_NODE_IP)"
  ip netns add "$REAL_NETNS"
  ip link add "$REAL_VETH_HOST" type veth peer name "$REAL_VETH_NODE" netns "$REAL_NETNS"
  ip addr add "$REAL_HOST_IP/30" dev "$REAL_VETH_HOST"
  ip link set "$REAL_VETH_HOST" up
  innet ip addr add "$REAL_NODE_IP/30" dev "$REAL_VETH_NODE"
  innet ip link set "$REAL_VETH_NODE" up
  innet ip link set lo up
  # Before any pod exists: nothing from a pod leaves through the veth, nothing enters pods by it.
  innet iptables -I FORWARD -o "$REAL_VETH_NODE" -j DROP
  innet iptables -I FORWARD -i "$REAL_VETH_NODE" -j DROP

  cat > "$REAL_DIR/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $IMAGES_DIR/registry}
  delete: {enabled: true}
http:
  addr: $REGISTRY
EOF
  start registry docker-registry serve "$REAL_DIR/registry.yml"
  wait_for "registry on $REGISTRY" 20 curl -sf "http://$REGISTRY/v2/"
  # The kubelet reaches the API server (127.0.0.1 in the root namespace) through this.
  start apiserver-forward socat "TCP-LISTEN:$APISERVER_PORT,bind=$REAL_HOST_IP,reuseaddr,fork" \
    "TCP:127.0.0.1:$APISERVER_PORT"

  local agent_image pause_archive
  agent_image=$("$TESTENV_DIR/images.sh" push "$REGISTRY" "$REAL_DIR/registry.yml")
  pause_archive=$("$TESTENV_DIR/images.sh" pause-archive)
  local pause_ref; pause_ref="localhost/kodama-testenv/pause:$(basename "$pause_archive" .tar | sed 's/^pause-//')"

  if [ ! -f "$PKI_DIR/$REAL_NODE_NAME.crt" ]; then
    cert "$REAL_NODE_NAME" "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" "extendedKeyUsage=clientAuth"
    cert "$REAL_NODE_NAME-serving" "/CN=$REAL_NODE_NAME" "extendedKeyUsage=serverAuth
subjectAltName=IP:$REAL_NODE_IP,DNS:$REAL_NODE_NAME"
    chmod 600 "$PKI_DIR"/*.key
  fi

  mkdir -p "$REAL_DIR/cni" "$CONTAINERD_ROOT"
  cat > "$REAL_DIR/cni/10-kodama.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kodama-testenv",
  "plugins": [
    {"type": "bridge", "bridge": "kdm-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$REAL_POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$REAL_DIR/cni-ipam"}},
    {"type": "loopback"}
  ]
}
EOF
  cat > "$REAL_DIR/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$REAL_DIR/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "$REAL_DIR/runc"
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$REAL_DIR/cni"
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."$REGISTRY"]
  endpoint = ["http://$REGISTRY"]
EOF
  say "real node: containerd and kubelet $K8S_VERSION in $REAL_NETNS"
  start containerd nsenter --net="$NETNS_PATH" containerd --config "$REAL_DIR/containerd.toml"
  wait_for containerd 30 nctr version
  nctr images import "$pause_archive" >/dev/null
  nctr images label "$pause_ref" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
  # Earlier agent builds pulled into the cached containerd root only take disk: keep the
  # images (each under its tag, digest and ID references) of this agent build and pause.
  local keep
  keep=$(nctr images ls | awk -v a="$agent_image" -v p="$pause_ref" '$1 == a || $1 == p {print $3}')
  nctr images ls | awk 'NR > 1 {print $1, $3}' | while read -r ref digest; do
    grep -qxF "$digest" <<< "$keep" || nctr images rm "$ref" >/dev/null 2>&1 || true
  done

  # Our own cgroup root in every v1 hierarchy; cpuset needs its cpus and mems before use.
  local h
  for h in /sys/fs/cgroup/*/; do
    case "$h" in */unified/) continue ;; esac
    mkdir -p "$h${CGROUP_ROOT#/}"
  done
  cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.mems"

  local b64ca; b64ca=$(base64 -w0 < "$PKI_DIR/ca.crt")
  umask 077
  cat > "$REAL_DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kodama-testenv
  cluster:
    server: https://$REAL_HOST_IP:$APISERVER_PORT
    tls-server-name: kubernetes
    certificate-authority-data: $b64ca
users:
- name: node
  user:
    client-certificate: $PKI_DIR/$REAL_NODE_NAME.crt
    client-key: $PKI_DIR/$REAL_NODE_NAME.key
contexts:
- name: node
  context: {cluster: kodama-testenv, user: node}
current-context: node
EOF
  umask 022
  cat > "$REAL_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $REAL_NODE_IP
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI_DIR/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI_DIR/$REAL_NODE_NAME-serving.crt
tlsPrivateKeyFile: $PKI_DIR/$REAL_NODE_NAME-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
podLogsDir: $REAL_DIR/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1Gi, imagefs.available: 1Gi}
serializeImagePulls: false
maxPods: 30
registerNode: true
EOF
  local since; since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  start kubelet nsenter --net="$NETNS_PATH" "$BIN_DIR/kubelet" --config "$REAL_DIR/kubelet.yaml" \
    --kubeconfig "$REAL_DIR/kubeconfig" --root-dir "$REAL_DIR/kubelet" --cert-dir "$REAL_DIR/kubelet-pki" \
    --hostname-override "$REAL_NODE_NAME" --node-ip "$REAL_NODE_IP" --v=1
  # The Node object may be left from an earlier kubelet: wait for this one's heartbeat.
  wait_for "node $REAL_NODE_NAME Ready" 60 node_ready_since "$since"
  # Pods go to the real node unless they tolerate the simulated one (bench: many sessions).
  kctl taint node "$NODE_NAME" "$SIMULATED_TAINT=true:NoSchedule" --overwrite >/dev/null
  echo "$agent_image" > "$STATE_DIR/agent-image"
  say "real node $REAL_NODE_NAME Ready in $(( $(date +%s) - t0 ))s; agent image $agent_image"
}

# --- down -----------------------------------------------------------------------------------
stop_components() { # names: TERM their process groups together, KILL what is left after 5 s
  local c pid pids=""
  for c in "$@"; do
    pid=$(component_pid "$c")
    if running "$pid"; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids="$pids $pid"
    fi
    rm -f "$RUN_DIR/$c.pid"
  done
  for _ in $(seq 1 50); do
    local left=""
    for pid in $pids; do running "$pid" && left="$left $pid"; done
    pids=$left
    [ -z "$pids" ] && return 0
    sleep 0.1
  done
  for pid in $pids; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
}

# pids_matching STRING: processes whose command line holds STRING (containerd's shims).
pids_matching() {
  grep -laF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true
}

unmount_under() { # every mount at or under one of the given paths, deepest first
  local m
  awk '{print $2}' /proc/mounts | sed 's/\\040/ /g' | while read -r m; do
    for p in "$@"; do case "$m" in "$p"|"$p"/*) echo "$m" ;; esac; done
  done | sort -r -u | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

down() {
  local owner owner_dir t0 pid c; t0=$(date +%s)
  owner=$(cat "$REAL_OWNER_FILE" 2>/dev/null || true)
  # Another plane's node that still runs is not ours to stop; one whose plane died is cleaned.
  if [ -n "$owner" ] && [ "$owner" != "$STATE_DIR" ] && running_owner >/dev/null; then return 0; fi
  owner_dir="${owner:-$STATE_DIR}/real"
  [ -d "$owner_dir" ] || [ -e "$NETNS_PATH" ] || [ -f "$REAL_OWNER_FILE" ] || return 0
  local run_dir="${owner_dir%/real}/run"

  if apiserver_ready; then
    kctl taint node "$NODE_NAME" "$SIMULATED_TAINT-" >/dev/null 2>&1 || true
  fi
  RUN_DIR="$run_dir" stop_components kubelet
  # Containers go through containerd while it runs: it unmounts their root filesystems.
  if [ -S "$owner_dir/containerd.sock" ]; then
    local sock="$owner_dir/containerd.sock"
    for c in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
    done
    for c in $(ctr --address "$sock" -n k8s.io containers ls -q 2>/dev/null); do
      timeout 10 ctr --address "$sock" -n k8s.io tasks delete --force "$c" >/dev/null 2>&1 || true
      timeout 10 ctr --address "$sock" -n k8s.io containers delete "$c" >/dev/null 2>&1 || true
    done
  fi
  # Whatever still runs in a pod's cgroup (containerd gone before its containers, say).
  for c in $(cgroup_dirs); do
    for pid in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  RUN_DIR="$run_dir" stop_components containerd apiserver-forward registry
  for pid in $(pids_matching "$owner_dir/containerd.sock"); do kill -KILL "$pid" 2>/dev/null || true; done

  unmount_under "$owner_dir" "$CONTAINERD_ROOT" /var/lib/kubelet /run/containerd
  if [ -e "$NETNS_PATH" ]; then ip netns delete "$REAL_NETNS" 2>/dev/null || umount -l "$NETNS_PATH" 2>/dev/null || true; fi
  rm -f "$NETNS_PATH"
  ip link delete "$REAL_VETH_HOST" 2>/dev/null || true
  for c in $(cgroup_dirs); do
    for _ in $(seq 1 30); do rmdir "$c" 2>/dev/null && break; sleep 0.1; done
  done

  if [ -f "$owner_dir/sysctls" ]; then
    while IFS='=' read -r k v; do
      [ -n "$k" ] && [ "$(sysctl -n "$k")" != "$v" ] && sysctl -q -w "$k=$v" >/dev/null
    done < "$owner_dir/sysctls"
  fi
  if [ -f "$owner_dir/created-paths" ]; then
    while read -r p; do
      [ -n "$p" ] || continue
      # /run/netns is a mount point once `ip netns add` made it; gone only when empty.
      if [ "$p" = /run/netns ]; then
        [ -z "$(ls -A /run/netns 2>/dev/null)" ] && { umount /run/netns 2>/dev/null || true; rmdir /run/netns 2>/dev/null || true; }
        continue
      fi
      unmount_under "$p"
      rm -rf --one-file-system "$p"
    done < "$owner_dir/created-paths"
  fi
  if awk '{print $2}' /proc/mounts | grep -q "^$owner_dir/"; then
    say "warning: mounts left under $owner_dir; not removing it"
  else
    rm -rf --one-file-system "$owner_dir"
  fi
  rm -f "$REAL_OWNER_FILE" "${owner_dir%/real}/agent-image"
  say "real node down ($(( $(date +%s) - t0 ))s)"
}

lock_state
# One real node per host: planes in other state folders wait for each other here.
host_lock() { exec 6>"${TMPDIR:-/tmp}/kodama-testenv-real.flock"; flock 6; }
case "${1:-}" in
  up) check_prerequisites; host_lock; up ;;
  down)
    if [ "$(id -u)" -ne 0 ]; then
      [ -d "$REAL_DIR" ] || [ "$(cat "$REAL_OWNER_FILE" 2>/dev/null)" = "$STATE_DIR" ] || exit 0
      die "stopping the real node needs root"
    fi
    host_lock; down ;;
  healthy) healthy ;;
  check) check_prerequisites; host_lock; check ;;
  *) die "usage: realnode.sh up | down | check | healthy" ;;
esac
