"""NetworkPolicies, evaluated: default deny, and exactly the flows the platform needs.

A small evaluator applies the rendered policies the way the API defines them (a flow is allowed
when an egress rule of the source AND an ingress rule of the destination both admit it; a pod no
policy selects for a direction is open in that direction). It supports what our manifests use:
podSelector/namespaceSelector with matchLabels and Exists expressions, ports, and rules without `to`/`from`.
"""

from typing import Any

import pytest

from tests.network_flows import (
    EXTERNAL,
    FLOWS,
    MLFLOW,
    NAMESPACE,
    OUTSIDE,
    SPARK_FLOWS,
    SPARK_OVERLAYS,
    Endpoint,
    Flow,
    ours,
)

from .helpers import OVERLAYS

Policies = list[dict[str, Any]]


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    selector = selector or {}
    assert set(selector) <= {"matchLabels", "matchExpressions"}, f"evaluator does not support {selector}"
    for expression in selector.get("matchExpressions") or []:
        assert expression["operator"] in {"Exists", "DoesNotExist"}, (
            f"evaluator does not support {expression}"
        )
        if (expression["key"] in labels) != (expression["operator"] == "Exists"):
            return False
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def peer_matches(peer: dict[str, Any], endpoint: Endpoint) -> bool:
    namespace, labels = endpoint
    if "ipBlock" in peer:
        return namespace == EXTERNAL
    if namespace == EXTERNAL:
        return False
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": namespace}
        return selects(peer["namespaceSelector"], ns_labels) and selects(peer.get("podSelector"), labels)
    return namespace == NAMESPACE and selects(peer.get("podSelector"), labels)


def rule_admits(rule: dict[str, Any], peers_key: str, peer: Endpoint, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports):
        return False
    peers = rule.get(peers_key)
    return not peers or any(peer_matches(p, peer) for p in peers)


def direction_allows(
    policies: Policies, direction: str, subject: Endpoint, peer: Endpoint, port: int, protocol: str
) -> bool:
    namespace, labels = subject
    if namespace != NAMESPACE:
        return True  # other namespaces have no policies of ours
    relevant = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
    relevant = [p for p in relevant if direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not relevant:
        return True
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    rules = [rule for policy in relevant for rule in policy["spec"].get(key, [])]
    return any(rule_admits(rule, peers_key, peer, port, protocol) for rule in rules)


def allowed(
    policies: Policies, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP"
) -> bool:
    return direction_allows(policies, "Egress", source, destination, port, protocol) and direction_allows(
        policies, "Ingress", destination, source, port, protocol
    )


@pytest.fixture(params=OVERLAYS)
def policies(request, rendered) -> list[dict[str, Any]]:
    return [o for o in rendered[request.param] if o["kind"] == "NetworkPolicy"]


def test_default_deny_covers_every_pod_in_both_directions(policies) -> None:
    deny = [p for p in policies if p["metadata"]["name"] == "default-deny"]
    assert len(deny) == 1
    assert deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("flow", FLOWS, ids=lambda flow: flow.id)
def test_each_flow_of_the_table(policies, flow: Flow) -> None:
    """The same table tests/kubernetes/test_network_policies_live.py connects for real."""
    verdict = allowed(policies, flow.source, flow.destination, flow.port, flow.protocol)
    assert verdict == flow.allowed, flow.id


@pytest.mark.parametrize("overlay", SPARK_OVERLAYS)
@pytest.mark.parametrize("flow", SPARK_FLOWS, ids=lambda flow: flow.id)
def test_each_spark_flow_of_the_table(rendered, overlay: str, flow: Flow) -> None:
    """Overlays with the spark-tick-features component; the live test connects these too."""
    policies = [o for o in rendered[overlay] if o["kind"] == "NetworkPolicy"]
    verdict = allowed(policies, flow.source, flow.destination, flow.port, flow.protocol)
    assert verdict == flow.allowed, flow.id


def test_only_the_cluster_overlay_lets_mlflow_reach_its_database(rendered) -> None:
    by_overlay = {o: [p for p in rendered[o] if p["kind"] == "NetworkPolicy"] for o in OVERLAYS}
    assert allowed(by_overlay["cluster"], ours(MLFLOW), OUTSIDE, 5432)
    assert not allowed(by_overlay["kind"], ours(MLFLOW), OUTSIDE, 5432)
