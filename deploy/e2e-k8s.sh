#!/usr/bin/env bash
# Kubernetes end to end on the local cluster from upstream components (make e2e-k8s):
#   cluster-up -> images (as e2e-docker builds them) imported into both nodes -> overlay `local`
#   (MLflow and serving in the cluster) -> Airflow on the host in `kubernetes` launch mode, as the
#   pod-launcher ServiceAccount -> every DAG triggered over the REST API, every task a pod ->
#   promote_model answered over the HITL REST call -> model_management -> serving answers for every
#   model through its Service -> a second promotion swaps power_lgbm under a client loop (no failure).
# The cluster, MLflow and serving stay up for `make test-k8s`; Airflow is stopped unless E2E_KEEP=1.
#
# Env: IMAGE_PREFIX, IMAGE_TAG, LOCAL_BASE (as e2e-docker), E2E_AIRFLOW_PORT (18090),
#      MLOPS_K8S_MAX_CPU (500m) / MLOPS_K8S_MAX_MEMORY (3Gi): caps on the catalog's pod requests for one
#      host; E2E_DAG_TIMEOUT (1800 s per DAG run).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
cd "$ROOT"
export IMAGE_PREFIX=${IMAGE_PREFIX:-mlops/}
export IMAGE_TAG=${IMAGE_TAG:-$(default_image_tag)}
CLUSTER_DIR=${MLOPS_CLUSTER_DIR:-$ROOT/.run/cluster}
export KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig
RUN_DIR=$ROOT/.run/e2e-k8s
PORT=${E2E_AIRFLOW_PORT:-18090}
API=http://127.0.0.1:$PORT
TIMEOUT=${E2E_DAG_TIMEOUT:-1800}
DATA_ROOT=${MLOPS_DATA_ROOT:-$ROOT/.data}
NS=mlops
PY=${PLATFORM_VENV:-.venv}/bin/python
declare -a TIMINGS=()
started=$(date +%s)

airflow_make() {
  make --no-print-directory AIRFLOW_HOME="$RUN_DIR/airflow" AIRFLOW_RUN_DIR="$RUN_DIR" AIRFLOW_PORT="$PORT" "$@"
}
# Two attempts per DAG run: Airflow on SQLite now and then loses a finished task's state (seen on
# promote_model's approval); the retry is printed as a WARNING in the log.
dag() { "$PY" deploy/airflow_api.py --url "$API" trigger --timeout "$TIMEOUT" --attempts 2 "$@"; }
cleanup() {
  local status=$?
  if [[ $status -ne 0 ]]; then
    log "e2e-k8s failed; pods in $NS:"
    kubectl -n "$NS" get pods -o wide >&2 || true
    tail -n 30 "$RUN_DIR"/airflow-scheduler.log >&2 2>/dev/null || true
  fi
  [[ ${E2E_KEEP:-0} == 1 ]] || airflow_make airflow-down >/dev/null 2>&1 || true
}

# 1. The cluster (idempotent) and the images, imported into both nodes by deploy.sh.
timed "cluster-up" deploy/cluster/cluster.sh up
choose_base_image
timed "images" deploy/build-images.sh training-lgbm training-cnn tick-features serving mlflow

# 2. Sample data in the host data root (the static volume), then MLflow and serving in the cluster.
timed "sample-data" make --no-print-directory sample-data
timed "deploy (load images, overlay local)" env OVERLAY=local deploy/deploy.sh

# 3. Airflow on the host: kubernetes launch mode, the pod-launcher ServiceAccount's kubeconfig (never
#    the admin's), pods kept after they finish so that tests/kubernetes reads where each one ran.
trap cleanup EXIT
export MLOPS_LAUNCH_MODE=kubernetes MLOPS_IMAGE_PREFIX=$IMAGE_PREFIX MLOPS_IMAGE_TAG=$IMAGE_TAG
export MLOPS_K8S_NAMESPACE=$NS MLOPS_K8S_GPU=false MLOPS_K8S_ON_FINISH=keep_pod
# Requests capped so that the DAGs that run at once fit the nodes' two CPUs without preempting each
# other (the catalog's priority classes would otherwise evict the lower ones, which Airflow retries).
export MLOPS_K8S_MAX_CPU=${MLOPS_K8S_MAX_CPU:-500m} MLOPS_K8S_MAX_MEMORY=${MLOPS_K8S_MAX_MEMORY:-3Gi}
# The harness triggers every run itself: no cron or Asset runs beside them (Airflow's own switch).
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False
export AIRFLOW_CONN_KUBERNETES_DEFAULT="{\"conn_type\": \"kubernetes\", \"extra\": {\"kube_config_path\": \"$CLUSTER_DIR/airflow.kubeconfig\", \"namespace\": \"$NS\"}}"
# Workload pods of earlier runs would blur which pods this run started.
kubectl -n "$NS" delete pods -l app.kubernetes.io/part-of=mlops --wait=false >/dev/null
# The harness's own Airflow: a fresh metadata DB each run (runs of an earlier e2e would collide).
airflow_make airflow-down >/dev/null 2>&1 || true
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
timed "airflow-up" airflow_make airflow-up
AIRFLOW_PASSWORD=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$RUN_DIR/airflow-users.json")
export AIRFLOW_USERNAME=admin AIRFLOW_PASSWORD

# 4. Every DAG as pods, one run after another (Airflow's SQLite metadata DB loses task state under
#    concurrent runs): feature builds per sample partition, the training DAGs (power twice, so that
#    step 6 has a second version to swap in), each challenger's promotion answered over HITL, then
#    model management.
mapfile -t tick_dates < <(find "$DATA_ROOT/ticks/raw" -maxdepth 1 -name 'date=*' -printf '%f\n' | sed 's/^date=//' | sort)
[[ ${#tick_dates[@]} -gt 0 ]] || die "no raw tick partitions under $DATA_ROOT/ticks/raw"
for date in "${tick_dates[@]}"; do timed "dag tick_features $date" dag tick_features --logical-date "$date"; done
for dag_id in tick_model_training power_lgbm_training mnist_cnn_training cifar10_cnn_training power_lgbm_training; do
  timed "dag $dag_id" dag "$dag_id"
done
for workload in tick power mnist cifar10; do
  timed "dag promote_model $workload" dag promote_model --conf "{\"workload\": \"$workload\", \"version\": \"challenger\"}" \
    --approve "e2e-k8s: release the $workload challenger"
done
timed "dag model_management" dag model_management

# 5. Serving (in the cluster) loads the champions; checked through its Service's cluster IP.
kubectl -n "$NS" rollout restart deploy/serving >/dev/null
timed "serving rollout" kubectl -n "$NS" rollout status deploy/serving --timeout=10m
serving="http://$(kubectl -n "$NS" get svc serving -o jsonpath='{.spec.clusterIP}'):8080"
timed "serving check" python3 deploy/check_serving.py "$serving" --expect-models power_lgbm,tick_model,mnist_cnn,cifar10_cnn

# 6. A second promotion under load: power_lgbm's champion moves to the version trained before it
#    while a client loop runs; every request must succeed and the new version must answer.
serving_version=$(curl -sf "$serving/v1/models/power_lgbm" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["version"])')
previous=$((serving_version - 1))
((previous >= 1)) || die "power_lgbm serves v$serving_version: no earlier version to swap to"
"$PY" -m deploy.serving_load "$serving" --model power_lgbm --until-version "$previous" --max-seconds 600 &
load=$!
timed "dag promote_model power v$previous (under load)" dag promote_model \
  --conf "{\"workload\": \"power\", \"version\": \"$previous\"}" --approve "e2e-k8s: swap v$serving_version -> v$previous under load"
wait "$load" || die "requests failed while power_lgbm was swapped, or v$previous never answered"

# The run's time window: tests/kubernetes reads the pods launched in it, not those later tests launch.
printf '{"started": %s, "finished": %s}\n' "$started" "$(date +%s)" >"$RUN_DIR/window.json"
printf '%s\n' "${TIMINGS[@]}" | sed 's/^/  /'
echo "e2e-k8s passed in $(($(date +%s) - started))s: every DAG ran as pods on the local cluster (images :$IMAGE_TAG)"
