"""`local`: the workload CLI from that service's own virtualenv, through Airflow's BashOperator."""

import shlex
from pathlib import Path
from typing import Any

from mlops_orchestration.constants import ENV_DATA_ROOT, ENV_TRACKING_URI
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import TaskSpec, operator_overrides

TEMPLATED_ARG_ENV = "MLOPS_ARG_{index}"


def service_bin(settings: LaunchSettings, service: str) -> Path:
    return settings.repo_root / "services" / service / ".venv" / "bin"


def is_template(arg: str) -> bool:
    return "{{" in arg or "{%" in arg


def templated_args(argv: list[str]) -> dict[str, str]:
    """Jinja arguments travel as environment variables, never through the shell's parser: a rendered
    value (a run id, an approver's free-text reason) can hold quotes or `$(...)` and stays one word."""
    return {TEMPLATED_ARG_ENV.format(index=i): arg for i, arg in enumerate(argv) if is_template(arg)}


def shell_word(index: int, arg: str) -> str:
    return f'"${TEMPLATED_ARG_ENV.format(index=index)}"' if is_template(arg) else shlex.quote(arg)


def local_command(spec: TaskSpec, settings: LaunchSettings) -> str:
    bin_dir = service_bin(settings, spec.service)
    argv = spec.rendered_argv(str(settings.data_root))
    executable = bin_dir / argv[0]
    missing = f"local launch: {executable} not found; run 'make setup' to build the {spec.service} virtualenv"
    check = f"[ -x {shlex.quote(str(executable))} ] || {{ echo {shlex.quote(missing)} >&2; exit 127; }}"
    words = [shlex.quote(str(executable)), *(shell_word(i, arg) for i, arg in enumerate(argv) if i > 0)]
    return f"{check}; exec {' '.join(words)}"


def local_env(spec: TaskSpec, settings: LaunchSettings) -> dict[str, str]:
    return {
        **spec.env,
        **templated_args(spec.rendered_argv(str(settings.data_root))),
        ENV_TRACKING_URI: settings.tracking_uri,
        ENV_DATA_ROOT: str(settings.data_root),
        "MLOPS_IMAGE": f"local:{spec.service}",
    }


def build_local_task(spec: TaskSpec, settings: LaunchSettings, **operator_kwargs: Any) -> Any:
    from airflow.providers.standard.operators.bash import BashOperator

    return BashOperator(
        task_id=spec.task_id,
        bash_command=local_command(spec, settings),
        env=local_env(spec, settings),
        append_env=True,
        cwd=str(settings.repo_root),
        skip_on_exit_code=list(spec.skip_on_exit_codes) or None,
        **operator_overrides(spec),
        **operator_kwargs,
    )
