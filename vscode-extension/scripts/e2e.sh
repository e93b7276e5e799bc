#!/usr/bin/env bash
# End-to-end test of the VS Code extension in a real VS Code (code-server) driven by Chromium:
# Start Session from the command palette, Enter x3 (suggested name) -> pod Running on the test control plane -> Attach
# opens a terminal -> screenshot at artifacts/vscode-e2e.png. Exits non-zero on failure.
#
# Env: KUBECONFIG_PATH (default <repo>/.testenv/kubeconfig), KODAMA_NAMESPACE (default
# kodama-e2e-vscode), KODAMA_LSP (default <repo>/.venv/bin/kodama-lsp). Optional:
# E2E_TESTENV=own (bring up a private test control plane for this run, on ports from
# E2E_TESTENV_PORT_BASE, default 27400, and take it down after; ignores KUBECONFIG_PATH),
# KODAMA_E2E_CACHE (default ~/.cache/kodama-e2e), E2E_ARTIFACTS (default <repo>/artifacts),
# KODAMA_E2E_IMAGE, KODAMA_MUTAGEN, E2E_KEEP=1 (keep the temp dir and the session).
set -euo pipefail

EXT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$EXT/.." && pwd)"
KUBECONFIG_PATH="${KUBECONFIG_PATH:-$ROOT/.testenv/kubeconfig}"
KODAMA_NAMESPACE="${KODAMA_NAMESPACE:-kodama-e2e-vscode}"
KODAMA_LSP="${KODAMA_LSP:-$ROOT/.venv/bin/kodama-lsp}"
ARTIFACTS="${E2E_ARTIFACTS:-$ROOT/artifacts}"
# The test plane's agent image (its real node pulls it from the plane's registry).
PLANE_IMAGE="$(cat "$ROOT/.testenv/agent-image" 2>/dev/null || true)"
IMAGE="${KODAMA_E2E_IMAGE:-${PLANE_IMAGE:-kodama-e2e/agent:test}}"
SESSION="${E2E_SESSION:-vsc-e2e-$(date +%s | tail -c 6)}"
export KODAMA_E2E_CACHE="${KODAMA_E2E_CACHE:-$HOME/.cache/kodama-e2e}"

say() { printf 'e2e.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s; }
T0=$(now)

WORK=""
CS_PID=""
OWN_TESTENV=""
cleanup() {
  local rc=$?
  if [[ -n "$CS_PID" ]]; then
    # code-server was started in its own process group: end it, its extension host and the server.
    kill -TERM -- "-$CS_PID" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$CS_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$CS_PID" 2>/dev/null || true
  fi
  if [[ -n "$WORK" ]] && ((rc != 0)); then
    say "code-server log (tail):"; tail -n 40 "$WORK/code-server.log" >&2 || true
    while IFS= read -r f; do
      say "output channel $f (tail):"; tail -n 80 "$f" >&2
    done < <(find "$WORK/user/logs" -name '*Kodama*.log' 2>/dev/null)
    cp "$WORK/code-server.log" "$ARTIFACTS/vscode-e2e-code-server.log" 2>/dev/null || true
  fi
  if [[ "${E2E_KEEP:-}" == 1 ]]; then
    say "kept ${WORK:-nothing}, session $SESSION${OWN_TESTENV:+ and the control plane in $OWN_TESTENV}"
  else
    if [[ -n "$WORK" ]]; then
      kodama_cli="$(dirname "$KODAMA_LSP")/kubectl-kodama"
      if [[ -x "$kodama_cli" ]]; then
        "$kodama_cli" --kubeconfig "$KUBECONFIG_PATH" -n "$KODAMA_NAMESPACE" delete "$SESSION" --yes >/dev/null 2>&1 || true
      fi
      # delete stops the sync; this also ends Kodama's mutagen daemon if anything was left.
      mutagen_bin="${KODAMA_MUTAGEN:-$(command -v mutagen || true)}"
      if [[ -n "$mutagen_bin" && -d "$WORK/kodama-home/mutagen" ]]; then
        MUTAGEN_DATA_DIRECTORY="$WORK/kodama-home/mutagen" "$mutagen_bin" daemon stop >/dev/null 2>&1 || true
      fi
      rm -rf "$WORK"
    fi
    if [[ -n "$OWN_TESTENV" ]]; then
      KODAMA_TESTENV_STATE="$OWN_TESTENV" KODAMA_TESTENV_PORT_BASE="$OWN_PORT_BASE" "$ROOT/tests/testenv/down" >&2 || true
      rm -rf "$OWN_TESTENV"
    fi
  fi
  say "total: $(($(now) - T0)) s, exit $rc"
  exit "$rc"
}
trap cleanup EXIT

if [[ "${E2E_TESTENV:-}" == own ]]; then
  # A private control plane: the shared one may be taken down by other test runs meanwhile.
  OWN_TESTENV="$(mktemp -d "${TMPDIR:-/tmp}/kodama-vscode-testenv.XXXXXX")"
  OWN_PORT_BASE="${E2E_TESTENV_PORT_BASE:-27400}"
  KODAMA_TESTENV_STATE="$OWN_TESTENV" KODAMA_TESTENV_PORT_BASE="$OWN_PORT_BASE" "$ROOT/tests/testenv/up" >&2
  KUBECONFIG_PATH="$OWN_TESTENV/kubeconfig"
  say "private control plane: $(($(now) - T0)) s"
fi

KUBECONFIG_PATH="$(realpath "$KUBECONFIG_PATH" 2>/dev/null || echo "$KUBECONFIG_PATH")"
KODAMA_LSP="$(realpath "$KODAMA_LSP" 2>/dev/null || echo "$KODAMA_LSP")"
[[ -r "$KUBECONFIG_PATH" ]] || die "no kubeconfig at $KUBECONFIG_PATH (bring up the test control plane: tests/testenv/up)"
[[ -x "$KODAMA_LSP" ]] || die "no kodama-lsp at $KODAMA_LSP (make dev, or set KODAMA_LSP)"

# --- system packages (Debian): Chromium for Playwright, libkrb5-dev + ripgrep for code-server.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v git >/dev/null || missing+=(git)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

# --- the extension, built and packaged as users get it.
cd "$EXT"
[[ -d node_modules ]] || npm ci --no-audit --no-fund >&2
npm run --silent compile >&2
npm run --silent package >&2
VSIX="$EXT/out/kodama.vsix"
CODE_SERVER="$("$EXT/scripts/install-code-server.sh")"
say "build and install: $(($(now) - T0)) s"

# --- a throw-away world: git workspace, VS Code profile, KODAMA_HOME.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kodama-vscode-e2e.XXXXXX")"
REPO="$WORK/repo"
mkdir -p "$REPO" "$WORK/user/User" "$WORK/ext" "$WORK/kodama-home" "$ARTIFACTS"
rm -f "$ARTIFACTS"/vscode-e2e*.png "$ARTIFACTS/vscode-e2e-code-server.log"
# The branch is named after the session: "Start Session" suggests the branch's name, and the
# e2e accepts the suggestion with Enter.
git -C "$REPO" init -q -b "$SESSION"
git -C "$REPO" config user.email e2e@kodama.invalid
git -C "$REPO" config user.name "Kodama e2e"
printf '# e2e repository\n' > "$REPO/README.md"
git -C "$REPO" add README.md
git -C "$REPO" commit -q -m "initial commit"

cat > "$WORK/kodama-home/config.yaml" <<YAML
image: "$IMAGE"
agent:
  command: "sh -c 'while true; do sleep 3600; done'"
YAML

cat > "$WORK/user/User/settings.json" <<JSON
{
  "kodama.server.path": "$KODAMA_LSP",
  "kodama.kubeconfig": "$KUBECONFIG_PATH",
  "kodama.namespace": "$KODAMA_NAMESPACE",
  "kodama.refreshInterval": 2,
  "kodama.trace.server": "messages",
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "telemetry.telemetryLevel": "off"
}
JSON

# Sync needs mutagen: KODAMA_MUTAGEN, else mutagen on PATH, else the one the test control plane built.
if [[ -z "${KODAMA_MUTAGEN:-}" ]] && ! command -v mutagen >/dev/null; then
  for m in "${KODAMA_TESTENV_CACHE:-$HOME/.cache/kodama-testenv}"/*/bin/mutagen; do
    [[ -x "$m" ]] && export KODAMA_MUTAGEN="$m"
  done
fi
export KODAMA_HOME="$WORK/kodama-home"
export KUBECACHEDIR="$WORK/kube-cache"
kc() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }
kc get namespace "$KODAMA_NAMESPACE" >/dev/null 2>&1 || kc create namespace "$KODAMA_NAMESPACE" >&2

# Keep code-server's own config file out of the user's ~/.config.
export XDG_CONFIG_HOME="$KODAMA_E2E_CACHE/config"
"$CODE_SERVER" --user-data-dir "$WORK/user" --extensions-dir "$WORK/ext" --install-extension "$VSIX" --force >&2

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
setsid "$CODE_SERVER" --auth none --bind-addr "127.0.0.1:$PORT" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --user-data-dir "$WORK/user" --extensions-dir "$WORK/ext" "$REPO" \
  >"$WORK/code-server.log" 2>&1 &
CS_PID=$!
for _ in $(seq 120); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$CS_PID" 2>/dev/null || die "code-server exited"
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || die "code-server did not answer on port $PORT"
say "code-server on port $PORT"

T1=$(now)
E2E_URL="http://127.0.0.1:$PORT" E2E_WORKSPACE="$REPO" E2E_SESSION="$SESSION" E2E_ARTIFACTS="$ARTIFACTS" \
  KUBECONFIG_PATH="$KUBECONFIG_PATH" KODAMA_NAMESPACE="$KODAMA_NAMESPACE" \
  node "$EXT/out/tsc/e2e/run.js"
say "browser part: $(($(now) - T1)) s"
