"""Spark executors as pods: what a `kubernetes`-mode task's pod adds to become the Spark driver.

Client mode: the pod runs the usual CLI (`tick-features rollup`) with `--master k8s://...` given through
the environment, and Spark's own Kubernetes scheduler (the pyspark wheel ships it) starts the executor
pods from the same image, shaped by the executor pod template of k8s/components/spark-tick-features.
Settings travel as `SPARK_MASTER` and `SPARK_CONF_<NAME>="key=value"` variables, which the CLI reads
(tick_features.session); `$(POD_IP)` and `$(POD_NAME)` are expanded by the kubelet, so the downward-API
variables come first in the container's env.
"""

from dataclasses import dataclass
from typing import Any

from mlops_orchestration.catalog import SparkExecutors
from mlops_orchestration.constants import (
    SPARK_APP_LABEL,
    SPARK_DRIVER_SERVICE_ACCOUNT,
    SPARK_EXECUTOR_TEMPLATE_CONFIGMAP,
    SPARK_EXECUTOR_TEMPLATE_DIR,
    SPARK_EXECUTOR_TEMPLATE_KEY,
    SPARK_K8S_MASTER,
    SPARK_ROLE_LABEL,
    SPARK_SERVICE,
)

TEMPLATE_VOLUME = "spark-executor-template"


def spark_conf(executors: SparkExecutors, image: str, namespace: str, request_cores: str) -> dict[str, str]:
    """The driver's Spark settings, by environment variable name (`SPARK_CONF_<NAME>`)."""
    settings = {
        "DRIVER_HOST": ("spark.driver.host", "$(POD_IP)"),
        # Executors get the driver pod as their owner: deleting the driver deletes them.
        "DRIVER_POD": ("spark.kubernetes.driver.pod.name", "$(POD_NAME)"),
        "NAMESPACE": ("spark.kubernetes.namespace", namespace),
        "IMAGE": ("spark.kubernetes.container.image", image),
        "EXECUTOR_INSTANCES": ("spark.executor.instances", str(executors.executors)),
        "EXECUTOR_CORES": ("spark.executor.cores", str(executors.executor_cores)),
        "EXECUTOR_REQUEST_CORES": ("spark.kubernetes.executor.request.cores", request_cores),
        "EXECUTOR_MEMORY": ("spark.executor.memory", executors.executor_memory),
        "EXECUTOR_TEMPLATE": (
            "spark.kubernetes.executor.podTemplateFile",
            f"{SPARK_EXECUTOR_TEMPLATE_DIR}/{SPARK_EXECUTOR_TEMPLATE_KEY}",
        ),
        "EXECUTOR_DELETE": ("spark.kubernetes.executor.deleteOnTermination", "true"),
        # Executors mount the existing data claim; Spark creates no claims of its own to list or delete.
        "OWN_PVC": ("spark.kubernetes.driver.ownPersistentVolumeClaim", "false"),
        "REUSE_PVC": ("spark.kubernetes.driver.reusePersistentVolumeClaim", "false"),
    }
    return {f"SPARK_CONF_{name}": f"{key}={value}" for name, (key, value) in settings.items()}


@dataclass(frozen=True)
class SparkDriverPod:
    """The pod settings (KubernetesPodOperator arguments) that turn a task's pod into the driver."""

    env_first: list[Any]  # V1EnvVar: the downward API values the Spark settings refer to
    env: dict[str, str]
    labels: dict[str, str]
    service_account_name: str
    volume: Any  # V1Volume
    volume_mount: Any  # V1VolumeMount


def spark_driver_pod(
    executors: SparkExecutors, image: str, namespace: str, request_cores: str
) -> SparkDriverPod:
    from kubernetes.client import models as k8s

    def field(name: str, path: str) -> Any:
        return k8s.V1EnvVar(
            name=name, value_from=k8s.V1EnvVarSource(field_ref=k8s.V1ObjectFieldSelector(field_path=path))
        )

    return SparkDriverPod(
        env_first=[field("POD_IP", "status.podIP"), field("POD_NAME", "metadata.name")],
        env={"SPARK_MASTER": SPARK_K8S_MASTER, **spark_conf(executors, image, namespace, request_cores)},
        labels={SPARK_APP_LABEL: SPARK_SERVICE, SPARK_ROLE_LABEL: "driver"},
        # The one identity with the Role to create and delete the executor pods; it needs its token.
        service_account_name=SPARK_DRIVER_SERVICE_ACCOUNT,
        volume=k8s.V1Volume(
            name=TEMPLATE_VOLUME,
            config_map=k8s.V1ConfigMapVolumeSource(name=SPARK_EXECUTOR_TEMPLATE_CONFIGMAP),
        ),
        volume_mount=k8s.V1VolumeMount(
            name=TEMPLATE_VOLUME, mount_path=SPARK_EXECUTOR_TEMPLATE_DIR, read_only=True
        ),
    )
