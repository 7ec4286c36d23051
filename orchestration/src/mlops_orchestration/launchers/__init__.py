"""One builder per launch mode, from the same TaskSpec. Explicit map: a typo fails in a test."""

from collections.abc import Callable
from typing import Any

from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.launchers.docker import build_docker_task
from mlops_orchestration.launchers.kubernetes import build_kubernetes_task
from mlops_orchestration.launchers.local import build_local_task
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import TaskSpec

Builder = Callable[..., Any]

BUILDERS: dict[LaunchMode, Builder] = {
    LaunchMode.LOCAL: build_local_task,
    LaunchMode.DOCKER: build_docker_task,
    LaunchMode.KUBERNETES: build_kubernetes_task,
}


def build_task(spec: TaskSpec, settings: LaunchSettings, **operator_kwargs: Any) -> Any:
    return BUILDERS[settings.mode](spec, settings, **operator_kwargs)
