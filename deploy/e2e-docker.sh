#!/usr/bin/env bash
# Docker end to end (make e2e-docker; .ci/run runs it after make test):
#   Docker engine -> images -> MLflow (host) -> every training DAG via `airflow dags test` in docker
#   launch mode (containers on the host network, data root bind-mounted at /data) -> promote each
#   model's challenger -> serving container -> predictions over HTTP (deploy/check_serving.py).
# When no Docker engine can run here it prints "e2e-docker SKIPPED: ..." and exits 0, unless
# E2E_REQUIRE_DOCKER=1.
#
# Env: IMAGE_PREFIX, IMAGE_TAG, BASE_IMAGE, LOCAL_BASE (see build-images.sh; LOCAL_BASE defaults to
# 1 when python:3.11-slim cannot be pulled), E2E_DAGS (space-separated DAG ids; default: every DAG
# of kind features in orchestration/dags/catalog.yaml, then every training one), E2E_SERVING_PORT (18080), E2E_KEEP=1 (leave MLflow/serving up).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
cd "$ROOT"
export IMAGE_PREFIX=${IMAGE_PREFIX:-mlops/}
export IMAGE_TAG=${IMAGE_TAG:-$(default_image_tag)}
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-http://127.0.0.1:5000}
DATA_ROOT=${MLOPS_DATA_ROOT:-$ROOT/.data}
AIRFLOW_BIN=${AIRFLOW_VENV:-orchestration/.venv}/bin/airflow
SERVING_PORT=${E2E_SERVING_PORT:-18080}
SERVING_CONTAINER=mlops-e2e-serving
IMAGES=(training-lgbm training-cnn tick-features serving)
MODELS=(power_lgbm tick_model mnist_cnn cifar10_cnn)
WORKLOADS=(power tick mnist cifar10)
declare -a TIMINGS=()
started=$(date +%s)

has_make_target() { grep -qE "^$1:" Makefile mk/*.mk 2>/dev/null; }
cleanup() {
  if [[ ${E2E_KEEP:-0} != 1 ]]; then
    docker rm -f "$SERVING_CONTAINER" >/dev/null 2>&1 || true
    make --no-print-directory mlflow-down >/dev/null 2>&1 || true
  fi
}

# 1. Docker engine (skip cleanly when none can run here).
set +e
"$ROOT/deploy/docker-engine.sh"
engine=$?
set -e
if [[ $engine -ne 0 ]]; then
  if [[ $engine -eq 3 && ${E2E_REQUIRE_DOCKER:-0} != 1 ]]; then
    echo "e2e-docker SKIPPED: no Docker engine can run on this machine (reason above)"
    exit 0
  fi
  die "Docker engine check failed"
fi
trap cleanup EXIT

# 2. Images, on the public base when it can be pulled, else on the local Debian base.
choose_base_image
timed "images" "$ROOT/deploy/build-images.sh" "${IMAGES[@]}"

# 3. MLflow on the host; containers reach it through the host network.
timed "mlflow-up" make --no-print-directory mlflow-up
mkdir -p "$DATA_ROOT"
if has_make_target sample-data; then timed "sample-data" make --no-print-directory sample-data; fi
chmod -R a+rwX "$DATA_ROOT"  # containers run as uid 10001; after sample-data, which creates folders

# 4. Every training DAG, launched as containers (MLOPS_LAUNCH_MODE=docker).
export MLOPS_LAUNCH_MODE=docker MLOPS_IMAGE_TAG=$IMAGE_TAG MLOPS_IMAGE_PREFIX=$IMAGE_PREFIX
if [[ -n ${E2E_DAGS:-} ]]; then
  read -r -a dags <<<"$E2E_DAGS"
else
  # From the catalog: feature builds first (the tick model trains on their output), then training.
  mapfile -t dags < <("${PLATFORM_VENV:-.venv}/bin/python" - <<'PY'
import yaml
workloads = yaml.safe_load(open("orchestration/dags/catalog.yaml"))["workloads"]
for kind in ("features", "training"):
    print("\n".join(w["dag_id"] for w in workloads if w["kind"] == kind))
PY
  )
fi
[[ ${#dags[@]} -gt 0 ]] || die "no training DAGs found (set E2E_DAGS)"
timed "airflow-init" make --no-print-directory airflow-init
# Feature DAGs run once per sample partition date (their commands use {{ ds }}); training DAGs once.
mapfile -t tick_dates < <(find "$DATA_ROOT/ticks/raw" -maxdepth 1 -name 'date=*' -printf '%f\n' 2>/dev/null | sed 's/^date=//' | sort)
for dag in "${dags[@]}"; do
  if [[ $dag == tick_features ]]; then
    [[ ${#tick_dates[@]} -gt 0 ]] || die "no raw tick partitions under $DATA_ROOT/ticks/raw"
    for date in "${tick_dates[@]}"; do
      log "DAG $dag $date (docker launch mode)"
      timed "dag $dag $date" "$AIRFLOW_BIN" dags test "$dag" "$date"
    done
  else
    log "DAG $dag (docker launch mode)"
    timed "dag $dag" "$AIRFLOW_BIN" dags test "$dag"
  fi
done

for workload in "${WORKLOADS[@]}"; do
  docker run --rm --network host -e MLFLOW_TRACKING_URI --entrypoint mlops "${IMAGE_PREFIX}training-lgbm:$IMAGE_TAG" \
    promote --workload "$workload" --version challenger --by e2e-docker --reason "docker end-to-end check"
done

# 6. Serving container answers for every champion.
docker rm -f "$SERVING_CONTAINER" >/dev/null 2>&1 || true
docker run -d --name "$SERVING_CONTAINER" --network host -e MLFLOW_TRACKING_URI \
  "${IMAGE_PREFIX}serving:$IMAGE_TAG" --host 127.0.0.1 --port "$SERVING_PORT" >/dev/null
models=$(IFS=,; echo "${MODELS[*]}")
if ! timed "serving" python3 "$ROOT/deploy/check_serving.py" "http://127.0.0.1:$SERVING_PORT" --expect-models "$models"; then
  docker logs --tail 50 "$SERVING_CONTAINER" >&2 || true
  die "serving check failed"
fi

printf '%s\n' "${TIMINGS[@]}" | sed 's/^/  /'
echo "e2e-docker passed in $(($(date +%s) - started))s: ${#dags[@]} DAGs, ${#WORKLOADS[@]} models promoted, serving checked (images $IMAGE_PREFIX*:$IMAGE_TAG)"
