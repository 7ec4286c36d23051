"""Platform tests: real MLflow server, real Airflow (its own venv), service CLIs from their venvs."""

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_VENV = REPO / "orchestration" / ".venv" / "bin"


def service_cli(service: str, executable: str) -> Path:
    path = REPO / "services" / service / ".venv" / "bin" / executable
    if not path.exists():
        pytest.fail(f"{path} missing: run `make setup` first")
    return path


@dataclass
class Airflow:
    home: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AIRFLOW_VENV / "airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def dags_test(
        self, dag_id: str, logical_date: str | None = None, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        args = ["dags", "test", dag_id, *([logical_date] if logical_date else [])]
        env = {**self.env, **extra_env}
        return subprocess.run(
            [str(AIRFLOW_VENV / "airflow"), *args], env=env, capture_output=True, text=True, timeout=1200
        )


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory, mlflow_server, data_root: Path) -> Iterator[Airflow]:
    """A migrated Airflow home (SQLite) with the catalog's pools, in `local` launch mode."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "orchestration" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "MLOPS_LAUNCH_MODE": "local",
        "MLOPS_REPO_ROOT": str(REPO),
        "MLOPS_DATA_ROOT": str(data_root),
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
    }
    airflow = Airflow(home, env)
    migrated = airflow.run("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    pools = subprocess.run(
        [str(AIRFLOW_VENV / "mlops-airflow"), "pools"], env=env, capture_output=True, text=True, check=True
    )
    (home / "pools.json").write_text(pools.stdout)
    assert json.loads(pools.stdout)
    imported = airflow.run("pools", "import", str(home / "pools.json"))
    assert imported.returncode == 0, imported.stderr[-2000:]
    # Team roles first: FAB refuses to serialize DAGs whose access_control names unknown roles.
    roles = subprocess.run(
        [str(AIRFLOW_VENV / "python"), str(REPO / "orchestration" / "scripts" / "airflow_access.py"),
         "--passwords", str(home / "users.json")],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert roles.returncode == 0, roles.stderr[-2000:]
    yield airflow
