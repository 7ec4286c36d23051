"""The workload pod operator: reattaches after a crash, and names a lost node as the reason a try failed
(the evidence is what the node controller writes on the pod; tests/kubernetes/test_faults.py stops a
real kubelet)."""

from datetime import UTC, datetime

import pytest
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import (
    CoreV1Event,
    V1ObjectMeta,
    V1ObjectReference,
    V1Pod,
    V1PodCondition,
    V1PodSpec,
    V1PodStatus,
)

from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.factory import build_dags
from mlops_orchestration.launchers.workload_pod import (
    WorkloadPodOperator,
    await_node_verdict,
    node_lost_reason,
)

from .conftest import CATALOG, settings_for

SINCE = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)


def pod(phase: str = "Running", ready: str | None = "True") -> V1Pod:
    conditions = [V1PodCondition(type="Ready", status=ready, last_transition_time=SINCE)] if ready else []
    return V1Pod(
        metadata=V1ObjectMeta(name="train-abc", namespace="mlops"),
        spec=V1PodSpec(containers=[], node_name="gpu"),
        status=V1PodStatus(phase=phase, conditions=conditions),
    )


def event(reason: str, message: str) -> CoreV1Event:
    return CoreV1Event(
        metadata=V1ObjectMeta(name="e"), involved_object=V1ObjectReference(name="train-abc"),
        reason=reason, message=message,
    )  # fmt: skip


NODE_NOT_READY = event("NodeNotReady", "Node is not ready")


def test_a_pod_marked_not_ready_by_the_node_controller_has_lost_its_node() -> None:
    reason = node_lost_reason(pod(ready="False"), [event("Started", "Started container"), NODE_NOT_READY])
    assert reason is not None
    assert "node gpu is not ready (Node is not ready" in reason
    assert "train-abc not ready since 2026-12-05T01:02:03+00:00" in reason


@pytest.mark.parametrize(
    ("ready", "events"),
    [("True", [NODE_NOT_READY]), ("False", []), ("False", [event("Unhealthy", "Readiness probe failed")]),
     (None, [NODE_NOT_READY])],
    ids=["ready-again", "not-ready-without-node-event", "probe-failure", "no-condition-yet"],
)  # fmt: skip
def test_no_verdict_without_both_signs(ready: str | None, events: list[CoreV1Event]) -> None:
    assert node_lost_reason(pod(ready=ready), events) is None


def test_the_verdict_waits_for_the_node_controller() -> None:
    states = iter([pod(), pod(ready="False"), pod(ready="False")])
    seen = iter([[], [], [NODE_NOT_READY]])
    verdict = await_node_verdict(lambda: next(states), lambda: next(seen), wait_s=5, poll_s=0)
    assert verdict.lost and "node gpu" in verdict.lost


def test_a_pod_that_finishes_meanwhile_is_not_lost() -> None:
    verdict = await_node_verdict(lambda: pod(phase="Succeeded"), lambda: [NODE_NOT_READY], wait_s=5, poll_s=0)
    assert verdict.finished and verdict.lost is None


def test_a_healthy_node_gives_no_verdict_within_the_wait() -> None:
    verdict = await_node_verdict(lambda: pod(), lambda: [], wait_s=0.05, poll_s=0.01)
    assert not verdict.finished and verdict.lost is None


def test_every_workload_step_reattaches_to_its_pod_after_a_crash() -> None:
    dags = build_dags(CATALOG, settings_for(LaunchMode.KUBERNETES))
    tasks = [t for dag in dags.values() for t in dag.tasks if isinstance(t, KubernetesPodOperator)]
    assert tasks
    assert all(isinstance(t, WorkloadPodOperator) for t in tasks)
    assert all(t.durable and t.reattach_on_restart for t in tasks)
