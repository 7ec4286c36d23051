#!/usr/bin/env bash
# The Kubeflow spark-operator on the local cluster (deploy/cluster/addons/spark-operator.yaml):
#   1. its controller binary, built from the Go module proxy (deploy/cluster/build.sh, cached);
#   2. an image: the tick-features image (Spark, Java, the rollup) plus that binary, so the operator's
#      spark-submit is the Spark version the application runs; imported into the cpu node;
#   3. the operator's CRDs, from the same module version (what its chart installs);
#   4. the controller in namespace spark-operator, watching namespace mlops, without the webhook.
# Idempotent. Called by deploy.sh for OVERLAY=local after the overlay is applied.
#
# Env: IMAGE_PREFIX (mlops/), IMAGE_TAG (git SHA): the tick-features image to build on;
#      KEEP_OLD_IMAGES=1 keeps older operator images in Docker (removed by default, as make images does).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ROOT=$(repo_root)
cd "$ROOT"
DIR=${MLOPS_CLUSTER_DIR:-$ROOT/.run/cluster}
export KUBECONFIG=$DIR/admin.kubeconfig
PREFIX=${IMAGE_PREFIX:-mlops/}
TAG=${IMAGE_TAG:-$(default_image_tag)}
MODULE=github.com/kubeflow/spark-operator/v2
need docker go kubectl
[[ -f $KUBECONFIG ]] || die "no local cluster ($KUBECONFIG missing): make cluster-up"
base=${PREFIX}tick-features:$TAG
docker image inspect "$base" >/dev/null 2>&1 || die "image $base missing: make images"

binary=$(readlink -f "$("$ROOT/deploy/cluster/build.sh")/spark-operator")
# Tagged by what it is made of: the application image's tag and the binary's content.
image=${PREFIX}spark-operator:$TAG-$(sha256sum "$binary" | cut -c1-8)
if ! docker image inspect "$image" >/dev/null 2>&1; then
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  cp "$binary" "$context/spark-operator"
  cat >"$context/Dockerfile" <<EOF
FROM $base
COPY spark-operator /usr/local/bin/spark-operator
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/spark-operator"]
EOF
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$context" >"$context/build.log" 2>&1 ||
    { cat "$context/build.log" >&2; die "building $image failed"; }
  log "built $image on $base"
fi
# Older operator images would keep older tick-features layers alive in Docker (about 1.4 GB each).
if [[ ${KEEP_OLD_IMAGES:-0} != 1 ]]; then
  docker images --format '{{.Repository}}:{{.Tag}}' "${PREFIX}spark-operator" | grep -vxF "$image" |
    xargs -r docker rmi >/dev/null || log "warning: could not remove older ${PREFIX}spark-operator images"
fi
MLOPS_LOAD_NODES=cpu "$ROOT/deploy/cluster/cluster.sh" load "$image"

# The CRDs of the module version built above (go.mod pins it), applied server-side: they are too
# large for the last-applied annotation of a client-side apply.
version=$(awk -v m="$MODULE" '{for (i = 1; i < NF; i++) if ($i == m) {print $(i + 1); exit}}' deploy/cluster/spark-operator/go.mod)
source_dir=$(cd deploy/cluster/spark-operator && go mod download -json "$MODULE@$version" | awk -F'"' '$2 == "Dir" {print $4}')
[[ -d $source_dir/config/crd/bases ]] || die "no CRDs in $source_dir (go mod download $MODULE@$version)"
kubectl apply --server-side --force-conflicts -f "$source_dir/config/crd/bases" >/dev/null
# (A CRD created a moment ago has no conditions yet, which `kubectl wait` takes for an error.)
retry_until 60 kubectl wait --for=condition=Established --timeout=5s \
  crd/sparkapplications.sparkoperator.k8s.io crd/scheduledsparkapplications.sparkoperator.k8s.io ||
  die "the spark-operator's CRDs were not established: $(kubectl get crd -o name | grep sparkoperator)"

sed "s|image: IMAGE|image: docker.io/$image|" deploy/cluster/addons/spark-operator.yaml | kubectl apply -f - >/dev/null
if ! kubectl -n spark-operator rollout status deploy/spark-operator-controller --timeout=180s >/dev/null; then
  kubectl -n spark-operator describe pods | tail -n 20 >&2 || true
  kubectl -n spark-operator logs deploy/spark-operator-controller --tail=30 >&2 || true
  die "the spark-operator controller did not become ready"
fi
log "spark-operator $version up (namespace spark-operator, watching mlops; image $image)"
