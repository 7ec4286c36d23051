#!/usr/bin/env bash
# kind end to end, after `make kind-up deploy`: sample data into the shared data root, trigger every
# training DAG through the Airflow REST API and wait, promote each challenger (an in-cluster Job
# running `mlops promote`), then check serving over HTTP (deploy/check_serving.py).
# kind needs privileged containers and a registry: this runs on a machine with Docker and internet.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
cd "$ROOT"
PREFIX=${IMAGE_PREFIX:-mlops/}
TAG=${IMAGE_TAG:-$(default_image_tag)}
CLUSTER=${KIND_CLUSTER:-mlops}
API_PORT=${AIRFLOW_API_PORT:-18081}
SERVING_PORT=${E2E_SERVING_PORT:-18082}
DATA_ROOT=${MLOPS_DATA_ROOT:-$ROOT/.data}
NS=mlops
WORKLOADS=(power tick mnist cifar10)
MODELS=power_lgbm,tick_model,mnist_cnn,cifar10_cnn
need kubectl curl python3
kubectl config use-context "kind-$CLUSTER" >/dev/null
started=$(date +%s)

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
forward() {  # forward SERVICE LOCAL_PORT REMOTE_PORT
  kubectl -n "$NS" port-forward "svc/$1" "$2:$3" >"build/deploy/port-forward-$1.log" 2>&1 &
  pids+=($!)
}
mkdir -p build/deploy

# 1. Sample data in the real formats, in the host data root that both kind workers mount.
if grep -qE '^sample-data:' Makefile mk/*.mk 2>/dev/null; then make --no-print-directory sample-data; fi
chmod -R a+rwX "$DATA_ROOT"

# 2. Every training DAG through the REST API.
forward airflow-api-server "$API_PORT" 8080
retry_until 120 curl -sf "http://127.0.0.1:$API_PORT/api/v2/monitor/health" || die "Airflow API not reachable"
# Feature builds first: the tick model trains on their output.
for match in features train; do
  "${PLATFORM_VENV:-.venv}/bin/python" deploy/airflow_api.py --url "http://127.0.0.1:$API_PORT" run --match "$match" \
    --timeout "${E2E_DAG_TIMEOUT:-5400}"
done

# 3. Promote each challenger from inside the cluster (restricted pod, MLflow credentials Secret).
for workload in "${WORKLOADS[@]}"; do
  job="promote-$workload-$(date +%s)"
  kubectl -n "$NS" apply -f - <<JOB
apiVersion: batch/v1
kind: Job
metadata:
  name: $job
spec:
  backoffLimit: 0
  ttlSecondsAfterFinished: 600
  template:
    metadata:
      labels: {mlops.io/service: training-lgbm}  # the label NetworkPolicies admit to MLflow
    spec:
      restartPolicy: Never
      serviceAccountName: mlops-workload
      automountServiceAccountToken: false
      nodeSelector: {mlops.io/node-pool: cpu}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: promote
          image: ${PREFIX}training-lgbm:$TAG
          command: [mlops, promote, --workload, $workload, --version, challenger, --by, e2e-kind, --reason, kind end-to-end check]
          envFrom: [{secretRef: {name: mlflow-credentials}}]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
JOB
  kubectl -n "$NS" wait --for=condition=complete "job/$job" --timeout=300s ||
    { kubectl -n "$NS" logs "job/$job" >&2 || true; die "promotion of $workload failed"; }
  kubectl -n "$NS" logs "job/$job"
done

# 4. Serving picks the champions up (registry polling); restart to be sure, then check over HTTP.
kubectl -n "$NS" rollout restart deploy/serving
kubectl -n "$NS" rollout status deploy/serving --timeout=15m
forward serving "$SERVING_PORT" 8080
python3 deploy/check_serving.py "http://127.0.0.1:$SERVING_PORT" --expect-models "$MODELS" --wait 300
echo "e2e-kind passed in $(($(date +%s) - started))s"
