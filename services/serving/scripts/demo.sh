#!/usr/bin/env bash
# Start `mlops-serve` in the background for the demo and print an example curl per model with its answer.
#   services/serving/scripts/demo.sh [start|stop]
# Env: MLFLOW_TRACKING_URI (required), SERVING_MODELS (default: all four), SERVING_PORT (default 8080),
#      RUN_DIR (pid and log files; default .run), WAIT_S (default 180).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$repo/services/serving/.venv"
run_dir="${RUN_DIR:-$repo/.run}"
port="${SERVING_PORT:-8080}"
url="http://127.0.0.1:${port}"
pid_file="$run_dir/serving.pid"

case "${1:-start}" in
  stop)
    if [[ -f "$pid_file" ]]; then kill "$(cat "$pid_file")" 2>/dev/null || true; rm -f "$pid_file"; fi
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac

: "${MLFLOW_TRACKING_URI:?set MLFLOW_TRACKING_URI to the MLflow server}"
mkdir -p "$run_dir"
if curl -sf "$url/healthz" >/dev/null 2>&1; then
  echo "serving already up at $url"
else
  SERVING_HOST=127.0.0.1 SERVING_PORT="$port" nohup "$venv/bin/mlops-serve" >"$run_dir/serving.log" 2>&1 &
  echo $! >"$pid_file"
  echo "serving starting at $url (pid $(cat "$pid_file"), log $run_dir/serving.log)"
fi
"$venv/bin/mlops-serve-example" --url "$url" --wait-s "${WAIT_S:-180}"
echo
echo "stop it with: $0 stop"
