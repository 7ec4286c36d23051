#!/usr/bin/env bash
# Deploy the platform: put the images where the nodes find them, apply the kustomize overlay with the
# images tagged IMAGE_TAG, install Airflow from the official Helm chart with charts-values/airflow,
# and create the catalog's Airflow pools. Idempotent (kubectl apply, helm upgrade --install).
#
# Env: OVERLAY (kind | local | cluster; default kind), IMAGE_PREFIX (mlops/), IMAGE_TAG (git SHA),
#      KIND_CLUSTER (mlops), AIRFLOW_CHART_VERSION (pin one; default: the repo's latest),
#      AIRFLOW_API_PORT (18081, local port-forward used to create pools).
# OVERLAY=local is the cluster of `make cluster-up`: images are imported into its nodes, the static
# volumes point at MLOPS_DATA_ROOT (.data) and .run/cluster/volumes, and Airflow runs on the host
# (deploy/e2e-k8s.sh starts it), so no chart is installed; the spark-operator's controller is
# installed from the Go module proxy instead of its chart (deploy/cluster/spark-operator.sh).
# For OVERLAY=cluster push the images to your registry first and set IMAGE_PREFIX to it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
cd "$ROOT"
OVERLAY=${OVERLAY:-kind}
PREFIX=${IMAGE_PREFIX:-mlops/}
TAG=${IMAGE_TAG:-$(default_image_tag)}
CLUSTER=${KIND_CLUSTER:-mlops}
API_PORT=${AIRFLOW_API_PORT:-18081}
NS=mlops
IMAGES=(training-lgbm training-cnn tick-features serving mlflow airflow)
need kubectl
[[ $OVERLAY == local ]] || need helm
[[ -d k8s/overlays/$OVERLAY ]] || die "no overlay k8s/overlays/$OVERLAY"

CLUSTER_DIR=${MLOPS_CLUSTER_DIR:-$ROOT/.run/cluster}
if [[ $OVERLAY == local ]]; then
  export KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig
  [[ -f $KUBECONFIG ]] || die "no local cluster ($KUBECONFIG missing): make cluster-up"
  # The gpu pool runs only the CNN training steps (the catalog's heavy steps of gpu workloads).
  images=()
  for image in serving mlflow training-lgbm tick-features; do images+=("$PREFIX$image:$TAG"); done
  MLOPS_LOAD_NODES=cpu "$ROOT/deploy/cluster/cluster.sh" load "${images[@]}"
  MLOPS_LOAD_NODES="cpu gpu" "$ROOT/deploy/cluster/cluster.sh" load "${PREFIX}training-cnn:$TAG"
fi
if [[ $OVERLAY == kind ]]; then
  need kind
  kubectl config use-context "kind-$CLUSTER" >/dev/null
  for image in "${IMAGES[@]}"; do
    docker image inspect "$PREFIX$image:$TAG" >/dev/null 2>&1 || die "image $PREFIX$image:$TAG missing: run make images"
    log "loading $PREFIX$image:$TAG into kind"
    kind load docker-image --name "$CLUSTER" "$PREFIX$image:$TAG"
  done
fi

# The overlay with our image tags, rendered from a generated kustomization (nothing in k8s/ edited).
out="build/deploy/$OVERLAY"
mkdir -p "$out"
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources: [../../../k8s/overlays/$OVERLAY]"
  echo "images:"
  for image in serving mlflow training-lgbm training-cnn tick-features; do
    printf '  - {name: mlops/%s, newName: %s%s, newTag: "%s"}\n' "$image" "$PREFIX" "$image" "$TAG"
  done
  if [[ $OVERLAY == local ]]; then
    # The static volumes on this host: the data root the host's sample data lies in, MLflow's store.
    data_root=$(realpath -m "${MLOPS_DATA_ROOT:-$ROOT/.data}")
    store=$CLUSTER_DIR/volumes/mlflow-store
    mkdir -p "$data_root" "$store"
    chown 10001:10001 "$store"
    chmod -R a+rwX "$data_root"  # the pods run as uid 10001
    echo "patches:"
    for pv in "mlops-data-local $data_root" "mlops-mlflow-store-local $store"; do
      read -r name path <<<"$pv"
      printf '  - target: {kind: PersistentVolume, name: %s}\n' "$name"
      printf '    patch: |-\n      [{"op": "replace", "path": "/spec/hostPath/path", "value": "%s"}]\n' "$path"
    done
  fi
} >"$out/kustomization.yaml"
log "applying k8s/overlays/$OVERLAY (images :$TAG)"
kubectl apply -k "$out"
kubectl -n "$NS" rollout status deploy/mlflow --timeout=10m
if [[ $OVERLAY == local ]]; then
  # SparkApplications of k8s/components/spark-tick-features/operator run there too (tests/kubernetes).
  IMAGE_PREFIX=$PREFIX IMAGE_TAG=$TAG "$ROOT/deploy/cluster/spark-operator.sh"
  log "deployed overlay local with images :$TAG (Airflow runs on the host: deploy/e2e-k8s.sh)"
  exit 0
fi

# Airflow from the official chart, our image and values.
cat >"$out/airflow-image.yaml" <<VALUES
defaultAirflowRepository: ${PREFIX}airflow
defaultAirflowTag: "$TAG"
images:
  airflow:
    repository: ${PREFIX}airflow
    tag: "$TAG"
extraEnv: |
  - name: MLOPS_IMAGE_TAG
    value: "$TAG"
VALUES
helm repo add apache-airflow https://airflow.apache.org >/dev/null 2>&1 || true
helm repo update apache-airflow >/dev/null
version_args=()
[[ -n ${AIRFLOW_CHART_VERSION:-} ]] && version_args=(--version "$AIRFLOW_CHART_VERSION")
log "installing Airflow (chart apache-airflow/airflow ${AIRFLOW_CHART_VERSION:-latest}) in $NS"
helm upgrade --install airflow apache-airflow/airflow -n "$NS" "${version_args[@]}" \
  -f charts-values/airflow/values.yaml -f "charts-values/airflow/values-$OVERLAY.yaml" -f "$out/airflow-image.yaml" \
  --wait --wait-for-jobs --timeout 20m

# Pools of the catalog, through the REST API.
if [[ -f orchestration/dags/catalog.yaml ]]; then
  kubectl -n "$NS" port-forward svc/airflow-api-server "$API_PORT:8080" >build/deploy/port-forward-airflow.log 2>&1 &
  pf=$!
  trap 'kill $pf 2>/dev/null || true' EXIT
  retry_until 60 curl -sf "http://127.0.0.1:$API_PORT/api/v2/monitor/health" || die "Airflow API not reachable"
  "${PLATFORM_VENV:-.venv}/bin/python" deploy/airflow_api.py --url "http://127.0.0.1:$API_PORT" pools orchestration/dags/catalog.yaml
fi
log "deployed overlay $OVERLAY with images :$TAG"
