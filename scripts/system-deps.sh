#!/usr/bin/env bash
# Debian packages the tests and the demo need. Idempotent; quiet when everything is there.
set -euo pipefail
pkgs=(git tmux openssl curl iproute2 util-linux chromium libkrb5-dev ripgrep rsync
  # the test plane's real node: containers, CNI, containment, the registry and image builds
  containerd runc containernetworking-plugins iptables socat docker-registry
  mmdebstrap buildah gcc libc6-dev ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
