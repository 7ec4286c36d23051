#!/bin/sh
# Run as root by orchestration/Dockerfile. On the official apache/airflow image (user `airflow`,
# uid 50000, gid 0, pip installs into ~/.local) it only makes sure AIRFLOW_HOME exists. On a plain
# Python base (no registry: the local Debian base of deploy/base-image.sh) it creates the same user
# and a virtualenv at /opt/airflow-venv that is first on PATH, so the rest of the Dockerfile and
# the Helm chart's commands work unchanged.
set -eu
if ! id -u airflow >/dev/null 2>&1; then
  useradd --uid 50000 --gid 0 --create-home --home-dir /home/airflow --shell /bin/bash airflow
  python3.11 -m venv /opt/airflow-venv
  chown -R 50000:0 /opt/airflow-venv
fi
mkdir -p /opt/airflow/dags /opt/airflow/logs /opt/mlops
chown -R 50000:0 /opt/airflow /opt/mlops
chmod -R g+rwX /opt/airflow
