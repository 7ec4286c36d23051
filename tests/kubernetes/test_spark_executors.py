"""Spark executors as pods on the live local cluster: the tick rollup in client mode (the catalog's `spark`
setting), launched by Airflow's KubernetesPodOperator as in production, against the same rollup with
local[*] in one pod. The same raw partition gives identical bars, quarantine and manifests; the executor
pods exist while the job runs and are gone after it; an executor pod deleted mid-job is replaced and the
job still writes the same output.

Needs overlay `local` applied with k8s/components/spark-tick-features (make e2e-k8s, or
OVERLAY=local deploy/deploy.sh); it writes only under <data root>/k8s-tests/ and removes that.
"""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes.conftest import NAMESPACE
from tests.kubernetes.tick_rollup_task import (
    RollupDag,
    TaskPods,
    airflow_env,
    assert_same_rollup,
    data_volume_folder,
    delete_driver_pods,
    deployed_image_tag,
    executor_pods,
    generate_raw,
    migrate,
    observe,
    rollup_summary,
    start_task,
    write_dags_folder,
)

DAY = "2026-11-20"
# One raw file of one row group (pyarrow writes up to 1Mi rows per group): every shuffle then reads
# map output in the same order whether one JVM or two executors run the tasks, so floating-point
# sums agree to the bit and "identical" is checked exactly.
TICKS = 600_000
SPARK = {"executors": 2, "executor_cores": 1, "executor_memory": "1g"}
TASK_TIMEOUT_S = 900


@dataclass(frozen=True)
class Rollups:
    core: client.CoreV1Api
    env: dict[str, str]
    work: Path  # on the host: <data root>/k8s-tests/spark-<id>
    logs: Path
    local: Path  # output of local[*] in one pod

    def output(self, name: str) -> Path:
        return self.work / name


def dags(run: str) -> list[RollupDag]:
    prefix = f"k8s-tests/{run}"
    return [
        RollupDag(f"spark_check_{name}", f"{prefix}/raw", f"{prefix}/{name}", spark)
        for name, spark in (("local", None), ("executors", SPARK), ("killed", SPARK))
    ]


@pytest.fixture(scope="module")
def rollups(admin_api, require_e2e, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rollups]:
    core = client.CoreV1Api(admin_api)
    require_e2e(
        core.list_namespaced_config_map(
            NAMESPACE, field_selector="metadata.name=spark-tick-features-executor"
        ).items,
        "no executor pod template (overlay local with k8s/components/spark-tick-features)",
    )
    home = tmp_path_factory.mktemp("airflow")
    with data_volume_folder(core, "spark") as work:
        generated = dags(work.name)
        write_dags_folder(home / "dags", generated)
        # Small CPU requests (no limits: the pods still use every free core), so that the driver and both
        # executors get scheduled beside whatever else runs on the cpu node's 2 CPUs.
        env = airflow_env(home, home / "dags", deployed_image_tag(core), max_cpu="100m", max_memory="3Gi")
        try:
            generate_raw(work / "raw", DAY, days=1, symbols=20, ticks_per_day=TICKS, defects=2)
            migrate(env)
            rollups = Rollups(core, env, work, home, work / "local")
            done = run_task(rollups, "spark_check_local", TaskPods())
            assert done.returncode == 0, done.log[-4000:]
            assert done.pods.executors == {}, "local[*] started executor pods"
            yield rollups
        finally:
            delete_driver_pods(core, [d.dag_id for d in generated])


@dataclass(frozen=True)
class TaskRun:
    returncode: int
    log: str
    pods: TaskPods


def run_task(rollups: Rollups, dag_id: str, pods: TaskPods, during=None) -> TaskRun:
    """Run the DAG's build task to its end, looking at its pods every half second (and calling
    `during(pods)` each time, for faults)."""
    log = rollups.logs / f"{dag_id}.log"
    process = start_task(rollups.env, dag_id, DAY, log)
    deadline = time.monotonic() + TASK_TIMEOUT_S
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{dag_id}: not done within {TASK_TIMEOUT_S}s:\n{log.read_text()[-3000:]}"
                )
            observe(rollups.core, dag_id, pods)
            if during is not None:
                during(pods)
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    observe(rollups.core, dag_id, pods)
    return TaskRun(process.returncode, log.read_text(), pods)


def assert_same_output(rollups: Rollups, name: str) -> None:
    assert_same_rollup(rollups.output(name), rollups.local, DAY)


def wait_for_no_executors(core: client.CoreV1Api, driver: client.V1Pod, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while names := [p.metadata.name for p in executor_pods(core, driver)]:
        if time.monotonic() > deadline:
            return names
        time.sleep(1)
    return []


def test_two_executor_pods_roll_up_exactly_what_local_does(rollups: Rollups) -> None:
    run = run_task(rollups, "spark_check_executors", TaskPods())
    assert run.returncode == 0, run.log[-4000:]
    driver = run.pods.driver
    assert driver is not None and driver.spec.service_account_name == "spark-tick-features"
    assert len(run.pods.running_executors()) == 2, run.pods.executors
    assert driver.spec.node_name == "cpu" and set(run.pods.nodes.values()) == {"cpu"}, run.pods.nodes
    summary = rollup_summary(run.log)
    assert summary["partitions_written"] == [DAY] and summary["raw_ticks"] > TICKS
    # Spark deletes its executors when the job stops; the driver pod is still there (kept).
    assert wait_for_no_executors(rollups.core, driver) == []
    assert rollups.core.read_namespaced_pod(driver.metadata.name, NAMESPACE).status.phase == "Succeeded"
    for name in run.pods.executors:
        with pytest.raises(ApiException) as gone:
            rollups.core.read_namespaced_pod(name, NAMESPACE)
        assert gone.value.status == 404
    assert_same_output(rollups, "executors")


class KillAnExecutor:
    """Deletes one executor pod, as `kubectl delete pod` does, once it is running tasks."""

    def __init__(self, core: client.CoreV1Api) -> None:
        self.core = core
        self.killed: str | None = None
        self.driver_phase_then: str | None = None

    def __call__(self, pods: TaskPods) -> None:
        if self.killed or pods.driver is None:
            return
        for name in sorted(pods.running_executors()):
            with contextlib.suppress(ApiException):
                log = self.core.read_namespaced_pod_log(name, NAMESPACE, tail_lines=200)
                if "Running task" in log:
                    self.core.delete_namespaced_pod(name, NAMESPACE)
                    self.killed = name
                    self.driver_phase_then = self.core.read_namespaced_pod(
                        pods.driver.metadata.name, NAMESPACE
                    ).status.phase
                    return


def test_a_killed_executor_pod_is_replaced_and_the_output_stays_the_same(rollups: Rollups) -> None:
    kill = KillAnExecutor(rollups.core)
    run = run_task(rollups, "spark_check_killed", TaskPods(), during=kill)
    assert kill.killed, f"no executor ran a task while the job ran: {run.pods.executors}"
    assert kill.driver_phase_then == "Running"  # killed mid-job
    assert run.returncode == 0, run.log[-4000:]
    replacements = run.pods.running_executors() - {kill.killed}
    # Two executors from the start, and at least one more for the one killed.
    assert len(run.pods.executors) >= 3 and len(replacements) >= 2, run.pods.executors
    assert run.pods.driver is not None
    assert wait_for_no_executors(rollups.core, run.pods.driver) == []
    assert_same_output(rollups, "killed")
