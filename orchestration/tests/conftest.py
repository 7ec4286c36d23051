import os
import tempfile
from pathlib import Path

# Airflow reads its home on import: give the tests their own, unless the Makefile set one.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import pytest

from mlops_orchestration.catalog import Catalog, load_catalog
from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.settings import LaunchSettings

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"
CATALOG = DAGS_FOLDER / "catalog.yaml"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(CATALOG)


def settings_for(mode: LaunchMode, **overrides: object) -> LaunchSettings:
    values: dict[str, object] = {
        "mode": mode,
        "image_prefix": "registry.example.org/mlops/",
        "image_tag": "0123456789ab",
        "data_root": Path("/srv/mlops-data"),
        "repo_root": Path("/opt/mlops"),
        "tracking_uri": "http://127.0.0.1:5000",
        "k8s_namespace": "mlops",
        "k8s_gpu": True,
        "docker_gpu": False,
        **overrides,
    }
    return LaunchSettings(**values)  # type: ignore[arg-type]
