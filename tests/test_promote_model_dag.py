"""`promote_model` through `airflow dags test` with a real human-in-the-loop answer.

The DAG run parks `approve` in AWAITING_INPUT; an approver answers through the real api-server's
HITL endpoint (`PATCH .../hitlDetails`), exactly what the Required Actions view does. The promotion
step must then record that approver and their reason on the MLflow version and move `champion`.
"""

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from mlops_core.testing.registry import forget_registered_model

from .airflow_support.local_airflow import AIRFLOW_BIN, LocalAirflow, airflow_env, local_airflow
from .conftest import service_cli

DAG_ID = "promote_model"
MODEL = "power_lgbm"
REASON = 'it\'s "better": beats the champion on the last 14 days, $(no shell)'
ANSWER_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def airflow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalAirflow, Path]]:
    home = tmp_path_factory.mktemp("airflow-promote")
    with local_airflow(home) as airflow:
        yield airflow, home


@pytest.fixture(scope="module")
def registered_version(tmp_path_factory: pytest.TempPathFactory, mlflow_server) -> Iterator[str]:
    """A power model registered (not promoted) by the training CLI; forgotten afterwards."""
    client = MlflowClient(mlflow_server.uri)
    forget_registered_model(client, MODEL)
    data = tmp_path_factory.mktemp("power-promote")
    train = str(service_cli("training-lgbm", "train-lgbm"))
    subprocess.run([train, "generate", "power", "--out", str(data), "--days", "30", "--seed", "5"],
                   check=True, capture_output=True)  # fmt: skip
    trained = subprocess.run(
        [train, "power", "--data-dir", str(data), "--run-key", "promote-dag/challenger", "--min-improvement", "0"],
        env={"MLFLOW_TRACKING_URI": mlflow_server.uri, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    yield trained.stdout.strip().split("version=")[-1]
    forget_registered_model(client, MODEL)


def pending_approval(admin: httpx.Client, deadline: float) -> dict:
    """The `approve` task's HITL request once the DAG run has parked it."""
    while time.monotonic() < deadline:
        reply = admin.get(f"/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails")
        assert reply.status_code == 200, reply.text
        pending = [d for d in reply.json()["hitl_details"] if d["response_received"] is False]
        if pending:
            return pending[0]
        time.sleep(2)
    raise AssertionError(f"no pending approval for {DAG_ID} within {ANSWER_TIMEOUT_S} s")


def champion_version(client: MlflowClient) -> str | None:
    aliases = client.get_registered_model(MODEL).aliases
    return aliases.get("champion")


def run_with_answer(
    airflow_api: tuple[LocalAirflow, Path], tracking_uri: str, version: str, option: str, reason: str
) -> subprocess.CompletedProcess[str]:
    """`airflow dags test promote_model`, answered by the admin through the api-server once it waits."""
    airflow, home = airflow_api
    env = {**airflow_env(home, home / "data"), "MLFLOW_TRACKING_URI": tracking_uri}
    argv = [
        str(AIRFLOW_BIN / "airflow"),
        "dags",
        "test",
        DAG_ID,
        "-c",
        f'{{"workload": "power", "version": "{version}"}}',
    ]
    run = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with airflow.client("admin") as admin:
            request = pending_approval(admin, time.monotonic() + ANSWER_TIMEOUT_S)
            ti = request["task_instance"]
            assert ti["task_id"] == "approve"
            assert request["subject"] == f"Promote power version {version} to champion?"
            # No serving URL configured here: the approver is told so instead of seeing shadow traffic.
            assert "Shadow traffic: not configured" in request["body"]
            path = f"/api/v2/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/approve/-1/hitlDetails"
            answered = admin.patch(
                path, json={"chosen_options": [option], "params_input": {"reason": reason}}
            )
            assert answered.status_code == 200, answered.text
            assert answered.json()["responded_by"]["name"] == "admin"
        output, _ = run.communicate(timeout=600)
    finally:
        run.kill()
    return subprocess.CompletedProcess(argv, run.returncode, output, "")


def test_a_rejection_leaves_the_champion_alone(
    airflow_api: tuple[LocalAirflow, Path], registered_version: str, mlflow_server
) -> None:
    client = MlflowClient(mlflow_server.uri)
    before = champion_version(client)
    done = run_with_answer(airflow_api, mlflow_server.uri, registered_version, "Reject", "not convinced")
    assert done.returncode == 0, done.stdout[-6000:]
    assert "Skipping downstream tasks" in done.stdout
    assert champion_version(client) == before


def test_an_approver_promotes_a_version_and_is_recorded(
    airflow_api: tuple[LocalAirflow, Path], registered_version: str, mlflow_server
) -> None:
    done = run_with_answer(airflow_api, mlflow_server.uri, registered_version, "Approve", REASON)
    assert done.returncode == 0, done.stdout[-6000:]
    client = MlflowClient(mlflow_server.uri)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.version == registered_version
    # The approver's free text (quotes and all) is recorded verbatim; the approver is the API user.
    assert champion.tags["mlops.promoted_by"] == "admin"
    assert champion.tags["mlops.promoted_reason"] == REASON
