#!/usr/bin/env bash
# Provides etcd, kube-apiserver, kube-controller-manager and kube-scheduler for the local
# harness and prints the directory that holds them. Order of preference:
#   1. $KUBEBUILDER_ASSETS (envtest layout; controller-manager and scheduler optional there)
#   2. a cached build under ${FLOTILLA_CACHE:-~/.cache/flotilla}/bin
#   3. on Debian: etcd from `etcd-server`, the rest built from Debian's `kubernetes` source package.
# Progress goes to stderr; the only line on stdout is the directory.
set -euo pipefail

cache="${FLOTILLA_CACHE:-$HOME/.cache/flotilla}"
bin="$cache/bin"
log() { printf '[install-binaries] %s\n' "$*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

# Bumped when the build recipe changes, so binaries built by an older recipe are rebuilt.
recipe=2
have_all() {
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler; do [ -x "$bin/$b" ] || return 1; done
  [ "$(cat "$bin/.recipe" 2>/dev/null)" = "$recipe" ]
}
if have_all; then
  log "using cached binaries in $bin"
  echo "$bin"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "no cached binaries in $bin and no apt-get: set KUBEBUILDER_ASSETS to a folder with etcd and kube-apiserver"
  exit 2
fi

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
mkdir -p "$bin"
# One build at a time: a second caller (another test process, another shell) waits for the first
# instead of wiping its build folder, then finds the binaries it built.
exec 9>"$cache/.install.lock"
if ! flock -n 9; then
  log "another install is running; waiting for it"
  flock 9
  if have_all; then echo "$bin"; exit 0; fi
fi
start=$(date +%s)

src_list=/etc/apt/sources.list.d/flotilla-deb-src.sources
if [ ! -f "$src_list" ] && ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "adding deb-src for bookworm"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  { echo "Types: deb-src"; echo "URIs: http://deb.debian.org/debian"; echo "Suites: bookworm"; echo "Components: main"
    [ -f "$keyring" ] && echo "Signed-By: $keyring"; } | sudo_ tee "$src_list" >/dev/null
fi
log "apt-get update"
sudo_ apt-get update -qq >&2
log "installing etcd-server golang-go rsync dpkg-dev golang-github-modern-go-reflect2-dev"
DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq etcd-server golang-go rsync dpkg-dev make golang-github-modern-go-reflect2-dev >&2
cp "$(command -v etcd)" "$bin/etcd"

if ! have_all; then
  work="$cache/build"
  rm -rf "$work" && mkdir -p "$work"
  log "fetching Debian's kubernetes source package"
  (cd "$work" && apt-get source -qq kubernetes >&2)
  srcdir=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
  # Kubernetes 1.20 vendors reflect2 v1.0.1, whose unsafe map iteration crashes binaries built with
  # Go >= 1.18 (SIGSEGV in mapiterinit, seen as soon as a custom resource is admitted). Debian's
  # reflect2 1.0.2 is the upstream fix; it replaces the vendored copy before the build.
  reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
  if [ -d "$reflect2" ]; then
    log "patching vendored reflect2 with Debian's 1.0.2"
    rm -rf "$srcdir/vendor/github.com/modern-go/reflect2"
    cp -r "$reflect2" "$srcdir/vendor/github.com/modern-go/reflect2"
    rm -f "$srcdir/vendor/github.com/modern-go/reflect2/go.mod" "$srcdir/vendor/github.com/modern-go/reflect2/"*_test.go
  fi
  log "building kube-apiserver, kube-controller-manager, kube-scheduler in $srcdir (about 6 minutes on 2 cores)"
  (cd "$srcdir" && GOFLAGS=-mod=vendor GO111MODULE=on make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >&2)
  out=$(find "$srcdir/_output" -type f -name kube-apiserver -path '*bin*' | head -n1)
  outdir=$(dirname "$out")
  for b in kube-apiserver kube-controller-manager kube-scheduler; do cp "$outdir/$b" "$bin/$b"; done
  echo "$recipe" > "$bin/.recipe"
  rm -rf "$work"
fi
log "binaries ready in $bin after $(( $(date +%s) - start )) s"
echo "$bin"
