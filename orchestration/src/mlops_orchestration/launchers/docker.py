"""`docker`: the same images as containers on one host, through the Docker provider's operator, under
the same runtime contract as the pod (mlops_orchestration.runtime)."""

from functools import cache
from typing import TYPE_CHECKING, Any

from mlops_orchestration.constants import CONTAINER_DATA_ROOT, ENV_DATA_ROOT, ENV_TRACKING_URI
from mlops_orchestration.runtime import WORKLOAD_RUNTIME, RuntimeContract
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import TaskSpec, operator_overrides

if TYPE_CHECKING:
    from airflow.providers.docker.operators.docker import DockerOperator
    from docker import APIClient


def docker_env(spec: TaskSpec, settings: LaunchSettings) -> dict[str, str]:
    return {
        **spec.env,
        ENV_TRACKING_URI: settings.tracking_uri,
        ENV_DATA_ROOT: CONTAINER_DATA_ROOT,
        "MLOPS_IMAGE": settings.image(spec.service),
        **WORKLOAD_RUNTIME.env,
    }


def contract_host_config(runtime: RuntimeContract) -> dict[str, Any]:
    """The container's side of the pod's security contexts and /tmp volume, as `create_host_config`
    arguments (DockerOperator has no parameter for any of them)."""
    return {
        "read_only": runtime.read_only_root_filesystem,
        "cap_drop": list(runtime.dropped_capabilities),
        "security_opt": ["no-new-privileges"] if runtime.no_new_privileges else [],
        # HostConfig.Tmpfs rather than a tmpfs Mount: the engine mounts a tmpfs Mount noexec, with no way
        # to lift it before API 1.46, while the pod's emptyDir allows exec (snappy-java, for one, unpacks
        # its native library into the temp dir and loads it from there).
        "tmpfs": {runtime.tmp_dir: "exec"},
    }


class HostConfigWithContract:
    """The engine client DockerOperator talks through, with the contract added to every host config it
    creates: the operator builds the host config itself, from a fixed list of its own arguments."""

    def __init__(self, client: "APIClient", contract: dict[str, Any]) -> None:
        self._client = client
        self._contract = contract

    def create_host_config(self, **options: Any) -> dict[str, Any]:
        # A provider release that starts passing one of these itself fails here (duplicate keyword)
        # instead of silently losing the contract.
        return self._client.create_host_config(**options, **self._contract)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@cache
def contract_docker_operator() -> type["DockerOperator"]:
    """DockerOperator under the runtime contract. Built on first use: importing the Docker provider takes
    about a second, which building tasks for the other launch modes should not pay."""
    from airflow.providers.docker.operators.docker import DockerOperator

    class ContractDockerOperator(DockerOperator):
        def __init__(self, *, runtime: RuntimeContract, **kwargs: Any) -> None:
            super().__init__(user=runtime.user, **kwargs)
            self.host_config_contract = contract_host_config(runtime)

        @property
        def cli(self) -> Any:
            return HostConfigWithContract(self.hook.api_client, self.host_config_contract)

    ContractDockerOperator.__qualname__ = ContractDockerOperator.__name__
    return ContractDockerOperator


def __getattr__(name: str) -> Any:
    # The class stays importable under the module and name Airflow records for each task.
    if name == "ContractDockerOperator":
        return contract_docker_operator()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_docker_task(spec: TaskSpec, settings: LaunchSettings, **operator_kwargs: Any) -> Any:
    from docker.types import DeviceRequest, Mount

    argv = spec.rendered_argv(CONTAINER_DATA_ROOT)
    gpus = spec.resources.gpu if settings.docker_gpu else 0
    return contract_docker_operator()(
        task_id=spec.task_id,
        runtime=WORKLOAD_RUNTIME,
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
