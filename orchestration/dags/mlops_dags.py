"""Every platform DAG, generated from catalog.yaml beside this file (Airflow DAG discovery)."""

from pathlib import Path

from mlops_orchestration.factory import build_dags

globals().update(build_dags(Path(__file__).with_name("catalog.yaml")))
