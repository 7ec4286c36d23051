"""The lineage logged on every run: data version, code, image and the Airflow task that launched it."""

import os
import subprocess
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel

from mlops_core.naming import Tag

# Launchers set these for every mode (local, docker, kubernetes); Airflow's own AIRFLOW_CTX_*
# variables are a fallback for tasks started some other way.
ENV_GIT_SHA = "MLOPS_GIT_SHA"
ENV_IMAGE = "MLOPS_IMAGE"
ENV_DAG_ID = "MLOPS_AIRFLOW_DAG_ID"
ENV_RUN_ID = "MLOPS_AIRFLOW_RUN_ID"
ENV_TASK_ID = "MLOPS_AIRFLOW_TASK_ID"


class RunContext(BaseModel, frozen=True):
    data_version: str
    git_sha: str
    image: str
    code_version: str
    dag_id: str | None = None
    dag_run_id: str | None = None
    task_id: str | None = None

    def tags(self) -> dict[str, str]:
        tags = {
            Tag.DATA_VERSION: self.data_version,
            Tag.GIT_SHA: self.git_sha,
            Tag.IMAGE: self.image,
            Tag.CODE_VERSION: self.code_version,
        }
        optional = {
            Tag.AIRFLOW_DAG_ID: self.dag_id,
            Tag.AIRFLOW_RUN_ID: self.dag_run_id,
            Tag.AIRFLOW_TASK_ID: self.task_id,
        }
        tags.update({key: value for key, value in optional.items() if value})
        return tags


def _env(*names: str) -> str | None:
    for name in names:
        if value := os.environ.get(name):
            return value
    return None


def _git_sha(start: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=start, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def _code_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def collect_run_context(data_version: str, distribution: str) -> RunContext:
    """Read lineage from the environment the launcher prepared, falling back to the local checkout."""
    return RunContext(
        data_version=data_version,
        git_sha=_env(ENV_GIT_SHA) or _git_sha(Path.cwd()),
        image=_env(ENV_IMAGE) or "local",
        code_version=f"{distribution}=={_code_version(distribution)}",
        dag_id=_env(ENV_DAG_ID, "AIRFLOW_CTX_DAG_ID"),
        dag_run_id=_env(ENV_RUN_ID, "AIRFLOW_CTX_DAG_RUN_ID"),
        task_id=_env(ENV_TASK_ID, "AIRFLOW_CTX_TASK_ID"),
    )
