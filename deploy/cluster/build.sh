#!/usr/bin/env bash
# Build the local cluster's binaries from the Go module proxy (deploy/cluster/components):
#   k8s    one multi-call binary: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#          kube-proxy and etcd (dispatch on argv[0] or the first argument)
#   pause  the pod sandbox process (static, for the locally built sandbox image)
#   coredns the cluster DNS (deploy/cluster/coredns: upstream CoreDNS with the plugins it uses)
# Versions are pinned in each module's go.mod and their content in go.sum. Binaries are cached by a
# key over go.mod, go.sum, the sources and the Go version: a warm run only relinks the symlinks.
#
# Usage: deploy/cluster/build.sh [OUT_DIR]      (default: build/cluster)
# Prints the directory holding the binaries (and one symlink per component) on stdout.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ROOT=$(repo_root)
SRC="$ROOT/deploy/cluster/components"
OUT=${1:-$ROOT/build/cluster}
need go
K8S_VERSION=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$SRC/go.mod")
[[ -n $K8S_VERSION ]] || die "no k8s.io/kubernetes requirement in $SRC/go.mod"
mapfile -t sources < <(find "$SRC/cmd" -name '*.go' | sort)
key=$(cat "$SRC/go.mod" "$SRC/go.sum" "${sources[@]}" <(go version) | sha256sum | cut -c1-12)
bin="$OUT/$K8S_VERSION-$key"
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy etcd)

if [[ -x $bin/k8s && -x $bin/pause ]]; then
  log "cluster binaries $K8S_VERSION ($key) cached in $bin"
else
  mkdir -p "$bin.partial"
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  # The version the components report (kubectl version, node info, discovery).
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  start=$(date +%s)
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, etcd ($K8S_VERSION) as one binary"
  (cd "$SRC" && go build -trimpath -ldflags "$ldflags" -o "$bin.partial/k8s" ./cmd/k8s)
  (cd "$SRC" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.partial/pause" ./cmd/pause)
  rm -rf "$bin" && mv "$bin.partial" "$bin"
  log "built in $(($(date +%s) - start))s: k8s $(du -h "$bin/k8s" | cut -f1), pause $(du -h "$bin/pause" | cut -f1)"
fi

# CoreDNS: its own module (its dependency versions are not the Kubernetes components'), own cache key.
DNS_SRC="$ROOT/deploy/cluster/coredns"
DNS_VERSION=$(awk '{for (i = 1; i < NF; i++) if ($i == "github.com/coredns/coredns") {print $(i + 1); exit}}' "$DNS_SRC/go.mod")
[[ -n $DNS_VERSION ]] || die "no github.com/coredns/coredns requirement in $DNS_SRC/go.mod"
dns_key=$(cat "$DNS_SRC/go.mod" "$DNS_SRC/go.sum" "$DNS_SRC"/*.go <(go version) | sha256sum | cut -c1-12)
dns="$OUT/coredns-$DNS_VERSION-$dns_key"
if [[ -x $dns/coredns ]]; then
  log "coredns $DNS_VERSION ($dns_key) cached in $dns"
else
  start=$(date +%s)
  log "building coredns $DNS_VERSION"
  mkdir -p "$dns.partial"
  (cd "$DNS_SRC" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dns.partial/coredns" .)
  rm -rf "$dns" && mv "$dns.partial" "$dns"
  log "built in $(($(date +%s) - start))s: coredns $(du -h "$dns/coredns" | cut -f1)"
fi
ln -sfn "../$(basename "$dns")/coredns" "$bin/coredns"
for component in "${COMPONENTS[@]}"; do ln -sfn k8s "$bin/$component"; done
ln -sfn "$(basename "$bin")" "$OUT/current"
echo "$bin"
