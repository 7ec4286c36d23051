"""Fixtures for tests against the live local cluster (make cluster-up; the workload tests also need
the pods and deployments of make e2e-k8s). Without a cluster they skip with the reason, unless
MLOPS_REQUIRE_CLUSTER=1; without an e2e-k8s run they skip unless MLOPS_REQUIRE_E2E=1 (then either
missing is a failure, as in CI)."""

import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER_DIR = Path(os.environ.get("MLOPS_CLUSTER_DIR", REPO / ".run" / "cluster"))
CATALOG = REPO / "orchestration" / "dags" / "catalog.yaml"
NAMESPACE = "mlops"


def _missing(message: str, required_by: str) -> None:
    if os.environ.get(required_by) == "1":
        pytest.fail(message)
    pytest.skip(message)


def _client(kubeconfig: Path):
    from kubernetes import client, config

    if not kubeconfig.is_file():
        _missing(f"no local cluster: {kubeconfig} missing (make cluster-up)", "MLOPS_REQUIRE_CLUSTER")
    api = config.new_client_from_config(str(kubeconfig))
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as error:
        _missing(f"local cluster not answering: {error}", "MLOPS_REQUIRE_CLUSTER")
    return api


@pytest.fixture(scope="session")
def admin_api():
    return _client(CLUSTER_DIR / "admin.kubeconfig")


@pytest.fixture(scope="session")
def airflow_api():
    return _client(CLUSTER_DIR / "airflow.kubeconfig")


@pytest.fixture(scope="session")
def require_e2e() -> Callable[[Any, str], Any]:
    """`require_e2e(value, what)`: the value when make e2e-k8s left it, else skip (or fail in CI)."""

    def check(value: Any, what: str) -> Any:
        if not value:
            _missing(f"{what}: run make e2e-k8s first", "MLOPS_REQUIRE_E2E")
        return value

    return check


def service_url(admin_api, name: str, port: int) -> str:
    """http://<cluster IP>:<port>: the host reaches Services through kube-proxy's rules."""
    from kubernetes import client

    return f"http://{client.CoreV1Api(admin_api).read_namespaced_service(name, NAMESPACE).spec.cluster_ip}:{port}"


@pytest.fixture(scope="session")
def mlflow_rest(admin_api, require_e2e):
    """An httpx client for MLflow's REST API in the cluster, as the admin of Secret mlflow-credentials.
    The Host header is the Service's name: the server accepts only its own names (DNS rebinding)."""
    import httpx
    from kubernetes import client

    core = client.CoreV1Api(admin_api)
    require_e2e(
        core.list_namespaced_service(NAMESPACE, field_selector="metadata.name=mlflow").items,
        "no mlflow Service",
    )
    secret = {
        k: base64.b64decode(v).decode()
        for k, v in core.read_namespaced_secret("mlflow-credentials", NAMESPACE).data.items()
    }
    with httpx.Client(
        base_url=service_url(admin_api, "mlflow", 5000),
        headers={"Host": "mlflow.mlops.svc:5000"},
        auth=(secret["MLFLOW_TRACKING_USERNAME"], secret["MLFLOW_TRACKING_PASSWORD"]),
        timeout=30,
    ) as http:
        yield http
