"""`kubernetes`: KubernetesPodOperator pods, restricted Pod Security, on the catalog's node pools."""

from typing import Any

from mlops_orchestration.catalog import SparkExecutors
from mlops_orchestration.constants import (
    CONTAINER_DATA_ROOT,
    DATA_PVC,
    ENV_DATA_ROOT,
    GPU_RESOURCE,
    MLFLOW_SECRET,
    WORKLOAD_SERVICE_ACCOUNT,
)
from mlops_orchestration.runtime import WORKLOAD_RUNTIME
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spark_driver import spark_driver_pod
from mlops_orchestration.spec import TaskSpec, operator_overrides


def _capped(value: str, cap: str | None) -> str:
    from kubernetes.utils import parse_quantity

    return cap if cap and parse_quantity(cap) < parse_quantity(value) else value


def pod_settings(spec: TaskSpec, settings: LaunchSettings) -> dict[str, Any]:
    """Everything KubernetesPodOperator needs to build the pod, as plain data plus k8s models."""
    from kubernetes.client import models as k8s

    runtime = WORKLOAD_RUNTIME
    argv = spec.rendered_argv(CONTAINER_DATA_ROOT)
    cpu = _capped(spec.resources.cpu, settings.k8s_max_cpu)
    memory = _capped(spec.resources.memory, settings.k8s_max_memory)
    requests = {"cpu": cpu, "memory": memory}
    limits = {"memory": memory}
    if spec.resources.gpu and settings.k8s_gpu:
        limits[GPU_RESOURCE] = str(spec.resources.gpu)
    env = {
        **spec.env,
        ENV_DATA_ROOT: CONTAINER_DATA_ROOT,
        "MLOPS_IMAGE": settings.image(spec.service),
        **runtime.env,
    }
    pod = {
        "namespace": settings.k8s_namespace,
        "image": settings.image(spec.service),
        "cmds": [argv[0]],
        "arguments": argv[1:],
        "env_vars": env,
        # MLFLOW_TRACKING_URI and credentials come from the Secret, never from the DAG.
        "env_from": [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=MLFLOW_SECRET))],
        "container_resources": k8s.V1ResourceRequirements(requests=requests, limits=limits),
        "node_selector": dict(spec.node_pool.node_selector),
        "tolerations": [
            k8s.V1Toleration(key=t.key, operator=t.operator, value=t.value, effect=t.effect)
            for t in spec.node_pool.tolerations
        ],
        "labels": {"app.kubernetes.io/part-of": "mlops", "mlops.io/service": spec.service},
        "service_account_name": WORKLOAD_SERVICE_ACCOUNT,
        "automount_service_account_token": False,
        "priority_class_name": spec.priority_class,
        "security_context": k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=runtime.uid,
            run_as_group=runtime.gid,
            fs_group=runtime.gid,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        "container_security_context": k8s.V1SecurityContext(
            allow_privilege_escalation=not runtime.no_new_privileges,
            capabilities=k8s.V1Capabilities(drop=list(runtime.dropped_capabilities)),
            run_as_non_root=True,
            read_only_root_filesystem=runtime.read_only_root_filesystem,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        "volumes": [
            k8s.V1Volume(
                name="data",
                persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name=DATA_PVC),
            ),
            k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource()),
        ],
        "volume_mounts": [
            k8s.V1VolumeMount(name="data", mount_path=CONTAINER_DATA_ROOT),
            k8s.V1VolumeMount(name="tmp", mount_path=runtime.tmp_dir),
        ],
        "on_finish_action": settings.k8s_on_finish,
        # The operator's default looks every 5 s whether the pod started; pods start in about 1 s here
        # (image present, no pull), and light steps last seconds: a look a second saves ~3 s a task.
        "startup_check_interval_seconds": 1,
        "get_logs": True,
        "skip_on_exit_code": list(spec.skip_on_exit_codes) or None,
    }
    return _as_spark_driver(pod, spec.spark, spec, settings) if spec.spark else pod


def _as_spark_driver(
    pod: dict[str, Any], executors: SparkExecutors, spec: TaskSpec, settings: LaunchSettings
) -> dict[str, Any]:
    """The task's pod as the Spark driver of executor pods (client mode; see spark_driver)."""
    from kubernetes.client import models as k8s

    driver = spark_driver_pod(
        executors,
        image=settings.image(spec.service),
        namespace=settings.k8s_namespace,
        # The catalog's cores stay the executor's task slots; the request obeys the cluster's cap.
        request_cores=_capped(str(executors.executor_cores), settings.k8s_max_cpu),
    )
    env = {**pod["env_vars"], **driver.env}
    return {
        **pod,
        "env_vars": [*driver.env_first, *(k8s.V1EnvVar(name=k, value=v) for k, v in env.items())],
        "labels": {**pod["labels"], **driver.labels},
        "service_account_name": driver.service_account_name,
        "automount_service_account_token": True,
        "volumes": [*pod["volumes"], driver.volume],
        "volume_mounts": [*pod["volume_mounts"], driver.volume_mount],
    }


def build_kubernetes_task(spec: TaskSpec, settings: LaunchSettings, **operator_kwargs: Any) -> Any:
    from mlops_orchestration.launchers.workload_pod import WorkloadPodOperator

    return WorkloadPodOperator(
        task_id=spec.task_id,
        name=spec.task_id.replace("_", "-"),
        **pod_settings(spec, settings),
        **operator_overrides(spec),
        **operator_kwargs,
    )
