"""Every platform DAG, generated from catalog.yaml beside this file (Airflow DAG discovery)."""

from pathlib import Path

# Top-level imports of every operator module the factory may use: the dag-processor's manager imports
# these once before it forks each parse, so a parse takes ~0.05 s in every launch mode; importing them
# in the parse instead costs 0.8-1.1 s (bench/bench_dag_parse.py). A task process pays them once.
import airflow.providers.cncf.kubernetes.operators.pod
import airflow.providers.docker.operators.docker
import airflow.providers.standard.operators.bash
import airflow.providers.standard.operators.hitl
import airflow.providers.standard.operators.python  # noqa: F401

from mlops_orchestration.factory import build_dags

globals().update(build_dags(Path(__file__).with_name("catalog.yaml")))
