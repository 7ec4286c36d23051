"""The operator every workload step runs as in `kubernetes` mode: upstream's KubernetesPodOperator, plus
a clear verdict when the pod's node is lost. Imported by that launcher only, where tasks are built.

When a node's kubelet stops answering, the pod's status freezes at `Running`: the operator's log stream
breaks and, left alone, the task fails with an API error about the kubelet's port (or waits for its
execution timeout). The node controller marks such a node NotReady after its grace period (50 s by
default) and, with it, every pod there: Ready=False plus a `NodeNotReady` event. Both are readable with
the pod-launcher Role (nodes are not). On that evidence the task fails naming the node, and the pod is
deleted whatever `on_finish_action` says: a pod on a partitioned node keeps running, and must not come
back beside the retry when the node returns (its kubelet then stops it).
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import CoreV1Event, V1Pod
from kubernetes.client.exceptions import ApiException

# How long to look for the node controller's verdict after the pod could not be followed: its grace
# period (50 s by default) plus a few of its 5 s monitoring rounds.
NODE_VERDICT_WAIT_S = 90.0
NODE_VERDICT_POLL_S = 5.0
# A broken log stream on a healthy node is followed again, this many times per try.
MAX_FOLLOW_RESUMES = 3
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


class PodNodeLostError(RuntimeError):
    """The node running the task's pod stopped reporting: the try fails, a retry starts a new pod."""


def node_lost_reason(pod: V1Pod, events: Sequence[CoreV1Event]) -> str | None:
    """Why the pod's node is lost (the node controller marked the pod not ready with a NodeNotReady
    event), or None while there is no such evidence."""
    conditions = {c.type: c for c in (pod.status.conditions or [])} if pod.status else {}
    ready = conditions.get("Ready")
    if ready is None or ready.status == "True":
        return None
    marked = [e for e in events if e.reason == "NodeNotReady"]
    if not marked:
        return None
    since = ready.last_transition_time.isoformat() if ready.last_transition_time else "unknown"
    return (
        f"node {pod.spec.node_name} is not ready ({marked[-1].message or 'NodeNotReady'}; pod "
        f"{pod.metadata.name} not ready since {since}): its kubelet stopped reporting"
    )


@dataclass(frozen=True)
class Verdict:
    lost: str | None = None  # the reason, when the node is lost
    finished: bool = False  # the pod reached a terminal phase meanwhile


def await_node_verdict(
    read_pod: Callable[[], V1Pod],
    read_events: Callable[[], Sequence[CoreV1Event]],
    wait_s: float = NODE_VERDICT_WAIT_S,
    poll_s: float = NODE_VERDICT_POLL_S,
) -> Verdict:
    """Poll the pod until its node is declared lost or the pod finishes; an empty verdict when neither
    happens within `wait_s` (the node is fine: the interruption was something else)."""
    deadline = time.monotonic() + wait_s
    while True:
        pod = read_pod()
        if pod.status and pod.status.phase in TERMINAL_PHASES:
            return Verdict(finished=True)
        if reason := node_lost_reason(pod, read_events()):
            return Verdict(lost=reason)
        if time.monotonic() >= deadline:
            return Verdict()
        time.sleep(poll_s)


class WorkloadPodOperator(KubernetesPodOperator):
    def __init__(self, **kwargs: Any) -> None:
        # After a worker or scheduler crash the next try finds the running pod (by the identity kept in
        # Airflow's task state, else by its dag_id/task_id/run_id labels) instead of starting a second
        # one. Upstream's default on Airflow 3.3; said here because training relies on it.
        kwargs.setdefault("durable", True)
        super().__init__(**kwargs)
        self.node_lost: PodNodeLostError | None = None

    def await_pod_completion(self, pod: V1Pod) -> None:
        for resumes in range(MAX_FOLLOW_RESUMES + 1):
            try:
                return super().await_pod_completion(pod)
            except Exception as error:
                verdict = self._node_verdict(pod, error)
                if verdict.finished:
                    return None  # cleanup reads the outcome
                if verdict.lost:
                    self.node_lost = PodNodeLostError(verdict.lost)
                    self._fence(pod)
                    raise self.node_lost from error
                if resumes == MAX_FOLLOW_RESUMES:
                    raise
                self.log.warning("following pod %s again after: %s", pod.metadata.name, error)
        return None

    def execute_sync(self, context: Any) -> Any:
        try:
            return super().execute_sync(context)
        except Exception as error:
            # Cleanup reports the lost pod as "returned a failure"; the node is the reason.
            if self.node_lost is not None and error is not self.node_lost:
                raise self.node_lost from error
            raise

    def _node_verdict(self, pod: V1Pod, interruption: Exception) -> Verdict:
        name, namespace = pod.metadata.name, pod.metadata.namespace
        self.log.warning("lost track of pod %s (%s); checking its node", name, interruption)
        try:
            return await_node_verdict(
                lambda: self.client.read_namespaced_pod(name, namespace),
                lambda: (
                    self.client.list_namespaced_event(
                        namespace, field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}"
                    ).items
                ),
            )
        except ApiException as error:
            self.log.warning("could not check pod %s: %s", name, error)
            return Verdict()

    def _fence(self, pod: V1Pod) -> None:
        name = pod.metadata.name
        self.log.error("%s; deleting pod %s so that it stops when the node returns", self.node_lost, name)
        try:
            self.client.delete_namespaced_pod(name, pod.metadata.namespace)
        except ApiException as error:
            if error.status != 404:
                self.log.warning("could not delete pod %s: %s", name, error)
