"""`docker`: the same images as containers on one host, through the Docker provider's operator."""

from typing import Any

from mlops_orchestration.constants import CONTAINER_DATA_ROOT, ENV_DATA_ROOT, ENV_TRACKING_URI
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import TaskSpec, operator_overrides


def docker_env(spec: TaskSpec, settings: LaunchSettings) -> dict[str, str]:
    return {
        **spec.env,
        ENV_TRACKING_URI: settings.tracking_uri,
        ENV_DATA_ROOT: CONTAINER_DATA_ROOT,
        "MLOPS_IMAGE": settings.image(spec.service),
    }


def build_docker_task(spec: TaskSpec, settings: LaunchSettings, **operator_kwargs: Any) -> Any:
    from airflow.providers.docker.operators.docker import DockerOperator
    from docker.types import DeviceRequest, Mount

    argv = spec.rendered_argv(CONTAINER_DATA_ROOT)
    gpus = spec.resources.gpu if settings.docker_gpu else 0
    return DockerOperator(
        task_id=spec.task_id,
        image=settings.image(spec.service),
        entrypoint=[argv[0]],
        command=argv[1:],
        environment=docker_env(spec, settings),
        mounts=[Mount(target=CONTAINER_DATA_ROOT, source=str(settings.data_root), type="bind")],
        # Host networking: the loopback MLflow server is reachable at the same URI as from the host.
        network_mode="host",
        mount_tmp_dir=False,
        auto_remove="success",
        device_requests=[DeviceRequest(count=gpus, capabilities=[["gpu"]])] if gpus else None,
        skip_on_exit_code=list(spec.skip_on_exit_codes) or None,
        **operator_overrides(spec),
        **operator_kwargs,
    )
