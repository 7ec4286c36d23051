"""Where and how tasks launch, read once from the environment (never from the metadata DB at parse)."""

import os
from dataclasses import dataclass
from pathlib import Path

from mlops_orchestration.constants import (
    ENV_DATA_ROOT,
    ENV_DOCKER_GPU,
    ENV_IMAGE_PREFIX,
    ENV_IMAGE_TAG,
    ENV_K8S_GPU,
    ENV_K8S_MAX_CPU,
    ENV_K8S_MAX_MEMORY,
    ENV_K8S_NAMESPACE,
    ENV_K8S_ON_FINISH,
    ENV_LAUNCH_MODE,
    ENV_REPO_ROOT,
    ENV_TRACKING_URI,
    K8S_ON_FINISH_ACTIONS,
    LaunchMode,
)


def _setting(name: str, default: str) -> str:
    return os.environ.get(name) or os.environ.get(f"AIRFLOW_VAR_{name}") or default


def _flag(name: str, default: bool) -> bool:
    return _setting(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _repo_root() -> Path:
    # orchestration/src/mlops_orchestration/settings.py -> repository root (editable installs)
    return Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class LaunchSettings:
    mode: LaunchMode
    image_prefix: str
    image_tag: str
    data_root: Path
    repo_root: Path
    tracking_uri: str
    k8s_namespace: str
    k8s_gpu: bool
    docker_gpu: bool
    k8s_max_cpu: str | None = None
    k8s_max_memory: str | None = None
    k8s_on_finish: str = "delete_pod"

    @classmethod
    def from_env(cls) -> "LaunchSettings":
        raw_mode = _setting(ENV_LAUNCH_MODE, LaunchMode.LOCAL.value)
        try:
            mode = LaunchMode(raw_mode)
        except ValueError as exc:
            known = ", ".join(m.value for m in LaunchMode)
            raise ValueError(f"{ENV_LAUNCH_MODE}={raw_mode!r} is not a launch mode ({known})") from exc
        repo_root = Path(_setting(ENV_REPO_ROOT, str(_repo_root())))
        on_finish = _setting(ENV_K8S_ON_FINISH, "delete_pod")
        if on_finish not in K8S_ON_FINISH_ACTIONS:
            raise ValueError(
                f"{ENV_K8S_ON_FINISH}={on_finish!r} is not one of {', '.join(K8S_ON_FINISH_ACTIONS)}"
            )
        return cls(
            mode=mode,
            image_prefix=_setting(ENV_IMAGE_PREFIX, "mlops/"),
            image_tag=_setting(ENV_IMAGE_TAG, "latest"),
            data_root=Path(_setting(ENV_DATA_ROOT, str(repo_root / ".data"))),
            repo_root=repo_root,
            tracking_uri=_setting(ENV_TRACKING_URI, "http://127.0.0.1:5000"),
            k8s_namespace=_setting(ENV_K8S_NAMESPACE, "mlops"),
            k8s_gpu=_flag(ENV_K8S_GPU, True),
            docker_gpu=_flag(ENV_DOCKER_GPU, False),
            k8s_max_cpu=_setting(ENV_K8S_MAX_CPU, "") or None,
            k8s_max_memory=_setting(ENV_K8S_MAX_MEMORY, "") or None,
            k8s_on_finish=on_finish,
        )

    def image(self, service: str) -> str:
        return f"{self.image_prefix}{service}:{self.image_tag}"
