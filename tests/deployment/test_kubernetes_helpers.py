"""mlops_core.testing.kubernetes: the schema and Pod Security checks catch what they claim to."""

import copy
from typing import Any

import pytest

from mlops_core.testing.kubernetes import pod_spec_of, restricted_violations, validate_manifest

COMPLIANT: dict[str, Any] = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [
        {
            "name": "app",
            "image": "mlops/serving:abc",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
    "volumes": [
        {"name": "tmp", "emptyDir": {}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
    ],
}


def pod(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "mlops"}, "spec": spec}


def test_compliant_pod_is_valid_and_restricted() -> None:
    assert validate_manifest(pod(COMPLIANT)) == []
    assert restricted_violations(COMPLIANT) == []


def mutated(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(COMPLIANT)
    *parents, leaf = path.split(".")
    node: Any = spec
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[leaf] = value
    return spec


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("hostNetwork", True, "hostNetwork"),
        ("hostPID", True, "hostPID"),
        ("containers.0.securityContext.privileged", True, "privileged"),
        ("containers.0.securityContext.allowPrivilegeEscalation", True, "allowPrivilegeEscalation"),
        ("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}, "drop must include ALL"),
        ("containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}, "SYS_ADMIN"),
        ("containers.0.securityContext.runAsUser", 0, "runAsUser is 0"),
        ("containers.0.securityContext.runAsNonRoot", False, "runAsNonRoot"),
        ("securityContext.runAsNonRoot", None, "runAsNonRoot must be true"),
        ("securityContext.seccompProfile", {"type": "Unconfined"}, "Unconfined"),
        ("securityContext.seccompProfile", None, "seccompProfile.type must be"),
        ("containers.0.securityContext.procMount", "Unmasked", "procMount"),
        ("containers.0.ports", [{"containerPort": 80, "hostPort": 80}], "hostPort"),
        ("volumes", [{"name": "h", "hostPath": {"path": "/"}}], "hostPath"),
        ("volumes", [{"name": "n", "nfs": {"server": "x", "path": "/"}}], "nfs"),
        ("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}], "kernel.msgmax"),
        ("securityContext.seLinuxOptions", {"type": "spc_t"}, "spc_t"),
        ("containers.0.securityContext.appArmorProfile", {"type": "Unconfined"}, "appArmorProfile"),
    ],
)
def test_each_restricted_control_is_enforced(path: str, value: Any, expected: str) -> None:
    violations = restricted_violations(mutated(path, value))
    assert any(expected in v for v in violations), violations


def test_init_and_ephemeral_containers_are_checked_too() -> None:
    spec = copy.deepcopy(COMPLIANT)
    spec["initContainers"] = [{"name": "init", "image": "busybox"}]
    violations = restricted_violations(spec)
    assert violations and all("initContainer 'init'" in v for v in violations)


def test_container_level_settings_can_replace_pod_level_ones() -> None:
    spec = copy.deepcopy(COMPLIANT)
    spec["securityContext"] = {}
    spec["containers"][0]["securityContext"].update(runAsNonRoot=True, seccompProfile={"type": "Localhost"})
    assert restricted_violations(spec) == []


def test_schema_errors_name_the_object_and_the_field() -> None:
    bad = pod(mutated("containers.0.imagePullPolicy", 3))
    errors = validate_manifest(bad)
    assert len(errors) == 1 and errors[0].startswith("Pod/mlops/p: spec.containers.0.imagePullPolicy")
    typo = pod(mutated("containers.0.resource", {}))
    assert "resource" in validate_manifest(typo)[0]  # strict: unknown fields are errors


def test_unknown_kinds_and_versions_are_reported_not_passed() -> None:
    custom = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "Couldn't find schema" in validate_manifest(custom)[0]
    assert "no schemas" in validate_manifest(pod(COMPLIANT), "1.99")[0]
    assert validate_manifest({"kind": "Pod"}) != []


def test_pod_spec_of_finds_templates() -> None:
    template = {"template": {"spec": COMPLIANT}}
    assert pod_spec_of({"kind": "Deployment", "spec": template}) is COMPLIANT
    assert pod_spec_of({"kind": "CronJob", "spec": {"jobTemplate": {"spec": template}}}) is COMPLIANT
    assert pod_spec_of(pod(COMPLIANT)) is COMPLIANT
    assert pod_spec_of({"kind": "Service", "spec": {}}) is None
