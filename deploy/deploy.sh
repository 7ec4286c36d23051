#!/usr/bin/env bash
# Deploy the platform: load images into kind (OVERLAY=kind), apply the kustomize overlay with the
# images tagged IMAGE_TAG, install Airflow from the official Helm chart with charts-values/airflow,
# and create the catalog's Airflow pools. Idempotent (kubectl apply, helm upgrade --install).
#
# Env: OVERLAY (kind | cluster; default kind), IMAGE_PREFIX (mlops/), IMAGE_TAG (git SHA),
#      KIND_CLUSTER (mlops), AIRFLOW_CHART_VERSION (pin one; default: the repo's latest),
#      AIRFLOW_API_PORT (18081, local port-forward used to create pools).
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
need kubectl helm
[[ -d k8s/overlays/$OVERLAY ]] || die "no overlay k8s/overlays/$OVERLAY"

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
} >"$out/kustomization.yaml"
log "applying k8s/overlays/$OVERLAY (images :$TAG)"
kubectl apply -k "$out"
kubectl -n "$NS" rollout status deploy/mlflow --timeout=10m

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
