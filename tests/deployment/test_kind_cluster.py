"""k8s/kind/cluster.yaml: one control plane, a cpu and a "gpu" worker whose labels and taints are
exactly what the workload catalog's node pools select and tolerate."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import K8S, REPO

CATALOG = REPO / "orchestration" / "dags" / "catalog.yaml"
POOL_LABEL = "mlops.io/node-pool"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def kind_nodes() -> list[dict[str, Any]]:
    config = yaml.safe_load((K8S / "kind" / "cluster.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    return config["nodes"]


def taints(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for patch in node.get("kubeadmConfigPatches", []):
        document = yaml.safe_load(patch)
        if document.get("kind") == "JoinConfiguration":
            found += document.get("nodeRegistration", {}).get("taints", [])
    return found


def workers() -> dict[str, dict[str, Any]]:
    return {n["labels"][POOL_LABEL]: n for n in kind_nodes() if n["role"] == "worker"}


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint["key"]
    return toleration.get("key") == taint["key"] and toleration.get("value", "") == taint.get("value", "")


def schedulable(pool: dict[str, Any], node: dict[str, Any]) -> bool:
    labels = node.get("labels", {})
    selected = all(labels.get(k) == v for k, v in pool["nodeSelector"].items())
    tolerations = pool.get("tolerations") or []
    return selected and all(any(tolerates(t, taint) for t in tolerations) for taint in taints(node))


def catalog() -> dict[str, Any]:
    if not CATALOG.exists():
        pytest.skip(f"{CATALOG.relative_to(REPO)} does not exist yet")
    return yaml.safe_load(Path(CATALOG).read_text())


def catalog_pools() -> dict[str, dict[str, Any]]:
    """The catalog's node pools as scheduling rules (its snake_case keys, Kubernetes' camelCase)."""
    return {
        name: {"nodeSelector": pool["node_selector"], "tolerations": pool.get("tolerations") or []}
        for name, pool in catalog()["node_pools"].items()
    }


def test_one_control_plane_and_one_worker_per_pool() -> None:
    roles = sorted(n["role"] for n in kind_nodes())
    assert roles == ["control-plane", "worker", "worker"]
    assert set(workers()) == {"cpu", "gpu"}


def test_gpu_worker_is_tainted_and_cpu_worker_is_not() -> None:
    pools = workers()
    assert [{k: t[k] for k in ("key", "value", "effect")} for t in taints(pools["gpu"])] == [GPU_TAINT]
    assert taints(pools["cpu"]) == []


def test_the_agreed_pool_rules_schedule_where_intended() -> None:
    gpu_pool = {
        "nodeSelector": {POOL_LABEL: "gpu"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    cpu_pool = {"nodeSelector": {POOL_LABEL: "cpu"}}
    pools = workers()
    assert schedulable(gpu_pool, pools["gpu"]) and not schedulable(gpu_pool, pools["cpu"])
    assert schedulable(cpu_pool, pools["cpu"]) and not schedulable(cpu_pool, pools["gpu"])
    assert not schedulable({"nodeSelector": {POOL_LABEL: "gpu"}}, pools["gpu"])  # taint keeps others off


def test_both_workers_share_the_data_root_at_the_path_of_the_kind_volume() -> None:
    for node in workers().values():
        assert [m["containerPath"] for m in node["extraMounts"]] == ["/var/local/mlops-data"]
    assert len({m["hostPath"] for n in workers().values() for m in n["extraMounts"]}) == 1


def test_every_catalog_node_pool_schedules_on_exactly_its_kind_worker() -> None:
    pools = catalog_pools()
    assert set(pools) == set(workers()), "catalog node pools and kind workers differ"
    for name, pool in pools.items():
        matches = [worker for worker, node in workers().items() if schedulable(pool, node)]
        assert matches == [name], f"catalog pool {name} schedules on kind workers {matches}"


def test_catalog_workloads_use_known_pools_and_priority_classes(rendered) -> None:
    ours = {o["metadata"]["name"] for o in rendered["kind"] if o["kind"] == "PriorityClass"}
    workloads = catalog()["workloads"]
    for workload in workloads:
        assert workload["node_pool"] in catalog_pools(), workload["dag_id"]
        if "priority_class" in workload:
            assert workload["priority_class"] in ours, workload["dag_id"]
