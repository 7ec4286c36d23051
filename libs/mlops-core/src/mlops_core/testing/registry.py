"""Isolation for tests of commands bound to a workload's fixed registered-model name.

Such tests share the session's MLflow server with other modules that use the same name; a module that
creates versions of it forgets the model (versions, aliases, tags) before and after, so the next module
starts from "never registered" and version numbers start at 1 again. Runs and experiments stay.
"""

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def forget_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.delete_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
