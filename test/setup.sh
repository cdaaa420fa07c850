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

# The render tests' oracle: kubectl with Kustomize v5.5.0 (kubectl v1.32). Debian's own packages do
# not carry it (bookworm's kubernetes-client is v1.20, kustomize v2); it comes from Kubernetes'
# release binaries (https://dl.k8s.io/release/v1.32.4/bin/linux/amd64/kubectl) or their apt
# repository (https://pkgs.k8s.io/core:/stable:/v1.32/deb/, package kubectl). Without it the golden
# comparisons still run and only the kubectl re-render checks are skipped; with CI set it is an error.
if ! command -v kubectl >/dev/null; then
  echo "setup: kubectl is not on PATH; the render tests need it as their oracle: install kubectl v1.32 (Kustomize v5.5.0) from https://dl.k8s.io/release/v1.32.4/bin/linux/amd64/kubectl or https://pkgs.k8s.io/core:/stable:/v1.32/deb/" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
elif ! kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5\.5\.0'; then
  echo "setup: $(command -v kubectl) is not kubectl v1.32 with Kustomize v5.5.0 (the version the render fixtures were made with): $(kubectl version --client 2>&1 | tr '\n' ' ')" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
fi
