"""One TaskSpec, three launchers: the same image, argv and lineage env in every mode."""

import shlex

import pytest
from airflow.sdk import DAG

from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.launchers import BUILDERS
from mlops_orchestration.launchers.local import local_command
from mlops_orchestration.spec import RUN_KEY, step_spec

from .conftest import settings_for


@pytest.fixture
def train_spec(catalog):
    workload = catalog.workload("mnist_cnn_training")
    argv = [*workload.steps["train"].command, "--no-release", "--run-key", RUN_KEY]
    return step_spec(catalog, workload, "train", argv, heavy=True)


def test_every_mode_has_a_builder() -> None:
    assert set(BUILDERS) == set(LaunchMode)


def test_catalog_placeholders_are_filled_per_mode(train_spec) -> None:
    assert "--min-accuracy" in train_spec.argv and "0.9" in train_spec.argv  # from the gate block
    assert train_spec.rendered_argv("/data")[4] == "/data/mnist"


def test_local_runs_the_services_own_virtualenv(train_spec) -> None:
    settings = settings_for(LaunchMode.LOCAL)
    command = local_command(train_spec, settings)
    check, run = command.split("; exec ")
    argv = shlex.split(run)
    assert argv[0] == "/opt/mlops/services/training-cnn/.venv/bin/train-cnn"
    assert argv[1:] == train_spec.rendered_argv("/srv/mlops-data")[1:]
    assert "make setup" in check


def build(mode: LaunchMode, spec, **settings):
    with DAG(dag_id=f"launcher_{mode.value}", schedule=None):
        return BUILDERS[mode](spec, settings_for(mode, **settings))


def test_the_three_modes_run_the_same_argv_image_and_lineage(train_spec) -> None:
    local = build(LaunchMode.LOCAL, train_spec)
    docker = build(LaunchMode.DOCKER, train_spec)
    pod = build(LaunchMode.KUBERNETES, train_spec)
    image = "registry.example.org/mlops/training-cnn:0123456789ab"
    container_argv = train_spec.rendered_argv("/data")
    assert [*docker.entrypoint, *docker.command] == container_argv
    assert [*pod.cmds, *pod.arguments] == container_argv
    assert (
        shlex.split(local.bash_command.split("; exec ")[1])[1:]
        == train_spec.rendered_argv("/srv/mlops-data")[1:]
    )
    assert docker.image == pod.image == image
    pod_env = pod.env_vars  # a dict until the operator converts it at execute time
    for key in ("MLOPS_AIRFLOW_DAG_ID", "MLOPS_AIRFLOW_RUN_ID", "MLOPS_AIRFLOW_TASK_ID", "MLOPS_WORKLOAD"):
        assert local.env[key] == docker.environment[key] == pod_env[key]
    assert local.pool == docker.pool == pod.pool == "gpu_pool"


def test_docker_mode_mounts_data_and_uses_host_network(train_spec) -> None:
    docker = build(LaunchMode.DOCKER, train_spec)
    assert docker.network_mode == "host"
    assert [(m["Target"], m["Source"]) for m in docker.mounts] == [("/data", "/srv/mlops-data")]
    assert docker.device_requests is None  # GPUs only when MLOPS_DOCKER_GPU is on
    with_gpu = build(LaunchMode.DOCKER, train_spec, docker_gpu=True)
    assert with_gpu.device_requests[0]["Count"] == 1


def test_unknown_launch_mode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_orchestration.settings import LaunchSettings

    monkeypatch.setenv("MLOPS_LAUNCH_MODE", "kubernets")
    with pytest.raises(ValueError, match="'kubernets' is not a launch mode"):
        LaunchSettings.from_env()
