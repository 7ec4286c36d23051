"""Isolation for tests of commands bound to a workload's fixed registered-model name.

Such tests share the session's MLflow server with other modules that use the same name; a module that
creates versions of it forgets the model (versions, aliases, tags) before and after, so the next module
starts from "never registered" and version numbers start at 1 again. Runs and experiments stay.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def forget_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.delete_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise


@contextmanager
def registry_without(tracking_uri: str, *model_names: str) -> Iterator[MlflowClient]:
    """A client of the server with `model_names` forgotten before and after, and MLFLOW_TRACKING_URI
    pointing at it meanwhile (for commands that read it from the environment)."""
    client = MlflowClient(tracking_uri, tracking_uri)
    for name in model_names:
        forget_registered_model(client, name)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
            yield client
    finally:
        for name in model_names:
            forget_registered_model(client, name)
