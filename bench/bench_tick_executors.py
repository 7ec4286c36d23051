"""Tick rollup on the local cluster: local[*] in one pod vs Spark executors as pods (client mode).

    .venv/bin/python bench/bench_tick_executors.py [--ticks 10000000] [--runs 1] [--executors 2]
        [--executor-memory 2g]                                                    (make bench-tick-k8s)

Both modes run the `tick_features` build step as Airflow's kubernetes launcher runs it (`airflow tasks
test`, KubernetesPodOperator as the pod-launcher ServiceAccount) on the same raw ticks: 5 days x 50
symbols as in bench-tick, generated once into the data volume's host folder and kept for reuse. First
local[*] in the task's pod, then the catalog's `spark` setting: the pod is the driver and the executors
are pods of 1 core each. Printed per mode: the rollup's own time (the CLI summary's `seconds`: reading
raw to the last manifest, after the Spark session started), the driver container's lifetime (JVM start;
with executors also their pods' start and registration), the task as Airflow ran it, and the ratios
executors / local[*]. Both modes get the same cores: on a 2-core host the ratio measures what executors
as pods cost (pod starts, RPC, shuffle through the network stack), not a speedup, which needs executors
on more cores or nodes than one pod has. Needs the images loaded and overlay `local` applied (make
e2e-k8s, or make cluster-up && OVERLAY=local deploy/deploy.sh). Kubernetes timestamps are whole seconds.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the task runner is shared with tests/kubernetes

from tests.kubernetes.tick_rollup_task import (  # noqa: E402
    CLUSTER_DIR,
    NAMESPACE,
    RollupDag,
    TaskPods,
    airflow_env,
    delete_driver_pods,
    deployed_image_tag,
    generate_raw,
    migrate,
    observe,
    rollup_summary,
    start_task,
    write_dags_folder,
)

DAYS = 5
SYMBOLS = 50
FIRST_DAY = date(2024, 1, 2)


def pod_seconds(core: client.CoreV1Api, pod: client.V1Pod) -> float:
    (status,) = core.read_namespaced_pod(pod.metadata.name, NAMESPACE).status.container_statuses
    done = status.state.terminated
    return (done.finished_at - done.started_at).total_seconds()


def run(
    core: client.CoreV1Api, env: dict[str, str], dag_id: str, logs: Path, expected_executors: int
) -> dict[str, float]:
    log = logs / f"{dag_id}-{time.time_ns()}.log"
    started = time.perf_counter()
    process = start_task(env, dag_id, FIRST_DAY.isoformat(), log)
    pods = TaskPods()
    while process.poll() is None:
        observe(core, dag_id, pods)
        time.sleep(1)
    task_s = time.perf_counter() - started
    observe(core, dag_id, pods)
    text = log.read_text()
    if process.returncode != 0 or pods.driver is None:
        raise SystemExit(f"{dag_id} failed ({process.returncode}):\n{text[-4000:]}")
    result = {
        "rollup_s": rollup_summary(text)["seconds"],
        "pod_s": pod_seconds(core, pods.driver),
        "task_s": round(task_s, 1),
        "executors_ran": len(pods.running_executors()),
    }
    if result["executors_ran"] != expected_executors:
        raise SystemExit(f"{dag_id}: {result['executors_ran']} executor pods ran, not {expected_executors} "
                         f"(cpu node full? kubectl -n {NAMESPACE} get events): {pods.executors}")  # fmt: skip
    delete_driver_pods(core, [dag_id])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ticks", type=int, default=10_000_000)
    parser.add_argument(
        "--runs", type=int, default=1, help="runs per mode, alternating; the best is reported"
    )
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument(
        "--executor-memory", default="2g", help="per executor (local[*] has the driver's 4g for its 2 cores)"
    )
    args = parser.parse_args()
    admin = CLUSTER_DIR / "admin.kubeconfig"
    if not admin.is_file():
        raise SystemExit(f"no local cluster ({admin} missing): make cluster-up, then make e2e-k8s")
    core = client.CoreV1Api(config.new_client_from_config(str(admin)))
    data_root = Path(core.read_persistent_volume("mlops-data-local").spec.host_path.path)
    bench = Path("bench") / "tick-executors"
    raw = f"{bench}/raw-{args.ticks}"
    if not (data_root / raw / ".complete").exists():
        shutil.rmtree(data_root / raw, ignore_errors=True)
        started = time.perf_counter()
        generate_raw(data_root / raw, FIRST_DAY.isoformat(), DAYS, SYMBOLS, args.ticks // DAYS)
        (data_root / raw / ".complete").write_text("ok")
        print(f"generated {args.ticks:,} ticks in {time.perf_counter() - started:.0f}s -> {data_root / raw}")
    (data_root / bench).chmod(0o777)
    last = (FIRST_DAY + timedelta(days=DAYS - 1)).isoformat()
    spark = {"executors": args.executors, "executor_cores": 1, "executor_memory": args.executor_memory}
    modes = {
        "local[*]": RollupDag("bench_tick_local", raw, f"{bench}/out-local", None, FIRST_DAY.isoformat(), last),
        "executors": RollupDag("bench_tick_executors", raw, f"{bench}/out-executors", spark,
                               FIRST_DAY.isoformat(), last),
    }  # fmt: skip
    tag = deployed_image_tag(core)
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; images :{tag}; {args.ticks:,} ticks "
        f"({DAYS} days x {SYMBOLS} symbols); executors: {args.executors} x 1 core, {args.executor_memory}",
        flush=True,
    )
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-tick-executors-") as tmp:
            home = Path(tmp)
            write_dags_folder(home / "dags", list(modes.values()))
            # Requests capped so that the driver and its executors fit the cpu node's 2 CPUs beside the
            # platform's pods (no CPU limits: every pod may use both cores); the catalog's 6Gi for the pod.
            env = airflow_env(home, home / "dags", tag, max_cpu="250m", max_memory="6Gi")
            migrate(env)
            for attempt in range(args.runs):
                for mode, dag in modes.items():
                    expected = args.executors if dag.spark else 0
                    result = run(core, env, dag.dag_id, home, expected)
                    results[mode].append(result)
                    print(f"run {attempt + 1} {mode:>9}: {json.dumps(result)}", flush=True)
    finally:
        delete_driver_pods(core, [dag.dag_id for dag in modes.values()])
    best = {mode: min(rows, key=lambda r: r["rollup_s"]) for mode, rows in results.items()}
    local, executors = best["local[*]"], best["executors"]
    print()
    for key, what in (("rollup_s", "rollup (job)"), ("pod_s", "driver pod"), ("task_s", "Airflow task")):
        print(
            f"{what:>13}: local[*] {local[key]:7.1f}s   {args.executors} executors {executors[key]:7.1f}s   "
            f"executors / local[*] = {executors[key] / local[key]:.2f}x"
        )
    checksums = {}
    for mode, dag in modes.items():
        folder = data_root / dag.out / "ticks" / "manifests"
        checksums[mode] = {
            p.name: json.loads(p.read_text())["features_checksum"] for p in folder.glob("*.json")
        }
    same = checksums["local[*]"] == checksums["executors"]
    print(f"same feature checksums for all {DAYS} dates: {'yes' if same else 'NO'}")
    print(
        f"On {os.cpu_count()} cores both modes share the same cores: this measures the overhead of executors "
        "as pods, not a speedup."
    )
    for dag in modes.values():
        shutil.rmtree(data_root / dag.out, ignore_errors=True)
    print(json.dumps({"ticks": args.ticks, "best": best, "same_checksums": same}))


if __name__ == "__main__":
    main()
