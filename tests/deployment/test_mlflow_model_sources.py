"""The model-source regex of the MLflow Deployment, applied by a real MLflow server: registrations
made the way mlops-core makes them pass; versions pointing outside the artifact store are refused."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_core.naming import MODEL_ARTIFACT
from mlops_core.testing import MlflowServer
from mlops_core.testing.kubernetes import pod_spec_of

from .helpers import find

ENV = "MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX"


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(
        self, context: Any, model_input: list[float], params: dict[str, Any] | None = None
    ) -> list[float]:
        return [2 * x for x in model_input]


@pytest.fixture(scope="module")
def guarded_server(rendered, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    container = pod_spec_of(find(rendered["kind"], "Deployment", "mlflow"))["containers"][0]
    regex = next(e["value"] for e in container["env"] if e["name"] == ENV)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV, regex)  # the server process inherits it
        patch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # as deployed; starts faster
        with MlflowServer(Path(tmp_path_factory.mktemp("guarded-mlflow"))) as server:
            yield server


@pytest.fixture(scope="module")
def client(guarded_server: MlflowServer) -> Iterator[MlflowClient]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", guarded_server.uri)
        mlflow.set_tracking_uri(guarded_server.uri)
        yield MlflowClient(guarded_server.uri)
        mlflow.set_tracking_uri(None)


def test_registering_a_logged_model_from_its_run_is_allowed(client: MlflowClient) -> None:
    mlflow.set_experiment("source-regex")
    with mlflow.start_run() as run:
        mlflow.pyfunc.log_model(name=MODEL_ARTIFACT, python_model=Doubler(), pip_requirements=["mlflow"])
    version = mlflow.register_model(f"runs:/{run.info.run_id}/{MODEL_ARTIFACT}", "guarded_model")
    assert version.version == "1"
    assert client.get_model_version("guarded_model", "1").source.startswith(
        ("models:/", "mlflow-artifacts:/")
    )


@pytest.mark.parametrize(
    "source",
    [
        "file:///etc/passwd",
        "/mlflow/mlflow.db",
        "s3://someone-elses-bucket/model",
        "https://example.com/m.pkl",
    ],
)
def test_versions_pointing_outside_the_artifact_store_are_refused(client: MlflowClient, source: str) -> None:
    with contextlib.suppress(MlflowException):  # created by an earlier case
        client.create_registered_model("outside_model")
    with pytest.raises(MlflowException, match="Invalid model version source"):
        client.create_model_version("outside_model", source=source)
