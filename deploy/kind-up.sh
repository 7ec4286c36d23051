#!/usr/bin/env bash
# Create the kind cluster of k8s/kind/cluster.yaml (control plane + cpu worker + "gpu" worker),
# sharing the host data root with both workers. Idempotent. Needs docker, kind, kubectl.
# kind cannot run where no registry is reachable (for its node image): run it on a
# machine with Docker and internet access.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
CLUSTER=${KIND_CLUSTER:-mlops}
DATA_ROOT=$(realpath -m "${MLOPS_DATA_ROOT:-$ROOT/.data}")
need docker kind kubectl
docker info >/dev/null 2>&1 || die "no Docker engine answers (deploy/docker-engine.sh starts one)"

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "kind cluster $CLUSTER already exists"
else
  mkdir -p "$DATA_ROOT" "$ROOT/build/kind"
  chmod a+rwX "$DATA_ROOT"  # training pods run as uid 10001
  sed "s|hostPath: /tmp/mlops-kind-data|hostPath: $DATA_ROOT|" "$ROOT/k8s/kind/cluster.yaml" >"$ROOT/build/kind/cluster.yaml"
  log "creating kind cluster $CLUSTER (data root $DATA_ROOT)"
  kind create cluster --name "$CLUSTER" --config "$ROOT/build/kind/cluster.yaml" --wait 5m
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null
kubectl wait --for=condition=Ready nodes --all --timeout=300s
kubectl get nodes -L mlops.io/node-pool
