"""The docker container and the kubernetes pod built for one TaskSpec run under the same runtime contract."""

import pytest
from airflow.sdk import DAG

from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.launchers import BUILDERS
from mlops_orchestration.runtime import WORKLOAD_RUNTIME
from mlops_orchestration.spec import step_spec

from .conftest import settings_for


@pytest.fixture(scope="module")
def docker_and_pod(catalog):
    workload = catalog.workload("tick_features")
    spec = step_spec(catalog, workload, "build", workload.steps["build"].command, heavy=True)
    return build(LaunchMode.DOCKER, spec), build(LaunchMode.KUBERNETES, spec)


def build(mode: LaunchMode, spec):
    with DAG(dag_id=f"runtime_{mode.value}", schedule=None):
        return BUILDERS[mode](spec, settings_for(mode))


def contract_of_docker(task) -> dict[str, object]:
    host = task.host_config_contract
    uid, gid = task.user.split(":")
    return {
        "uid": int(uid),
        "gid": int(gid),
        "home": task.environment["HOME"],
        "tmp_dirs": set(host["tmpfs"]),
        "dropped_capabilities": set(host["cap_drop"]),
        "read_only_root_filesystem": host["read_only"],
        "no_new_privileges": "no-new-privileges" in host["security_opt"],
    }


def contract_of_pod(task) -> dict[str, object]:
    pod, container = task.security_context, task.container_security_context
    scratch = {volume.name for volume in task.volumes if volume.empty_dir is not None}
    return {
        "uid": pod.run_as_user,
        "gid": pod.run_as_group,
        "home": task.env_vars["HOME"],
        "tmp_dirs": {mount.mount_path for mount in task.volume_mounts if mount.name in scratch},
        "dropped_capabilities": set(container.capabilities.drop),
        "read_only_root_filesystem": container.read_only_root_filesystem,
        "no_new_privileges": container.allow_privilege_escalation is False,
    }


def test_docker_and_kubernetes_derive_the_same_contract(docker_and_pod) -> None:
    docker, pod = docker_and_pod
    assert contract_of_docker(docker) == contract_of_pod(pod)


def test_the_contract_is_the_pods_restricted_one(docker_and_pod) -> None:
    _, pod = docker_and_pod
    assert contract_of_pod(pod) == {
        "uid": WORKLOAD_RUNTIME.uid,
        "gid": WORKLOAD_RUNTIME.gid,
        "home": WORKLOAD_RUNTIME.home,
        "tmp_dirs": {WORKLOAD_RUNTIME.tmp_dir},
        "dropped_capabilities": {"ALL"},
        "read_only_root_filesystem": True,
        "no_new_privileges": True,
    }
    assert pod.security_context.fs_group == WORKLOAD_RUNTIME.gid  # files on the data volume stay ours


def test_home_is_inside_the_writable_tmp_dir() -> None:
    assert WORKLOAD_RUNTIME.home == WORKLOAD_RUNTIME.tmp_dir or WORKLOAD_RUNTIME.home.startswith(
        WORKLOAD_RUNTIME.tmp_dir + "/"
    )
