#!/usr/bin/env bash
# A whole session lifecycle on the local test control plane (make demo).
# Uses a throwaway git repository and a throwaway KODAMA_HOME; touches nothing of yours.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KUBECONFIG_PATH="$ROOT/.testenv/kubeconfig"
NS=kodama-demo
WORK="$(mktemp -d)"
export KODAMA_HOME="$WORK/kodama-home"
export KUBECACHEDIR="$ROOT/.testenv/kube-cache"
mkdir -p "$KODAMA_HOME"
trap 'rm -rf "$WORK"' EXIT

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[36m$ %s\033[0m\n' "$*"; "$@"; }
k() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }
kk() { kubectl-kodama --kubeconfig "$KUBECONFIG_PATH" -n "$NS" "$@"; }

bold "The test control plane: a real kube-apiserver, etcd, scheduler and controller-manager; a real node (kubelet + containerd) and a simulated one (kwok)"
k get nodes -o wide
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - >/dev/null
k label namespace "$NS" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null

IMAGE_REF="$ROOT/.testenv/agent-image"
if [ -s "$IMAGE_REF" ]; then
  REAL=1
  # Claude Code in the pod talks to a LOCAL STAND-IN for the Anthropic Messages API
  # (tests/fixtures/messages_api.py): nothing leaves this machine, the answers are scripted.
  source "$ROOT/tests/testenv/lib.sh"
  STUB_OUT="$WORK/stub.out"
  (cd "$ROOT" && exec nsenter --net="/run/netns/$REAL_NETNS" python3 -m tests.fixtures.messages_api \
    --host "$REAL_NODE_IP" >"$STUB_OUT" 2>/dev/null) &
  STUB_PID=$!
  trap 'kill $STUB_PID 2>/dev/null; rm -rf "$WORK"' EXIT
  for _ in $(seq 50); do grep -q PORT "$STUB_OUT" && break; sleep 0.1; done
  API="http://$REAL_NODE_IP:$(awk '/PORT/ {print $2}' "$STUB_OUT")"
  curl -fsS -X PUT "$API/_stub/script" -o /dev/null -d '[
    {"content": [{"type": "text", "text": "I will leave a note for the team."},
                 {"type": "tool_use", "name": "Write", "input": {"file_path": "/workspace/NOTES.md",
                  "content": "# Notes\n\nThe greeting now says hello to kodama.\n"}}]},
    {"content": [{"type": "text", "text": "Done: NOTES.md explains the change."}]}]'
  export ANTHROPIC_API_KEY="sk-ant-demo-not-a-real-key-0123456789"
  cat > "$KODAMA_HOME/config.yaml" <<YAML
image: $(cat "$IMAGE_REF")
sync:
  enabled: false
env:
  ANTHROPIC_BASE_URL: $API          # the local stand-in, not Anthropic
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
  DISABLE_TELEMETRY: "1"
YAML
  echo "Claude Code $(grep -o 'CLAUDE_CODE_VERSION=[0-9.]*' "$ROOT/images/agent/Dockerfile" | cut -d= -f2) runs in the pod against a local stand-in of the Messages API at $API"
else
  REAL=0
  # No real node (KODAMA_TESTENV_REAL_NODE=0): the simulated node runs no images, so the "agent"
  # is a stand-in shell loop, run through exec on this host.
  cat > "$KODAMA_HOME/config.yaml" <<'YAML'
image: ghcr.io/kodama-dev/agent:latest
agent:
  command: "sh -c 'echo demo agent ready; while :; do sleep 3600; done'"
  kind: other
sync:
  enabled: false
YAML
fi

bold "A local repository with an unpushed commit"
git init -q -b main "$WORK/app"
cd "$WORK/app"
git config user.email demo@example.com; git config user.name Demo
echo 'print("hello")' > app.py; git add app.py; git commit -qm "first commit"
echo 'print("hello, kodama")' > app.py; git commit -qam "unpushed change"
git log --oneline

if [ "$REAL" = 1 ]; then
  bold "start --prompt: PVCs (workspace + agent HOME), pod, branch kodama/fix-login, repository shipped in, Claude Code run headless"
  run kubectl-kodama --kubeconfig "$KUBECONFIG_PATH" -n "$NS" start fix-login --cpu 500m --memory 1Gi \
    --prompt "Write NOTES.md explaining the unpushed change"
  run kk wait fix-login --for=exited --timeout 120
  bold "logs: Claude Code's turn (stream-json, rendered)"
  run kk logs fix-login
  bold "Inside the pod: a real container on the real node, uid 1000, the agent image, tmux"
  run kk attach fix-login -- sh -c 'id; echo "image: $(sed -n "s/^PRETTY_NAME=//p" /etc/os-release)"; tmux -V; claude --version; cat NOTES.md'
else
  bold "start: PVCs (workspace + agent HOME), pod, branch kodama/fix-login, repository shipped in"
  run kubectl-kodama --kubeconfig "$KUBECONFIG_PATH" -n "$NS" start fix-login --cpu 500m --memory 1Gi
fi

bold "list and get"
run kk list
run kk get fix-login

bold "The workspace in the pod is a git checkout on the session branch"
run kk attach fix-login -- git log --oneline -2
run kk attach fix-login -- sh -c 'echo "work done in the pod" >> NOTES.md && git add NOTES.md && git -c user.email=a@b -c user.name=agent commit -qm "agent: add notes" && git log --oneline -1'

bold "stop: the pod goes, both PVCs stay"
run kk stop fix-login
k -n "$NS" get pods,pvc -l app.kubernetes.io/managed-by=kodama

bold "resume: a new pod on the same PVCs; the agent's commit is still there"
run kk resume fix-login
run kk attach fix-login -- git log --oneline -1

if kk fetch --help >/dev/null 2>&1; then
  bold "fetch: bring the session branch back"
  run kk fetch fix-login
  git log --oneline -1 kodama/fix-login
fi

bold "delete: nothing labelled by Kodama is left"
run kk delete fix-login --yes
k -n "$NS" get all,pvc,secret -l app.kubernetes.io/managed-by=kodama
printf '\nDemo finished. The control plane keeps running: `tests/testenv/down` stops it.\n'
