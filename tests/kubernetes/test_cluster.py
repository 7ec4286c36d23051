"""The local cluster as Kubernetes itself reports it: node pools as the catalog says, restricted Pod
Security enforced by the real admission plugin, the Airflow identity limited to its Role."""

import json
import socket
import struct
import time
import uuid

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes.conftest import CATALOG, NAMESPACE

PAUSE_IMAGE = "mlops/pause:local"


def node_pools() -> dict:
    return yaml.safe_load(CATALOG.read_text())["node_pools"]


def restricted_pod(name: str, pool: dict, **security: object) -> dict:
    tolerations = pool.get("tolerations") or []
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"mlops.io/test": "cluster"}},
        "spec": {
            "nodeSelector": pool["node_selector"],
            "tolerations": tolerations,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": PAUSE_IMAGE,
                    "imagePullPolicy": "Never",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                        **security,
                    },
                }
            ],
        },
    }


def test_nodes_are_the_catalog_pools(admin_api) -> None:
    nodes = {n.metadata.name: n for n in client.CoreV1Api(admin_api).list_node().items}
    assert set(nodes) == {"cpu", "gpu"}
    for name, pool in node_pools().items():
        node = nodes[name]
        assert pool["node_selector"].items() <= node.metadata.labels.items()
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True", f"node {name} not Ready"
        taint_keys = {(t.key, t.effect) for t in node.spec.taints or []}
        assert {(t["key"], t["effect"]) for t in pool["tolerations"]} <= taint_keys
    assert ("nvidia.com/gpu", "NoSchedule") in {(t.key, t.effect) for t in nodes["gpu"].spec.taints}
    assert not nodes["cpu"].spec.taints


def test_pool_pods_run_on_their_node_under_restricted_pod_security(admin_api) -> None:
    core = client.CoreV1Api(admin_api)
    names = {pool: f"pool-{pool}-{uuid.uuid4().hex[:6]}" for pool in node_pools()}
    try:
        for pool, name in names.items():
            core.create_namespaced_pod(NAMESPACE, restricted_pod(name, node_pools()[pool]))
        deadline = time.monotonic() + 60
        phases: dict[str, str] = {}
        while time.monotonic() < deadline:
            pods = {p: core.read_namespaced_pod(n, NAMESPACE) for p, n in names.items()}
            phases = {p: pod.status.phase for p, pod in pods.items()}
            if all(phase == "Running" for phase in phases.values()):
                break
            time.sleep(1)
        assert phases == {pool: "Running" for pool in names}
        assert {pool: pods[pool].spec.node_name for pool in names} == {pool: pool for pool in names}
    finally:
        for name in names.values():
            core.delete_namespaced_pod(name, NAMESPACE, grace_period_seconds=0)


@pytest.mark.parametrize(
    ("security", "refusal"),
    [({"privileged": True}, "privileged"), ({"runAsUser": 0}, "runAsUser=0")],
    ids=["privileged", "root"],
)
def test_pod_security_admission_rejects(admin_api, security: dict, refusal: str) -> None:
    pod = restricted_pod(f"rejected-{uuid.uuid4().hex[:6]}", node_pools()["cpu"], **security)
    if security.get("privileged"):
        pod["spec"]["containers"][0]["securityContext"].pop("allowPrivilegeEscalation")
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(admin_api).create_namespaced_pod(NAMESPACE, pod)
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted' in message
    assert refusal in message


def can(api, verb: str, resource: str, namespace: str, group: str = "") -> bool:
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, group=group, namespace=namespace
            )
        )
    )
    return client.AuthorizationV1Api(api).create_self_subject_access_review(review).status.allowed


def test_airflow_identity_has_exactly_the_pod_launcher_role(airflow_api) -> None:
    rules = client.AuthorizationV1Api(airflow_api).create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace=NAMESPACE))
    )
    granted = {
        (resource, verb)
        for rule in rules.status.resource_rules
        for resource in rule.resources or []
        for verb in rule.verbs
        if not resource.startswith("self")
    }
    assert granted == {
        *{("pods", v) for v in ("create", "get", "list", "watch", "delete", "patch")},
        ("pods/log", "get"),
        ("events", "list"),
    }
    assert can(airflow_api, "create", "pods", NAMESPACE)
    assert not can(airflow_api, "get", "secrets", NAMESPACE)
    assert not can(airflow_api, "create", "deployments", NAMESPACE, group="apps")
    assert not can(airflow_api, "create", "pods", "default")
    assert not can(airflow_api, "list", "pods", "kube-system")


def resolve_a(server: str, name: str) -> list[str]:
    """One DNS A query over UDP (RFC 1035), stdlib only: the addresses in the answer section."""
    query_id = 0x4D4C
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(packet, (server, 53))
        reply, _ = udp.recvfrom(4096)
    answer_id, flags, _, answers = struct.unpack(">HHHH", reply[:8])
    assert answer_id == query_id and flags & 0x000F == 0, f"DNS error rcode {flags & 0x000F}"
    offset = 12 + len(question) + 4
    addresses = []
    for _ in range(answers):
        offset += 2 if reply[offset] & 0xC0 == 0xC0 else len(question)  # compressed name pointer
        rtype, _, _, length = struct.unpack(">HHIH", reply[offset : offset + 10])
        offset += 10
        if rtype == 1:
            addresses.append(socket.inet_ntoa(reply[offset : offset + length]))
        offset += length
    return addresses


def test_cluster_dns_resolves_services(admin_api) -> None:
    core = client.CoreV1Api(admin_api)
    dns = core.read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip
    api_ip = core.read_namespaced_service("kubernetes", "default").spec.cluster_ip
    assert resolve_a(dns, "kubernetes.default.svc.cluster.local") == [api_ip]
    assert dns == "10.96.0.10"  # the kubelets' clusterDNS: where every pod's resolv.conf points
