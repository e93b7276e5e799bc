#!/usr/bin/env bash
# Installs code-server (VS Code in the browser) into a cache outside the checkout, idempotently.
# Prints the path of its launcher on stdout. Needs: libkrb5-dev and ripgrep (apt), npm.
set -euo pipefail

VERSION="${CODE_SERVER_VERSION:-4.100.3}"
CACHE="${KODAMA_E2E_CACHE:-$HOME/.cache/kodama-e2e}"
PREFIX="$CACHE/code-server-$VERSION"
BIN="$PREFIX/node_modules/.bin/code-server"

if [[ -x "$BIN" ]] && XDG_CONFIG_HOME="$CACHE/config" "$BIN" --version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

# code-server's @vscode/ripgrep postinstall downloads rg from GitHub; seed its cache with
# Debian's rg so the install works with only the npm registry reachable.
RG="$(command -v rg || true)"
if [[ -z "$RG" ]]; then
  echo "install-code-server: ripgrep (rg) is missing: apt-get install -y ripgrep" >&2
  exit 1
fi
TMP="${TMPDIR:-/tmp}"
SEED_DIR="$TMP/vscode-ripgrep-cache-1.15.11"
SEED="$SEED_DIR/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [[ ! -s "$SEED" ]]; then
  mkdir -p "$SEED_DIR"
  work="$(mktemp -d)"
  cp "$RG" "$work/rg"
  tar -C "$work" -czf "$SEED" rg
  rm -rf "$work"
fi

rm -rf "$PREFIX.partial"
mkdir -p "$PREFIX.partial"
echo "install-code-server: npm install code-server@$VERSION into $PREFIX (about a minute)" >&2
(
  cd "$PREFIX.partial"
  echo '{"name":"kodama-e2e-code-server","private":true}' > package.json
  npm_config_unsafe_perm=true npm_config_yes=true npm_config_fund=false npm_config_audit=false \
    npm install --no-save --loglevel=error "code-server@$VERSION" >&2
)
rm -rf "$PREFIX"
mv "$PREFIX.partial" "$PREFIX"
XDG_CONFIG_HOME="$CACHE/config" "$BIN" --version >&2
echo "$BIN"
