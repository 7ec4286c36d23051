"""The rendered overlays: schema-valid, restricted Pod Security, least-privilege RBAC, the contract
with orchestration (names, secrets, volumes) and the serving/MLflow runtime settings."""

import re
import tomllib
from typing import Any

import pytest
import yaml

from mlops_core.testing.kubernetes import describe, pod_spec_of, restricted_violations, validate_manifest

from .helpers import OVERLAYS, REPO, find, is_custom_resource

# Overlays with k8s/components/spark-tick-features (Spark executors as pods).
SPARK_OVERLAYS = ("local", "cluster")
K8S_VERSIONS = ("1.33", "1.37")  # a current minimum and the newest schemas bundled
ALL = (*OVERLAYS, "base")


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)  # the base's objects are in both
def test_every_object_validates_against_the_kubernetes_schema(rendered, overlay: str, version: str) -> None:
    errors = [
        e for obj in rendered[overlay] if not is_custom_resource(obj) for e in validate_manifest(obj, version)
    ]
    assert errors == []


@pytest.mark.parametrize("overlay", ALL)
def test_every_pod_template_satisfies_restricted_pod_security(rendered, overlay: str) -> None:
    specs = [(describe(o), pod_spec_of(o)) for o in rendered[overlay] if pod_spec_of(o) is not None]
    assert {name for name, _ in specs} >= {"Deployment/mlops/mlflow", "Deployment/mlops/serving"}
    violations = [f"{name}: {v}" for name, spec in specs for v in restricted_violations(spec)]
    assert violations == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_namespaced_lives_in_mlops(rendered, overlay: str) -> None:
    cluster_scoped = {"Namespace", "PriorityClass", "PersistentVolume"}
    stray = [describe(o) for o in rendered[overlay] if o["kind"] not in cluster_scoped and
             o["metadata"].get("namespace") != "mlops"]  # fmt: skip
    assert stray == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_namespace_enforces_restricted_pod_security(rendered, overlay: str) -> None:
    labels = find(rendered[overlay], "Namespace", "mlops")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_launcher_role_grants_exactly_what_kubernetes_pod_operator_needs(rendered, overlay: str) -> None:
    objects = rendered[overlay]
    role = find(objects, "Role", "pod-launcher")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    expected = {("", "pods", v) for v in ("create", "get", "list", "watch", "delete", "patch")}
    expected |= {("", "pods/log", "get"), ("", "events", "list")}
    assert granted == expected
    assert not any("resourceNames" in rule or "nonResourceURLs" in rule for rule in role["rules"])
    binding = find(objects, "RoleBinding", "airflow-worker-pod-launcher")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "pod-launcher",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "mlops"}]
    # Nothing cluster-wide, and nobody else is bound to anything (but the Spark driver where its
    # component is in the overlay).
    assert [o for o in objects if o["kind"] in {"ClusterRole", "ClusterRoleBinding"}] == []
    bindings = {describe(o) for o in objects if o["kind"] == "RoleBinding"}
    expected_bindings = {describe(binding)}
    if overlay in SPARK_OVERLAYS:
        expected_bindings.add("RoleBinding/mlops/spark-tick-features-driver")
    assert bindings == expected_bindings


@pytest.mark.parametrize("overlay", SPARK_OVERLAYS)
def test_spark_driver_is_bound_only_to_its_namespace_role(rendered, overlay: str) -> None:
    objects = rendered[overlay]
    binding = find(objects, "RoleBinding", "spark-tick-features-driver")
    assert binding["roleRef"]["kind"] == "Role" and binding["roleRef"]["name"] == "spark-driver"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "spark-tick-features", "namespace": "mlops"}
    ]
    role = find(objects, "Role", "spark-driver")
    resources = {resource for rule in role["rules"] for resource in rule["resources"]}
    assert resources == {"pods", "services", "configmaps", "persistentvolumeclaims"}  # no secrets, no exec


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_accounts_and_api_tokens(rendered, overlay: str) -> None:
    objects = rendered[overlay]
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    spark = {"spark-tick-features"} if overlay in SPARK_OVERLAYS else set()
    assert set(accounts) == {"airflow-worker", "mlops-workload", "mlflow", "serving", *spark}
    for name in ("mlops-workload", "mlflow", "serving"):
        assert accounts[name].get("automountServiceAccountToken") is False, name
    for name in ("mlflow", "serving"):
        spec = pod_spec_of(find(objects, "Deployment", name))
        assert spec["serviceAccountName"] == name
        assert spec["automountServiceAccountToken"] is False


def test_priority_classes_order_serving_above_training_above_batch(rendered) -> None:
    classes = {o["metadata"]["name"]: o for o in rendered["kind"] if o["kind"] == "PriorityClass"}
    assert set(classes) == {"mlops-serving", "mlops-training-high", "mlops-training", "mlops-batch"}
    values = [
        classes[n]["value"] for n in ("mlops-serving", "mlops-training-high", "mlops-training", "mlops-batch")
    ]
    assert values == sorted(values, reverse=True) and len(set(values)) == 4
    assert not any(c.get("globalDefault") for c in classes.values())
    assert classes["mlops-batch"]["preemptionPolicy"] == "Never"


def _container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return pod_spec_of(find(objects, "Deployment", name))["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mlflow_restricts_hosts_and_model_sources(rendered, overlay: str) -> None:
    container = _container(rendered[overlay], "mlflow")
    allowed = (
        next(a for a in container["args"] if a.startswith("--allowed-hosts=")).split("=", 1)[1].split(",")
    )
    assert {"mlflow.mlops.svc:5000", "mlflow.mlops.svc", "mlflow:5000"} <= set(allowed)
    assert "*" not in allowed
    regex = _env(container)["MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX"]
    assert re.compile(regex)
    assert {"containerPort": 5000, "name": "http"} in container["ports"]
    service = find(rendered[overlay], "Service", "mlflow")
    assert service["spec"]["ports"][0]["port"] == 5000


def test_mlflow_store_is_sqlite_on_kind_and_postgres_secret_on_cluster(rendered) -> None:
    assert _env(_container(rendered["kind"], "mlflow"))["MLFLOW_BACKEND_STORE_URI"].startswith(
        "sqlite:////mlflow/"
    )
    store = _env(_container(rendered["cluster"], "mlflow"))["MLFLOW_BACKEND_STORE_URI"]
    assert store == {"secretKeyRef": {"name": "mlflow-backend", "key": "MLFLOW_BACKEND_STORE_URI"}}


def test_mlflow_credentials_secret_kind_generates_a_dev_one_cluster_expects_an_external_one(rendered) -> None:
    secret = find(rendered["kind"], "Secret", "mlflow-credentials")  # exact name: pods refer to it
    assert set(secret["data"]) == {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    }
    assert [o for o in rendered["cluster"] if o["kind"] == "Secret"] == []
    flask_key = _env(_container(rendered["kind"], "mlflow"))["MLFLOW_FLASK_SERVER_SECRET_KEY"]["secretKeyRef"]
    assert find(rendered["kind"], "Secret", flask_key["name"])["data"][flask_key["key"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serving_probes_drain_resources_and_disruption_budget(rendered, overlay: str) -> None:
    objects = rendered[overlay]
    deployment = find(objects, "Deployment", "serving")
    spec = pod_spec_of(deployment)
    container = spec["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    env = {item["name"]: item.get("value") for item in container["env"]}
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain, graceful = float(env["SERVING_DRAIN_S"]), float(env["SERVING_GRACEFUL_SHUTDOWN_S"])
    assert pre_stop > 0 and drain > 0
    assert pre_stop + drain + graceful < spec["terminationGracePeriodSeconds"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert spec["priorityClassName"] == "mlops-serving"
    assert {"secretRef": {"name": "mlflow-credentials"}} in container["envFrom"]
    service = find(objects, "Service", "serving")
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    pdb = find(objects, "PodDisruptionBudget", "serving")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["minAvailable"] == 1


def test_cluster_serving_survives_a_drain_and_kind_fits_a_laptop(rendered) -> None:
    assert find(rendered["cluster"], "Deployment", "serving")["spec"]["replicas"] >= 2
    assert find(rendered["kind"], "Deployment", "serving")["spec"]["replicas"] == 1


def test_data_volume_is_shared_by_cpu_and_gpu_nodes(rendered) -> None:
    for overlay in OVERLAYS:
        pvc = find(rendered[overlay], "PersistentVolumeClaim", "mlops-data")
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], overlay
    pv = find(rendered["kind"], "PersistentVolume", "mlops-data-kind")
    assert pv["spec"]["hostPath"]["path"] == "/var/local/mlops-data"  # the kind extraMount
    assert pv["spec"]["claimRef"] == {"namespace": "mlops", "name": "mlops-data"}
    assert (
        find(rendered["kind"], "PersistentVolumeClaim", "mlops-data")["spec"]["volumeName"]
        == "mlops-data-kind"
    )


def test_cluster_overlay_runs_the_tick_rollup_under_the_spark_operator(rendered) -> None:
    # kind runs the rollup in a KubernetesPodOperator pod (Spark local mode); clusters may use the operator.
    apps = [o for o in rendered["cluster"] if o["kind"] == "SparkApplication"]
    assert len(apps) == 1
    assert apps[0]["spec"]["arguments"][0] == "rollup"  # the same CLI the tick_features DAG runs
    assert not [o for o in rendered["kind"] if o["kind"] == "SparkApplication"]
    # The local cluster runs the operator, but the overlay applies no rollup of fixed dates:
    # tests/kubernetes/test_spark_operator.py applies the component's application per run.
    assert not [o for o in rendered["local"] if o["kind"] == "SparkApplication"]


# Fields of a SparkApplication's driver/executor that only the operator's mutating webhook applies;
# pod templates carry them instead, so the application runs under an operator without the webhook.
# (The operator turns only volumes named spark-local-dir-* into spark-submit settings.)
WEBHOOK_ONLY = {
    "podSecurityContext", "securityContext", "env", "nodeSelector", "tolerations", "affinity", "volumeMounts",
}  # fmt: skip


@pytest.mark.parametrize("role", ["driver", "executor"])
def test_spark_application_pods_are_restricted_without_the_operators_webhook(rendered, role: str) -> None:
    (app,) = [o for o in rendered["cluster"] if o["kind"] == "SparkApplication"]
    part = app["spec"][role]
    assert not WEBHOOK_ONLY & set(part), f"{role}: {WEBHOOK_ONLY & set(part)} need the webhook"
    assert all(v["name"].startswith("spark-local-dir-") for v in app["spec"].get("volumes", []))
    spec = part["template"]["spec"]
    assert restricted_violations(spec) == []
    (container,) = spec["containers"]
    # The name Spark looks for in the template (the operator passes it as podTemplateContainerName).
    assert container["name"] == {"driver": "spark-kubernetes-driver", "executor": "executor"}[role]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert mounts["/tmp"] == {"name": "tmp", "emptyDir": {}}
    assert mounts["/data"]["persistentVolumeClaim"]["claimName"] == "mlops-data"
    assert spec["securityContext"]["runAsUser"] == 10001
    assert find(rendered["cluster"], "PriorityClass", spec["priorityClassName"])
    assert app["spec"]["nodeSelector"] == {"mlops.io/node-pool": "cpu"}  # spark.kubernetes.node.selector.*
    assert part["labels"]["mlops.io/spark-app"] == "tick-features"  # the Spark NetworkPolicies select it
    if role == "driver":
        assert part["serviceAccount"] == "spark-tick-features"  # its Role creates the executor pods
    else:
        assert spec["automountServiceAccountToken"] is False
        assert find(rendered["cluster"], "ServiceAccount", part["serviceAccount"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_image_is_pinned_to_the_platform_release(rendered, overlay: str) -> None:
    # A node without a registry cannot pull `:latest`; applied by hand, every overlay names a real tag.
    release = tomllib.loads((REPO / "libs" / "mlops-core" / "pyproject.toml").read_text())["project"][
        "version"
    ]
    images = {
        container["image"]
        for o in rendered[overlay]
        for container in ((pod_spec_of(o) or {}).get("containers") or [])
    } | {o["spec"]["image"] for o in rendered[overlay] if o["kind"] == "SparkApplication"}
    assert images, overlay
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name.startswith("mlops/") and tag == release, f"{overlay}: {image}"


def test_local_overlay_has_static_volumes_for_both_claims(rendered) -> None:
    volumes = {o["metadata"]["name"]: o for o in rendered["local"] if o["kind"] == "PersistentVolume"}
    for claim in ("mlops-data", "mlflow-store"):
        pvc = find(rendered["local"], "PersistentVolumeClaim", claim)
        pv = volumes[pvc["spec"]["volumeName"]]
        assert pv["spec"]["claimRef"] == {"namespace": "mlops", "name": claim}
        assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"] == ""
        assert set(pvc["spec"]["accessModes"]) <= set(pv["spec"]["accessModes"])
    assert find(rendered["local"], "Deployment", "serving")["spec"]["replicas"] == 2  # rolling restarts


@pytest.mark.parametrize("overlay", SPARK_OVERLAYS)
def test_spark_executor_pod_template_is_restricted_and_stays_on_the_cpu_pool(rendered, overlay: str) -> None:
    objects = rendered[overlay]
    template = find(objects, "ConfigMap", "spark-tick-features-executor")
    pod = yaml.safe_load(template["data"]["executor-pod.yaml"])
    # Spark fills in the image, command and resources; the rest must pass admission as it is.
    pod["spec"]["containers"][0]["image"] = "mlops/tick-features:0.1.0"
    assert validate_manifest(pod) == []
    spec = pod["spec"]
    assert restricted_violations(spec) == []
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["automountServiceAccountToken"] is False  # executors never call the API
    assert (
        find(objects, "ServiceAccount", spec["serviceAccountName"])["automountServiceAccountToken"] is False
    )
    assert spec["nodeSelector"] == {"mlops.io/node-pool": "cpu"}
    assert find(objects, "PriorityClass", spec["priorityClassName"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert mounts["/data"]["persistentVolumeClaim"]["claimName"] == "mlops-data"  # the driver's data
    assert "emptyDir" in mounts["/tmp"]
    assert pod["metadata"]["labels"]["mlops.io/spark-app"] == "tick-features"
    # Not a workload pod: the base policies' MLflow flow does not apply to executors.
    assert "mlops.io/service" not in pod["metadata"]["labels"]
