"""NetworkPolicies enforced on the live cluster (kube-router, make cluster-up): every flow of the table
in tests/network_flows.py (the Spark flows too: overlay local includes that component), which the
static evaluator in tests/deployment also checks, as a real connection between real pods.

Each endpoint of the table is a probe pod with the endpoint's labels, listening on the ports the
table sends to it; the probes never become Ready, so no Service ever routes to them. "Outside the
cluster" is a network namespace this test creates on the host (addresses of a documentation range,
198.51.100.0/30): nothing leaves the machine. Traffic that the host itself sends is always allowed
(kubelet probes), so no flow starts on the host. An allowed flow must connect; a denied one must
not (kube-router rejects it, or it times out), although the destination listens on that port.
"""

import contextlib
import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes.conftest import CLUSTER_DIR, NAMESPACE
from tests.network_flows import (
    CLIENT_NAMESPACE,
    CNN_WORKLOAD,
    EXTERNAL,
    FLOWS,
    KUBE_DNS,
    OTHER,
    SERVING,
    SPARK_FLOWS,
    WORKLOAD,
    Endpoint,
    Flow,
    label_text,
    ours,
)

TEST_LABEL = {"mlops.io/test": "network-policies"}
HOST_VETH, OUTSIDE_VETH = "mlops-np-host", "mlops-np-out"
HOST_ADDRESS, OUTSIDE_ADDRESS = "198.51.100.1", "198.51.100.2"
POD_CIDR = "10.244.0.0/16"
CONNECT_TIMEOUT_S = 3.0
LIVE_FLOWS = FLOWS + SPARK_FLOWS  # overlay local includes the Spark component

# Listens on the TCP ports given as arguments, accepts and closes; idles when given none.
LISTENER = """
import socket, sys, threading, time
def serve(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(64)
    while True:
        server.accept()[0].close()
for port in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(port),), daemon=True).start()
while True:
    time.sleep(3600)
"""
# Tries each [host, port, protocol] of argv[1] (JSON) and prints one outcome each: connected,
# refused, timeout or error. UDP sends a DNS query (A kubernetes.default.svc.cluster.local).
CHECK = """
import json, socket, struct, sys
timeout = float(sys.argv[2])
query = struct.pack(">HHHHHH", 0x4D4C, 0x0100, 1, 0, 0, 0) + b"".join(
    bytes([len(part)]) + part.encode() for part in "kubernetes.default.svc.cluster.local".split(".")
) + b"\\x00" + struct.pack(">HH", 1, 1)
outcomes = []
for host, port, protocol in json.loads(sys.argv[1]):
    try:
        if protocol == "UDP":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.settimeout(timeout)
                udp.sendto(query, (host, port))
                udp.recvfrom(4096)
        else:
            socket.create_connection((host, port), timeout=timeout).close()
        outcomes.append("connected")
    except socket.timeout:
        outcomes.append("timeout")
    except ConnectionRefusedError:
        outcomes.append("refused")
    except OSError as error:
        outcomes.append(f"error: {error}")
print(json.dumps(outcomes))
"""


@dataclass(frozen=True)
class Probe:
    """A probe pod for one endpoint of the table: where it runs and what it listens on."""

    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: tuple[int, ...]

    @property
    def name(self) -> str:
        text = label_text(dict(self.labels))
        slug = re.sub(r"[^a-z0-9]+", "-", text.lower())[:48].strip("-")
        return f"np-{slug}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"

    @property
    def on_gpu_pool(self) -> bool:
        return dict(self.labels) == CNN_WORKLOAD


def key(endpoint: Endpoint) -> tuple[str, tuple[tuple[str, str], ...]]:
    namespace, labels = endpoint
    return namespace, tuple(sorted(labels.items()))


def probes_for(flows: list[Flow]) -> dict[tuple, Probe]:
    """One probe per endpoint of the cluster; the real cluster DNS stands for KUBE_DNS."""
    ports: dict[tuple, set[int]] = {}
    for flow in flows:
        for endpoint in (flow.source, flow.destination):
            if endpoint[0] != EXTERNAL and endpoint != KUBE_DNS:
                ports.setdefault(key(endpoint), set())
        if flow.destination[0] != EXTERNAL and flow.destination != KUBE_DNS:
            ports[key(flow.destination)].add(flow.port)
    return {k: Probe(k[0], k[1], tuple(sorted(p))) for k, p in ports.items()}


def kubectl(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(CLUSTER_DIR / "admin.kubeconfig"), *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"kubectl {' '.join(args[:4])}: {done.stderr[-2000:]}"
    return done.stdout


def probe_pod(probe: Probe, image: str) -> client.V1Pod:
    """Restricted Pod Security; never Ready (its readiness probe targets a closed port)."""
    gpu = probe.on_gpu_pool
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=probe.name, labels={**dict(probe.labels), **TEST_LABEL}),
        spec=client.V1PodSpec(
            restart_policy="Never",
            automount_service_account_token=False,
            termination_grace_period_seconds=0,
            node_selector={"mlops.io/node-pool": "gpu" if gpu else "cpu"},
            tolerations=[client.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True,
                run_as_user=10001,
                run_as_group=10001,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
                # Ports below 1024 (DNS, HTTPS, SSH) without a capability: a namespaced, safe sysctl.
                sysctls=[client.V1Sysctl(name="net.ipv4.ip_unprivileged_port_start", value="0")],
            ),
            containers=[
                client.V1Container(
                    name="probe",
                    image=image,
                    image_pull_policy="Never",
                    command=["python3", "-c", LISTENER, *map(str, probe.ports)],
                    readiness_probe=client.V1Probe(
                        tcp_socket=client.V1TCPSocketAction(port=1), period_seconds=300
                    ),
                    resources=client.V1ResourceRequirements(
                        requests={"cpu": "10m", "memory": "32Mi"}, limits={"memory": "128Mi"}
                    ),
                    security_context=client.V1SecurityContext(
                        allow_privilege_escalation=False,
                        read_only_root_filesystem=True,
                        capabilities=client.V1Capabilities(drop=["ALL"]),
                    ),
                )
            ],
        ),
    )


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def outside_namespace(ports: list[int]) -> Iterator[list[str]]:
    """A network namespace behind a veth pair on the host: 'outside the cluster', on this machine,
    listening on `ports`; yields the command prefix that runs a command inside it. It reaches pod
    addresses through the host, as a client of a routed pod network would. The namespace lives as
    long as its listener process: a named one (`ip netns add`) would turn /run/netns into a mount
    point, under the container runtime's existing pod namespaces, which it then cannot remove."""
    forward_rule = ["FORWARD", "-s", f"{OUTSIDE_ADDRESS}/32", "-d", POD_CIDR, "-j", "ACCEPT"]
    subprocess.run(["ip", "link", "delete", HOST_VETH], capture_output=True)  # an interrupted run's
    subprocess.run(["iptables", "-D", *forward_rule], capture_output=True)
    listener = subprocess.Popen(
        ["unshare", "--net", "--", sys.executable, "-c", LISTENER, *map(str, ports)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    inside = ["nsenter", f"--net=/proc/{listener.pid}/ns/net", "--"]
    try:
        run("ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", OUTSIDE_VETH)
        run("ip", "link", "set", OUTSIDE_VETH, "netns", str(listener.pid))
        run("ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", HOST_VETH)
        run("ip", "link", "set", HOST_VETH, "up")
        run(*inside, "ip", "addr", "add", f"{OUTSIDE_ADDRESS}/30", "dev", OUTSIDE_VETH)
        run(*inside, "ip", "link", "set", OUTSIDE_VETH, "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "route", "add", POD_CIDR, "via", HOST_ADDRESS)
        # Appended: the host's FORWARD policy may be DROP (a Docker engine sets it), and kube-router's
        # chain comes first, so NetworkPolicies still decide.
        run("iptables", "-A", *forward_rule)
        assert listening(inside, OUTSIDE_ADDRESS, ports), "the outside namespace's listener did not start"
        yield inside
    finally:
        listener.kill()  # its network namespace, and with it the veth pair, go with it
        listener.wait()
        subprocess.run(["ip", "link", "delete", HOST_VETH], capture_output=True)
        subprocess.run(["iptables", "-D", *forward_rule], capture_output=True)


@dataclass
class Setup:
    probes: dict[tuple, Probe]
    addresses: dict[tuple, str]
    outside: list[str]  # command prefix: run inside the outside namespace


@pytest.fixture(scope="module")
def setup(admin_api, require_e2e) -> Iterator[Setup]:
    """A probe pod per endpoint of the table, and the outside namespace, for the module's tests."""
    core = client.CoreV1Api(admin_api)
    policies = client.NetworkingV1Api(admin_api).list_namespaced_network_policy(NAMESPACE).items
    require_e2e([p for p in policies if p.metadata.name == "default-deny"], "no NetworkPolicies in mlops")
    deployments = (
        client.AppsV1Api(admin_api)
        .list_namespaced_deployment(NAMESPACE, field_selector="metadata.name=serving")
        .items
    )
    (serving,) = require_e2e(deployments, "no serving Deployment")
    image = serving.spec.template.spec.containers[0].image
    cnn_image = image.replace("/serving:", "/training-cnn:")  # the image the gpu node holds
    probes = probes_for(LIVE_FLOWS)
    created: list[Probe] = []
    client_namespace(core)
    try:
        for probe in probes.values():
            with contextlib.suppress(ApiException):
                core.delete_namespaced_pod(probe.name, probe.namespace, grace_period_seconds=0)
        for probe in probes.values():
            wait_gone(core, probe)
            core.create_namespaced_pod(
                probe.namespace, probe_pod(probe, cnn_image if probe.on_gpu_pool else image)
            )
            created.append(probe)
        addresses = {k: running_address(core, probe) for k, probe in probes.items()}
        wait_enforced([probe for probe in probes.values() if probe.namespace == NAMESPACE])
        outside_ports = sorted({f.port for f in LIVE_FLOWS if f.destination[0] == EXTERNAL})
        with outside_namespace(outside_ports) as outside:
            yield Setup(probes, addresses, outside)
    finally:
        for probe in created:
            with contextlib.suppress(ApiException):
                core.delete_namespaced_pod(probe.name, probe.namespace, grace_period_seconds=0)
        with contextlib.suppress(ApiException):
            core.delete_namespace(CLIENT_NAMESPACE)


@pytest.fixture(scope="module")
def outcomes(setup: Setup) -> dict[str, str]:
    """Every flow of the table tried once, from its source: flow id -> connected|refused|timeout|error."""
    return try_flows(LIVE_FLOWS, setup)


def client_namespace(core: client.CoreV1Api, timeout: float = 120) -> None:
    """The other namespace of the table, created for the test (after an earlier run's is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        found = core.list_namespace(field_selector=f"metadata.name={CLIENT_NAMESPACE}").items
        if found and found[0].status.phase == "Active":
            return
        if not found:
            meta = client.V1ObjectMeta(name=CLIENT_NAMESPACE, labels=TEST_LABEL)
            core.create_namespace(client.V1Namespace(metadata=meta))
            continue
        assert time.monotonic() < deadline, f"namespace {CLIENT_NAMESPACE} still terminating"
        time.sleep(1)


def wait_gone(core: client.CoreV1Api, probe: Probe, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while core.list_namespaced_pod(probe.namespace, field_selector=f"metadata.name={probe.name}").items:
        assert time.monotonic() < deadline, f"old probe {probe.name} still there"
        time.sleep(0.5)


def running_address(core: client.CoreV1Api, probe: Probe, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(probe.name, probe.namespace)
        if pod.status.phase == "Running" and pod.status.pod_ip:
            return pod.status.pod_ip
        assert pod.status.phase in {"Pending", "Running"}, f"probe {probe.name}: {pod.status.phase}"
        time.sleep(0.5)
    raise AssertionError(f"probe {probe.name} not running within {timeout:.0f}s")


def wait_enforced(probes: list[Probe], timeout: float = 90) -> None:
    """Until kube-router's rules name every probe: a pod's rules exist only after a full sync that
    saw its address, and that sync also rebuilt the address sets of every policy."""
    deadline = time.monotonic() + timeout
    while True:
        rules = subprocess.run(
            ["iptables-save", "-t", "filter"], capture_output=True, text=True, check=True
        ).stdout
        missing = [p.name for p in probes if f"POD name:{p.name} namespace: {p.namespace}" not in rules]
        if not missing:
            return
        assert time.monotonic() < deadline, f"no kube-router rules for {missing} within {timeout:.0f}s"
        time.sleep(1)


def listening(inside: list[str], address: str, ports: list[int]) -> bool:
    """Whether the outside namespace's listener answers on every port (within 5 s)."""
    for _ in range(50):
        check = subprocess.run(
            [*inside, sys.executable, "-c", CHECK,
             json.dumps([[address, p, "TCP"] for p in ports]), "1"],
            capture_output=True, text=True,
        )  # fmt: skip
        if check.returncode == 0 and set(json.loads(check.stdout)) == {"connected"}:
            return True
        time.sleep(0.1)
    return False


def try_flows(flows: list[Flow], setup: Setup) -> dict[str, str]:
    """All flows of one source in one exec (from its probe pod, or inside the outside namespace)."""
    by_source: dict[tuple, list[Flow]] = {}
    for flow in flows:
        by_source.setdefault(key(flow.source), []).append(flow)
    outcomes: dict[str, str] = {}
    for source, own in by_source.items():
        targets = [
            [target_address(flow.destination, setup.addresses), flow.port, flow.protocol] for flow in own
        ]
        arguments = ["-c", CHECK, json.dumps(targets), str(CONNECT_TIMEOUT_S)]
        if source[0] == EXTERNAL:
            done = subprocess.run(
                [*setup.outside, sys.executable, *arguments],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-2000:]
            printed = done.stdout
        else:
            probe = setup.probes[source]
            printed = kubectl(
                "-n", probe.namespace, "exec", probe.name, "--", "python3", *arguments, timeout=300
            )
        outcomes.update(zip([flow.id for flow in own], json.loads(printed), strict=True))
    return outcomes


def target_address(destination: Endpoint, addresses: dict[tuple, str]) -> str:
    if destination[0] == EXTERNAL:
        return OUTSIDE_ADDRESS
    if destination == KUBE_DNS:
        return "10.96.0.10"  # the Service kube-system/kube-dns (the kubelets' clusterDNS)
    return addresses[key(destination)]


@pytest.mark.parametrize("flow", LIVE_FLOWS, ids=lambda flow: flow.id)
def test_flow_is_enforced_as_the_table_says(outcomes: dict[str, str], flow: Flow) -> None:
    outcome = outcomes[flow.id]
    if flow.allowed:
        assert outcome == "connected", f"{flow.id}: {outcome}"
    else:
        assert outcome in {"refused", "timeout"}, f"{flow.id}: {outcome}, though nothing may pass"


SERVICE_FLOWS = [  # through the real Services by name: cluster DNS, kube-proxy, then the policies
    (ours(WORKLOAD), "mlflow", 5000, True),
    (ours(SERVING), "mlflow", 5000, True),
    (ours(WORKLOAD), "serving", 8080, False),
    ((CLIENT_NAMESPACE, OTHER), "serving", 8080, True),
    ((CLIENT_NAMESPACE, OTHER), "mlflow", 5000, False),
    (ours(OTHER), "mlflow", 5000, False),
]


@pytest.mark.parametrize(
    ("source", "service", "port", "allowed"),
    SERVICE_FLOWS,
    ids=[f"{label_text(s[1])}@{s[0]} -> {svc}:{port}" for s, svc, port, _ in SERVICE_FLOWS],
)
def test_real_services_by_name(
    setup: Setup, source: Endpoint, service: str, port: int, allowed: bool
) -> None:
    probe = setup.probes[key(source)]
    target = [[f"{service}.{NAMESPACE}.svc.cluster.local", port, "TCP"]]
    printed = kubectl(
        "-n", probe.namespace, "exec", probe.name, "--",
        "python3", "-c", CHECK, json.dumps(target), str(CONNECT_TIMEOUT_S),
    )  # fmt: skip
    (outcome,) = json.loads(printed)
    assert (outcome == "connected") == allowed, f"{probe.name} -> {service}:{port}: {outcome}"


def test_the_real_serving_pods_reach_mlflow(setup: Setup) -> None:
    target = [[f"mlflow.{NAMESPACE}.svc.cluster.local", 5000, "TCP"]]
    printed = kubectl(
        "-n", NAMESPACE, "exec", "deploy/serving", "--",
        "python3", "-c", CHECK, json.dumps(target), str(CONNECT_TIMEOUT_S),
    )  # fmt: skip
    assert json.loads(printed) == ["connected"]
