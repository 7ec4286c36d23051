#!/usr/bin/env bash
# Build the local cluster's binaries from the Go module proxy (deploy/cluster/components):
#   k8s    one multi-call binary: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#          kube-proxy and etcd (dispatch on argv[0] or the first argument)
#   pause  the pod sandbox process (static, for the locally built sandbox image)
#   coredns the cluster DNS (deploy/cluster/coredns: upstream CoreDNS with the plugins it uses)
#   kube-router  the NetworkPolicy controller (deploy/cluster/kube-router: upstream kube-router)
#   spark-operator  the Kubeflow spark-operator's controller (deploy/cluster/spark-operator), which
#          runs in the cluster from an image of its own (deploy/cluster/spark-operator.sh)
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

# Add-ons in their own modules (their dependency versions are not the Kubernetes components'), each
# with its own cache key:
#   coredns      the cluster DNS (deploy/cluster/coredns: upstream CoreDNS, the plugins it uses)
#   kube-router  its NetworkPolicy controller only (deploy/cluster/kube-router: upstream kube-router
#                as a Go tool of that module; the bridge CNI itself enforces no NetworkPolicy)
#   spark-operator  SparkApplications (deploy/cluster/spark-operator: upstream cmd/operator as a tool)
build_addon() {  # build_addon NAME UPSTREAM_MODULE PACKAGE [VERSION_VAR]: prints the binary's directory
  local name=$1 upstream=$2 package=$3 version_var=${4:-} src="$ROOT/deploy/cluster/$1" version key dir start ldflags
  version=$(awk -v m="$upstream" '{for (i = 1; i < NF; i++) if ($i == m) {print $(i + 1); exit}}' "$src/go.mod")
  [[ -n $version ]] || die "no $upstream requirement in $src/go.mod"
  key=$(cat "$src/go.mod" "$src/go.sum" <(find "$src" -name '*.go' | sort | xargs -r cat) <(go version) | sha256sum | cut -c1-12)
  dir="$OUT/$name-$version-$key"
  if [[ -x $dir/$name ]]; then
    log "$name $version ($key) cached in $dir"
  else
    start=$(date +%s)
    log "building $name $version"
    mkdir -p "$dir.partial"
    ldflags="-s -w${version_var:+ -X $version_var=$version}"  # the version it reports
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir.partial/$name" "$package")
    rm -rf "$dir" && mv "$dir.partial" "$dir"
    log "built in $(($(date +%s) - start))s: $name $(du -h "$dir/$name" | cut -f1)"
  fi
  echo "$dir"
}
dns=$(build_addon coredns github.com/coredns/coredns .)
router=$(build_addon kube-router github.com/cloudnativelabs/kube-router/v2 \
  github.com/cloudnativelabs/kube-router/v2/cmd/kube-router github.com/cloudnativelabs/kube-router/v2/pkg/version.Version)
operator=$(build_addon spark-operator github.com/kubeflow/spark-operator/v2 \
  github.com/kubeflow/spark-operator/v2/cmd/operator github.com/kubeflow/spark-operator/v2.version)
ln -sfn "../$(basename "$dns")/coredns" "$bin/coredns"
ln -sfn "../$(basename "$operator")/spark-operator" "$bin/spark-operator"
ln -sfn "../$(basename "$router")/kube-router" "$bin/kube-router"
for component in "${COMPONENTS[@]}"; do ln -sfn k8s "$bin/$component"; done
ln -sfn "$(basename "$bin")" "$OUT/current"
echo "$bin"
