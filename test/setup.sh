#!/usr/bin/env bash
# Everything the tests need on a fresh Debian machine besides npm packages: git, an sshd for the
# SSH source tests, and the Kubernetes binaries (cached under ~/.cache/flotilla after the first run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
need=()
command -v git >/dev/null || need+=(git)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq "${need[@]}"
fi
bash "$here/../src/provision/local/install-binaries.sh" >/dev/null
