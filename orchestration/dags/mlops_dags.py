"""Every platform DAG, generated from catalog.yaml beside this file (Airflow DAG discovery)."""

from pathlib import Path

# Top-level imports of the operator modules: Airflow's dag-processor imports these once and reuses them
# for every parse, which keeps parsing this file well under 0.5 s in every launch mode.
import airflow.providers.cncf.kubernetes.operators.pod
import airflow.providers.docker.operators.docker
import airflow.providers.standard.operators.bash  # noqa: F401

from mlops_orchestration.factory import build_dags

globals().update(build_dags(Path(__file__).with_name("catalog.yaml")))
