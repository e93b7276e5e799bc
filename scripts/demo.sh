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

bold "The test control plane: a real kube-apiserver, etcd, scheduler and controller-manager, and a kwok node"
k get nodes -o wide
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - >/dev/null
k label namespace "$NS" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null

# The simulated node runs no images: the "agent" is a stand-in shell loop, run through exec.
cat > "$KODAMA_HOME/config.yaml" <<'YAML'
image: ghcr.io/kodama-dev/agent:latest
agent:
  command: "sh -c 'echo demo agent ready; while :; do sleep 3600; done'"
  kind: other
sync:
  enabled: false
YAML

bold "A local repository with an unpushed commit"
git init -q -b main "$WORK/app"
cd "$WORK/app"
git config user.email demo@example.com; git config user.name Demo
echo 'print("hello")' > app.py; git add app.py; git commit -qm "first commit"
echo 'print("hello, kodama")' > app.py; git commit -qam "unpushed change"
git log --oneline

bold "start: PVCs (workspace + agent HOME), pod, branch kodama/fix-login, repository shipped in"
run kubectl-kodama --kubeconfig "$KUBECONFIG_PATH" -n "$NS" start fix-login --cpu 500m --memory 1Gi

bold "list and get"
run kk list
run kk get fix-login

bold "The workspace in the pod is a git checkout on the session branch"
run kk attach fix-login -- git log --oneline -2
run kk attach fix-login -- sh -c 'echo "work done in the pod" > NOTES.md && git add NOTES.md && git -c user.email=a@b -c user.name=agent commit -qm "agent: add notes" && git log --oneline -1'

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
