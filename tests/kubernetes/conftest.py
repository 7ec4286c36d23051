"""Fixtures for tests against the live local cluster (make cluster-up). Without a cluster they
skip with the reason, unless MLOPS_REQUIRE_CLUSTER=1 (then a missing cluster is a failure)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER_DIR = Path(os.environ.get("MLOPS_CLUSTER_DIR", REPO / ".run" / "cluster"))


def _client(kubeconfig: Path):
    from kubernetes import client, config

    if not kubeconfig.is_file():
        message = f"no local cluster: {kubeconfig} missing (make cluster-up)"
        if os.environ.get("MLOPS_REQUIRE_CLUSTER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    api = config.new_client_from_config(str(kubeconfig))
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as error:
        if os.environ.get("MLOPS_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"local cluster not answering: {error}")
        pytest.skip(f"local cluster not answering: {error}")
    return api


@pytest.fixture(scope="session")
def admin_api():
    return _client(CLUSTER_DIR / "admin.kubeconfig")


@pytest.fixture(scope="session")
def airflow_api():
    return _client(CLUSTER_DIR / "airflow.kubeconfig")
