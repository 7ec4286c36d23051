#!/usr/bin/env bash
# `make demo`: every workload through Airflow (local launch mode) against the MLflow server that
# `make mlflow-up` started, then promotion of each registered challenger, then serving over HTTP.
# Expects the Makefile's environment (AIRFLOW_HOME, MLFLOW_TRACKING_URI, MLOPS_DATA_ROOT, ...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
AIRFLOW=orchestration/.venv/bin/airflow
MLOPS=.venv/bin/mlops
SERVING_PORT=${SERVING_PORT:-8080}
TICK_DATES=${TICK_DATES:-"2026-11-16 2026-11-17 2026-11-18"}
mkdir -p .run

run_dag() {
  local dag=$1 date=${2:-} log=.run/demo-$1${2:+-$2}.log started=$SECONDS
  printf '%-24s %-11s ' "$dag" "$date"
  if ! $AIRFLOW dags test "$dag" $date >"$log" 2>&1; then
    echo "FAILED (log: $log)"; tail -40 "$log"; exit 1
  fi
  outcome=$(grep -o '"event": "training_[a-z_]*"' "$log" | tail -1 | cut -d'"' -f4 || true)
  echo "${outcome:-done} in $((SECONDS - started))s (log: $log)"
}

echo "== training pipelines through Airflow (local mode)"
run_dag power_lgbm_training
for date in $TICK_DATES; do run_dag tick_features "$date"; done
run_dag tick_model_training
run_dag mnist_cnn_training
run_dag cifar10_cnn_training

echo "== promotion (the demo approves every challenger; in production a human does, via promote_model)"
served=()
for pair in power:power_lgbm tick:tick_model mnist:mnist_cnn cifar10:cifar10_cnn; do
  workload=${pair%%:*} model=${pair#*:}
  if $MLOPS promote --workload "$workload" --version challenger --by "make demo" \
       --reason "first model from make demo" 2>/dev/null; then
    served+=("$model")
  elif [[ $($MLOPS show --workload "$workload") == *'"champion": {'* ]]; then
    served+=("$model")  # already has a champion from an earlier demo
  else
    echo "$model: no challenger to promote (the gate refused it; see the DAG log)"
  fi
done
[[ ${#served[@]} -gt 0 ]] || { echo "no model to serve"; exit 1; }

echo "== serving ${served[*]} on 127.0.0.1:$SERVING_PORT (example requests and their answers below)"
services/serving/scripts/demo.sh stop
SERVING_MODELS=$(IFS=,; echo "${served[*]}") SERVING_PORT=$SERVING_PORT services/serving/scripts/demo.sh start
echo
echo "MLflow UI:   $MLFLOW_TRACKING_URI"
echo "Served:      http://127.0.0.1:$SERVING_PORT/v1/models   (metrics: /metrics; stop: make serve-down)"
