"""One TaskSpec, three launchers: the same image, argv and lineage env in every mode."""

import os
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from airflow.sdk import DAG
from jinja2.sandbox import SandboxedEnvironment

from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.launchers import BUILDERS
from mlops_orchestration.launchers.local import TEMPLATED_ARG_ENV, local_command
from mlops_orchestration.promotion import promotion_spec
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


def local_argv(task) -> list[str]:
    """The argv a local BashOperator execs, before Jinja: templated words read back from its env."""
    words = shlex.split(task.bash_command.split("; exec ", 1)[1])
    prefix = "$" + TEMPLATED_ARG_ENV.format(index="")
    return [task.env[word[1:]] if word.startswith(prefix) else word for word in words]


def run_local(operator, tmp_path: Path, **context: object) -> list[str]:
    """Render the task's env as Airflow would, run its bash command for real; the stand-in CLI prints argv."""
    cli = tmp_path / "services" / "training-lgbm" / ".venv" / "bin"
    for name in ("mlops", "train-lgbm", "train-cnn"):
        (cli / name).parent.mkdir(parents=True, exist_ok=True)
        (cli / name).write_text('#!/bin/sh\nprintf "%s\\0" "$@"\n')
        (cli / name).chmod(0o755)
    jinja = SandboxedEnvironment()
    env = {key: jinja.from_string(value).render(**context) for key, value in operator.env.items()}
    assert "{{" not in operator.bash_command  # nothing Jinja renders reaches the shell's parser
    done = subprocess.run(
        ["bash", "-c", operator.bash_command],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().split("\0")[:-1]


def test_local_runs_the_services_own_virtualenv(train_spec) -> None:
    settings = settings_for(LaunchMode.LOCAL)
    check = local_command(train_spec, settings).split("; exec ")[0]
    local = build(LaunchMode.LOCAL, train_spec)
    argv = local_argv(local)
    assert argv[0] == "/opt/mlops/services/training-cnn/.venv/bin/train-cnn"
    assert argv[1:] == train_spec.rendered_argv("/srv/mlops-data")[1:]
    assert "make setup" in check


def test_local_passes_rendered_values_as_single_words(catalog, tmp_path: Path) -> None:
    """Templates with quotes inside render intact, and an approver's free text reaches the CLI verbatim:
    quotes stay quotes, `$(...)` never runs (the promotion step's templates have both shapes)."""
    reason = """it's "better" $(touch pwned) `touch pwned2`; rm -rf /"""
    argv = ["mlops", "promote", "--by", "{{ params['by'] }}", "--reason", "{{ params['reason'] }}"]
    task = build(LaunchMode.LOCAL, replace(promotion_spec(catalog), argv=argv), repo_root=tmp_path)
    params = {"by": "o'brien", "reason": reason}
    received = run_local(task, tmp_path, params=params, dag=task.dag, task=task, run_id="manual__2026-11-22")
    assert received == ["promote", "--by", "o'brien", "--reason", reason]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


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
    assert local_argv(local)[1:] == train_spec.rendered_argv("/srv/mlops-data")[1:]
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


def test_spark_executors_change_nothing_outside_kubernetes(catalog) -> None:
    """local and docker run the rollup with local[*] in their one process whatever `spark` says: the
    setting places executors in a cluster, it does not change the job or its output."""
    from mlops_orchestration.catalog import SparkExecutors

    workload = catalog.workload("tick_features")
    argv = workload.steps["build"].command
    plain = step_spec(catalog, workload, "build_features", argv, heavy=True)
    spark = replace(plain, spark=SparkExecutors(executors=2))
    for mode in (LaunchMode.LOCAL, LaunchMode.DOCKER):
        with_spark, without = build(mode, spark), build(mode, plain)
        for field in ("bash_command", "env", "image", "command", "environment", "entrypoint"):
            assert getattr(with_spark, field, None) == getattr(without, field, None), (mode, field)
    pod = build(LaunchMode.KUBERNETES, spark)
    assert pod.service_account_name == "spark-tick-features"
