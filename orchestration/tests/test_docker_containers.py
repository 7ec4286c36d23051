"""`docker` mode: the operator built for a task carries the runtime contract, and a container it runs on a
real engine is as restricted as the pod (uid, read-only root, writable /tmp and /data, no capabilities)."""

from dataclasses import replace
from pathlib import Path

import pytest
from airflow.sdk import DAG
from docker import APIClient
from docker.errors import DockerException

from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.launchers import BUILDERS
from mlops_orchestration.launchers.docker import HostConfigWithContract
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import step_spec

from .conftest import settings_for

# Built by deploy/base-image.sh (make images); every workload image starts from it.
BASE_IMAGE_PREFIX, BASE_IMAGE_SERVICE, BASE_IMAGE_TAG = "mlops/", "base", "bookworm-py311"
BASE_IMAGE = f"{BASE_IMAGE_PREFIX}{BASE_IMAGE_SERVICE}:{BASE_IMAGE_TAG}"
# One `key=value` line per property. uid 10001 could not write to / anyway: the error must say read-only.
# CapBnd shows the dropped capabilities (CapEff is 0 for any non-root user); /tmp must allow exec, as the
# pod's emptyDir does.
PROBE = r"""
echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "home=$HOME"
touch /probe 2>&1 | grep -q 'Read-only file system' && echo root=read-only
touch /tmp/probe && echo tmp=writable
cp /usr/bin/true /tmp/true && /tmp/true && echo tmp_exec=yes
touch /data/probe && echo data=writable
sed -n -e 's/^\(CapEff\|CapBnd\|NoNewPrivs\):\s*/\1=/p' /proc/self/status
"""


@pytest.fixture
def validate_spec(catalog):
    workload = catalog.workload("power_lgbm_training")
    return step_spec(catalog, workload, "validate", workload.steps["validate"].command, heavy=False)


def build(spec, settings: LaunchSettings | None = None, **operator_kwargs):
    settings = settings or settings_for(LaunchMode.DOCKER)
    with DAG(dag_id="docker_contract", schedule=None):
        return BUILDERS[LaunchMode.DOCKER](spec, settings, **operator_kwargs)


def offline_client() -> APIClient:
    # With a fixed API version the client never contacts an engine until it sends a request.
    return APIClient(base_url="unix:///nonexistent/docker.sock", version="1.41")


def test_the_operator_carries_the_contract(validate_spec) -> None:
    from mlops_orchestration.launchers.docker import ContractDockerOperator

    task = build(validate_spec)
    assert type(task) is ContractDockerOperator  # importable by the name serialized DAGs record
    assert task.user == "10001:10001"
    assert task.environment["HOME"] == "/tmp"
    host_config = HostConfigWithContract(offline_client(), task.host_config_contract).create_host_config(
        network_mode=task.network_mode, mounts=task.mounts
    )
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["CapDrop"] == ["ALL"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["Tmpfs"] == {"/tmp": "exec"}
    assert host_config["NetworkMode"] == "host"  # the operator's own options pass through unchanged
    assert [m["Target"] for m in host_config["Mounts"]] == ["/data"]


def test_an_option_the_operator_starts_passing_itself_is_an_error(validate_spec) -> None:
    client = HostConfigWithContract(offline_client(), build(validate_spec).host_config_contract)
    with pytest.raises(TypeError, match="read_only"):
        client.create_host_config(read_only=False)


def test_other_client_calls_reach_the_engine_client_unchanged() -> None:
    engine = offline_client()
    assert HostConfigWithContract(engine, {}).api_version == engine.api_version == "1.41"


def engine_with_base_image() -> APIClient:
    try:
        client = APIClient(version="auto", timeout=10)
    except DockerException as exc:
        pytest.skip(f"no Docker engine answers ({exc}); deploy/docker-engine.sh starts one")
    if not client.images(name=BASE_IMAGE):
        pytest.skip(f"image {BASE_IMAGE} not built (deploy/base-image.sh or make images builds it)")
    return client


def test_a_container_runs_under_the_contract(validate_spec, tmp_path: Path) -> None:
    engine_with_base_image()
    tmp_path.chmod(0o777)  # the data root as deploy/e2e-docker.sh leaves it: writable by uid 10001
    settings = settings_for(
        LaunchMode.DOCKER, image_prefix=BASE_IMAGE_PREFIX, image_tag=BASE_IMAGE_TAG, data_root=tmp_path
    )
    probe = replace(validate_spec, service=BASE_IMAGE_SERVICE, argv=["sh", "-c", PROBE])
    task = build(probe, settings=settings, xcom_all=True)
    lines = task.execute(context={})
    seen = dict(line.split("=", 1) for line in lines if "=" in line)
    assert seen == {
        "uid": "10001",
        "gid": "10001",
        "home": "/tmp",
        "root": "read-only",
        "tmp": "writable",
        "tmp_exec": "yes",
        "data": "writable",
        "CapEff": "0000000000000000",
        "CapBnd": "0000000000000000",
        "NoNewPrivs": "1",
    }
    assert (tmp_path / "probe").exists()
