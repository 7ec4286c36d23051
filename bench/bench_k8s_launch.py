"""What the `kubernetes` launch mode adds over `local` for one light step, on the local cluster.

The same task, `power_lgbm_training.validate_data`, runs through `airflow tasks test` in `local` mode
(the CLI from the service's venv, BashOperator) and in `kubernetes` mode (KubernetesPodOperator, a pod
on the cpu node, as the pod-launcher ServiceAccount), alternating, on the same data (the data volume's
host directory). Printed: the task's wall time in each mode (from Airflow's own log markers around the
task) and the difference, then the pod's phases as Kubernetes recorded them: created -> scheduled,
scheduled -> container started (sandbox, CNI, image already present), running, and the task's time
outside the pod's lifetime (the operator building and creating the pod, noticing that it started and
finished, reading its logs). Target: kubernetes adds <= 5 s per task.

Needs the local cluster with the images loaded and the `local` overlay applied (make e2e-k8s, or
make cluster-up && OVERLAY=local deploy/deploy.sh); run with the orchestration venv: make bench-k8s.
Kubernetes timestamps have one-second resolution: the pod phases are whole seconds.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench_dag_parse import AIRFLOW_BIN, TASK_END, TASK_START, TRAIN_LGBM, base_env, log_span, timed
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
CLUSTER_DIR = Path(os.environ.get("MLOPS_CLUSTER_DIR", REPO / ".run" / "cluster"))
NAMESPACE = "mlops"
DAG_ID, TASK_ID = "power_lgbm_training", "validate_data"
TARGET_S = 5.0


@dataclass(frozen=True)
class PodPhases:
    scheduled_s: float
    started_s: float
    running_s: float
    lifetime_s: float  # created -> container finished
    image_present: bool


def pod_phases(core: client.CoreV1Api, pod: client.V1Pod) -> PodPhases:
    conditions = {c.type: c.last_transition_time for c in pod.status.conditions or []}
    (state,) = pod.status.container_statuses
    terminated = state.state.terminated
    events = core.list_namespaced_event(
        NAMESPACE, field_selector=f"involvedObject.name={pod.metadata.name}"
    ).items
    pulled = [e.message or "" for e in events if e.reason == "Pulled"]
    created = pod.metadata.creation_timestamp
    return PodPhases(
        scheduled_s=(conditions["PodScheduled"] - created).total_seconds(),
        started_s=(terminated.started_at - conditions["PodScheduled"]).total_seconds(),
        running_s=(terminated.finished_at - terminated.started_at).total_seconds(),
        lifetime_s=(terminated.finished_at - created).total_seconds(),
        image_present=any("already present" in message for message in pulled),
    )


def newest_task_pod(core: client.CoreV1Api) -> client.V1Pod:
    pods = core.list_namespaced_pod(
        NAMESPACE, label_selector=f"kubernetes_pod_operator=True,dag_id={DAG_ID},task_id={TASK_ID}"
    ).items
    if not pods:
        raise SystemExit(
            "the kubernetes run left no pod (MLOPS_K8S_ON_FINISH=keep_pod is set by this script)"
        )
    return max(pods, key=lambda pod: pod.metadata.creation_timestamp)


def image_tag(core: client.CoreV1Api) -> str:
    """The tag the deployed serving image carries: the images make e2e-k8s built and loaded."""
    apps = client.AppsV1Api(core.api_client)
    image = apps.read_namespaced_deployment("serving", NAMESPACE).spec.template.spec.containers[0].image
    return image.rsplit(":", 1)[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="task runs per mode (alternating)")
    args = parser.parse_args()
    admin = CLUSTER_DIR / "admin.kubeconfig"
    if not admin.is_file():
        raise SystemExit(f"no local cluster ({admin} missing): make cluster-up, then make e2e-k8s")
    core = client.CoreV1Api(config.new_client_from_config(str(admin)))
    data_root = Path(core.read_persistent_volume("mlops-data-local").spec.host_path.path)
    if not (data_root / "power").is_dir():
        raise SystemExit(f"no power data under {data_root} (make sample-data)")
    tag = image_tag(core)
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; "
          f"images :{tag}; data {data_root}")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="bench-k8s-launch-") as tmp:
        env = base_env(Path(tmp) / "airflow-home", data_root)
        timed([str(AIRFLOW_BIN / "airflow"), "db", "migrate"], env)
        kubernetes = {
            **env,
            "MLOPS_LAUNCH_MODE": "kubernetes",
            "MLOPS_IMAGE_TAG": tag,
            "MLOPS_K8S_GPU": "false",
            "MLOPS_K8S_ON_FINISH": "keep_pod",
            "MLOPS_K8S_MAX_CPU": "1",
            "MLOPS_K8S_MAX_MEMORY": "3Gi",
            "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps({
                "conn_type": "kubernetes",
                "extra": {"kube_config_path": str(CLUSTER_DIR / "airflow.kubeconfig"), "namespace": NAMESPACE},
            }),
        }  # fmt: skip
        task = [str(AIRFLOW_BIN / "airflow"), "tasks", "test", DAG_ID, TASK_ID, "2026-11-20"]
        direct = [str(TRAIN_LGBM), "validate", "power", "--data-dir", str(data_root / "power")]
        timed(direct, env)  # warm the page cache
        local_s: list[float] = []
        k8s_s: list[float] = []
        outside_s: list[float] = []  # the task's time outside the pod's lifetime: the operator's own
        phases: list[PodPhases] = []
        for run in range(args.runs + 1):  # the first round warms both modes up and is not counted
            _, log = timed(task, env)
            local = log_span(log, TASK_START, TASK_END)
            _, log = timed(task, kubernetes)
            remote = log_span(log, TASK_START, TASK_END)
            pod = newest_task_pod(core)
            measured = pod_phases(core, pod)
            core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)
            if run == 0:
                continue
            local_s.append(local)
            k8s_s.append(remote)
            phases.append(measured)
            outside_s.append(remote - measured.lifetime_s)
            print(f"run {run}: local {local:.2f} s, kubernetes {remote:.2f} s", flush=True)

    med = statistics.median
    added = med(k8s_s) - med(local_s)
    print(f"\n== {DAG_ID}.{TASK_ID}, {args.runs} runs per mode (medians; min-max)")
    print(f"{'what':<46} {'median s':>9} {'min-max s':>13}")
    for name, values in [("local: whole task", local_s), ("kubernetes: whole task", k8s_s)]:
        print(f"{name:<46} {med(values):>9.2f} {min(values):>6.2f}-{max(values):<6.2f}")
    print(f"{'kubernetes adds per task':<46} {added:>+9.2f}   (ratio {med(k8s_s) / med(local_s):.2f}x)")
    print("pod phases (whole seconds):")
    rows = [
        ("  created -> scheduled", [p.scheduled_s for p in phases]),
        ("  scheduled -> container started", [p.started_s for p in phases]),
        ("  container running (the CLI)", [p.running_s for p in phases]),
    ]
    rows.append(("operator outside the pod (task - pod lifetime)", outside_s))
    for name, values in rows:
        print(f"{name:<46} {med(values):>9.1f} {min(values):>6.1f}-{max(values):<6.1f}")
    present = sum(p.image_present for p in phases)
    print(f"  image already present on the node: {present}/{len(phases)} pods (no registry: never pulled)")
    verdict = "met" if added <= TARGET_S else "NOT met"
    print(f"target: kubernetes adds <= {TARGET_S:.0f} s per task: {verdict} ({added:+.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
