"""Faults survived, nothing lost, on the live cluster after make e2e-k8s (the scenarios of
deploy/faults, which make faults-k8s runs too): a serving pod evicted under load, MLflow's pod deleted
mid-training, the Airflow scheduler killed while a training pod runs, the gpu node's kubelet stopped
under a CNN pod. Airflow runs on the host in kubernetes mode for these tests (its own run dir and port)
and is stopped after them; the pods of its DAG runs are deleted. The table is printed at the end."""

from collections.abc import Iterator

import pytest
from kubernetes import client

from deploy.faults.report import FaultResult, table
from deploy.faults.session import FaultSession, fault_session
from tests.kubernetes.conftest import NAMESPACE


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> Iterator[list[FaultResult]]:
    found: list[FaultResult] = []
    yield found
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if found and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # past pytest's output capture, as its own lines
            reporter.write_sep("-", "faults survived")
            reporter.write_line(table(found))


@pytest.fixture(scope="module")
def deployed(admin_api, require_e2e) -> None:
    apps = client.AppsV1Api(admin_api)
    for name in ("mlflow", "serving"):
        require_e2e(apps.list_namespaced_deployment(NAMESPACE, field_selector=f"metadata.name={name}").items,
                    f"no {name} Deployment")  # fmt: skip


@pytest.fixture(scope="module")
def faults(deployed) -> Iterator[FaultSession]:
    with fault_session(with_airflow=True) as session:
        yield session


def test_a_serving_pod_evicted_under_load_loses_no_request(deployed, results) -> None:
    with fault_session(with_airflow=False) as session:
        results.append(session.run("serving"))


def test_mlflow_deleted_mid_training_loses_no_run_and_no_version(faults, results) -> None:
    results.append(faults.run("mlflow"))


def test_a_killed_scheduler_reattaches_to_the_running_training_pod(faults, results) -> None:
    results.append(faults.run("scheduler"))


def test_a_lost_gpu_node_fails_the_try_clearly_and_the_retry_resumes(faults, results) -> None:
    results.append(faults.run("kubelet"))
