"""charts-values/airflow: the settings the platform relies on, restricted Pod Security for the
chart's pods, and the chart's own values schema where it is available offline."""

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlops_core.testing.kubernetes import restricted_violations

from .helpers import REPO

VALUES = REPO / "charts-values" / "airflow"
LAUNCHER_ENV = {"MLOPS_LAUNCH_MODE", "MLOPS_K8S_NAMESPACE", "MLOPS_IMAGE_PREFIX", "MLOPS_K8S_GPU"}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((VALUES / name).read_text())


def merged(overlay: str) -> dict[str, Any]:
    """Helm's merge: maps merge recursively, everything else (lists too) is replaced."""

    def merge(base: Any, top: Any) -> Any:
        if isinstance(base, dict) and isinstance(top, dict):
            return {k: merge(base[k], v) if k in base else v for k, v in top.items()} | {
                k: v for k, v in base.items() if k not in top
            }
        return top

    return merge(load("values.yaml"), load(f"values-{overlay}.yaml"))


@pytest.mark.parametrize("overlay", ["kind", "cluster"])
def test_kubernetes_executor_our_image_and_pod_launching(overlay: str) -> None:
    values = merged(overlay)
    assert values["executor"] == "KubernetesExecutor"
    assert values["images"]["airflow"]["repository"] == "mlops/airflow"
    assert values["allowPodLaunching"] is True
    assert values["workers"]["serviceAccount"] == {"create": False, "name": "airflow-worker"}
    assert values["config"]["core"]["auth_manager"].endswith("FabAuthManager")
    assert values["config"]["kubernetes_executor"]["namespace"] == "mlops"
    assert values["dags"]["gitSync"]["enabled"] is False  # DAGs ship in the image


@pytest.mark.parametrize(("overlay", "gpu"), [("kind", "false"), ("cluster", "true")])
def test_launcher_environment(overlay: str, gpu: str) -> None:
    env = {e["name"]: e["value"] for e in merged(overlay)["env"]}
    assert set(env) >= LAUNCHER_ENV
    assert env["MLOPS_LAUNCH_MODE"] == "kubernetes" and env["MLOPS_K8S_NAMESPACE"] == "mlops"
    assert env["MLOPS_K8S_GPU"] == gpu
    assert "mlflow-credentials" in merged(overlay)["extraEnvFrom"]


@pytest.mark.parametrize("overlay", ["kind", "cluster"])
def test_chart_pods_satisfy_restricted_pod_security(overlay: str) -> None:
    contexts = merged(overlay)["securityContexts"]
    pod = {
        "securityContext": contexts["pod"],
        "containers": [{"name": "airflow", "securityContext": contexts["containers"]}],
    }
    assert restricted_violations(pod) == []


def test_kind_postgres_is_restricted_and_cluster_uses_an_external_database() -> None:
    postgres = merged("kind")["postgresql"]
    assert postgres["enabled"] is True
    primary = postgres["primary"]
    pod = {
        "securityContext": {k: v for k, v in primary["podSecurityContext"].items() if k != "enabled"},
        "containers": [
            {
                "name": "postgresql",
                "securityContext": {
                    k: v for k, v in primary["containerSecurityContext"].items() if k != "enabled"
                },
            }
        ],
    }
    assert restricted_violations(pod) == []
    cluster = merged("cluster")
    assert cluster["postgresql"]["enabled"] is False and cluster["data"]["metadataSecretName"]
    assert cluster["webserver"]["defaultUser"]["enabled"] is False  # no default password in production


def chart_schema() -> dict[str, Any] | None:
    """values.schema.json of a locally available chart: AIRFLOW_CHART_DIR, or the one `helm pull
    apache-airflow/airflow --untar -d build/charts` leaves (deploy/deploy.sh users have it)."""
    for candidate in (os.environ.get("AIRFLOW_CHART_DIR"), REPO / "build" / "charts" / "airflow"):
        if candidate and (Path(candidate) / "values.schema.json").exists():
            return json.loads((Path(candidate) / "values.schema.json").read_text())
    return None


@pytest.mark.parametrize("overlay", ["kind", "cluster"])
def test_values_validate_against_the_chart_schema(overlay: str) -> None:
    schema = chart_schema()
    if schema is None:
        pytest.skip(
            "no Airflow chart here (no registry); set AIRFLOW_CHART_DIR or helm pull into build/charts"
        )
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(merged(overlay)), key=str)
    assert [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors] == []
