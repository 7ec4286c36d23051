"""Offline Kubernetes checks for rendered manifests and pods (needs the `k8s` extra).

- `validate_manifest(obj)`: schema errors of one object against the Kubernetes JSON schemas bundled
  with `kubernetes-validate` (strict: unknown fields are errors, so typos do not pass silently).
- `restricted_violations(pod_spec)`: what keeps a pod spec from the *restricted* Pod Security
  Standard (https://kubernetes.io/docs/concepts/security/pod-security-standards/), as the
  admission controller would enforce it in a namespace labelled `enforce=restricted`.
- `pod_spec_of(obj)`: the pod spec inside a Pod, a workload template or a CronJob, else None.

Every function returns plain data (lists of messages), so a test can assert `== []` and print them.
"""

from collections.abc import Iterator
from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import VersionNotSupportedError

DEFAULT_K8S_VERSION = "1.33"

# Baseline: capabilities a container may add; restricted narrows it to NET_BIND_SERVICE.
RESTRICTED_ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
ALLOWED_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
)


def describe(obj: dict[str, Any]) -> str:
    """`Kind/namespace/name` for messages."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')}/{where}{meta.get('name', '?')}"


def validate_manifest(obj: dict[str, Any], k8s_version: str = DEFAULT_K8S_VERSION) -> list[str]:
    """Schema errors of `obj` for Kubernetes `k8s_version` (empty when valid).

    Kinds without a bundled schema (custom resources) are reported as an error too: a caller that
    expects CRDs filters them out explicitly instead of having them pass unchecked.
    """
    if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
        return ["not a Kubernetes object: apiVersion and kind are required"]
    try:
        kubernetes_validate.validate(obj, k8s_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path) or "(root)"
        return [f"{describe(obj)}: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{describe(obj)}: {error.message}"]
    except VersionNotSupportedError:
        return [f"kubernetes-validate has no schemas for Kubernetes {k8s_version}"]
    return []


def pod_spec_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec an object runs (Pod, workload template, CronJob job template), else None."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in WORKLOAD_KINDS:
        return (spec.get("template") or {}).get("spec")
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    return None


def _containers(pod_spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in CONTAINER_LISTS:
        for container in pod_spec.get(field) or []:
            yield f"{field[:-1]} {container.get('name', '?')!r}", container


def _host_and_privilege_violations(pod_spec: dict[str, Any]) -> list[str]:
    found = [
        f"spec.{field} is true" for field in ("hostNetwork", "hostPID", "hostIPC") if pod_spec.get(field)
    ]
    pod_sc = pod_spec.get("securityContext") or {}
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("spec.securityContext.windowsOptions.hostProcess is true")
    for label, container in _containers(pod_spec):
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            found.append(f"{label}: privileged is true")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"{label}: windowsOptions.hostProcess is true")
        if sc.get("procMount") not in (None, "Default"):
            found.append(f"{label}: procMount is {sc['procMount']!r}, must be Default")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{label}: hostPort {port['hostPort']} is set")
    return found


def _volume_violations(pod_spec: dict[str, Any]) -> list[str]:
    found = []
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        for kind in sorted(kinds - RESTRICTED_VOLUME_TYPES):
            found.append(f"volume {volume.get('name', '?')!r}: type {kind} is not allowed")
    return found


def _sysctl_violations(pod_spec: dict[str, Any]) -> list[str]:
    sysctls = (pod_spec.get("securityContext") or {}).get("sysctls") or []
    return [
        f"sysctl {s.get('name')!r} is not a safe sysctl" for s in sysctls if s.get("name") not in SAFE_SYSCTLS
    ]


def _selinux_apparmor_violations(pod_spec: dict[str, Any]) -> list[str]:
    found = []
    scopes = [("spec.securityContext", pod_spec.get("securityContext") or {})]
    scopes += [(label, c.get("securityContext") or {}) for label, c in _containers(pod_spec)]
    for label, sc in scopes:
        selinux = sc.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
            found.append(f"{label}: seLinuxOptions.type {selinux['type']!r} is not allowed")
        found += [
            f"{label}: seLinuxOptions.{key} must not be set" for key in ("user", "role") if selinux.get(key)
        ]
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor is not None and apparmor not in ALLOWED_APPARMOR_TYPES:
            found.append(f"{label}: appArmorProfile.type {apparmor!r} is not allowed")
    return found


def _restricted_container_violations(pod_spec: dict[str, Any]) -> list[str]:
    pod_sc = pod_spec.get("securityContext") or {}
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    found = []
    if pod_sc.get("runAsNonRoot") is False:
        found.append("spec.securityContext.runAsNonRoot is false")
    if pod_sc.get("runAsUser") == 0:
        found.append("spec.securityContext.runAsUser is 0")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP_TYPES:
        found.append(f"spec.securityContext.seccompProfile.type is {pod_seccomp!r}")
    for label, container in _containers(pod_spec):
        sc = container.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{label}: allowPrivilegeEscalation must be false")
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            found.append(f"{label}: runAsNonRoot must be true (in the container or the pod securityContext)")
        if sc.get("runAsUser") == 0:
            found.append(f"{label}: runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in ALLOWED_SECCOMP_TYPES:
            found.append(f"{label}: seccompProfile.type is {seccomp!r}")
        elif seccomp is None and pod_seccomp is None:
            found.append(
                f"{label}: seccompProfile.type must be RuntimeDefault or Localhost (container or pod)"
            )
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{label}: capabilities.drop must include ALL")
        added = set(capabilities.get("add") or []) - RESTRICTED_ADDABLE_CAPABILITIES
        if added:
            found.append(f"{label}: capabilities.add {sorted(added)} (only NET_BIND_SERVICE is allowed)")
    return found


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    """Everything in `pod_spec` (a Pod's `spec`, camelCase) that the restricted standard forbids.

    Covers the baseline controls (host namespaces, privileged, hostPath, hostPort, /proc mount,
    SELinux, AppArmor, sysctls) and the restricted ones (volume types, privilege escalation,
    non-root, seccomp, capabilities) for containers, initContainers and ephemeralContainers.
    """
    return (
        _host_and_privilege_violations(pod_spec)
        + _volume_violations(pod_spec)
        + _sysctl_violations(pod_spec)
        + _selinux_apparmor_violations(pod_spec)
        + _restricted_container_violations(pod_spec)
    )
