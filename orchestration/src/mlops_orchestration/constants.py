"""Launch modes and the environment variables that configure them."""

from enum import StrEnum


class LaunchMode(StrEnum):
    LOCAL = "local"
    DOCKER = "docker"
    KUBERNETES = "kubernetes"


# Read from the environment so DAG parsing never touches the metadata DB. Airflow's own
# environment-backed variables (AIRFLOW_VAR_<NAME>) are honoured as a second source.
ENV_LAUNCH_MODE = "MLOPS_LAUNCH_MODE"
ENV_IMAGE_PREFIX = "MLOPS_IMAGE_PREFIX"
ENV_IMAGE_TAG = "MLOPS_IMAGE_TAG"
ENV_DATA_ROOT = "MLOPS_DATA_ROOT"
ENV_REPO_ROOT = "MLOPS_REPO_ROOT"
ENV_K8S_NAMESPACE = "MLOPS_K8S_NAMESPACE"
ENV_K8S_GPU = "MLOPS_K8S_GPU"
# Caps on pod requests/limits for small clusters (kind on a laptop); unset: the catalog as written.
ENV_K8S_MAX_CPU = "MLOPS_K8S_MAX_CPU"
ENV_K8S_MAX_MEMORY = "MLOPS_K8S_MAX_MEMORY"
# What KubernetesPodOperator does with a finished pod: delete_pod (default), delete_succeeded_pod
# (keep failures for inspection) or keep_pod (end-to-end checks read where every pod ran).
ENV_K8S_ON_FINISH = "MLOPS_K8S_ON_FINISH"
K8S_ON_FINISH_ACTIONS = ("delete_pod", "delete_succeeded_pod", "keep_pod")
ENV_DOCKER_GPU = "MLOPS_DOCKER_GPU"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"

# Names shared with the k8s manifests.
WORKLOAD_SERVICE_ACCOUNT = "mlops-workload"
MLFLOW_SECRET = "mlflow-credentials"
DATA_PVC = "mlops-data"
CONTAINER_DATA_ROOT = "/data"
GPU_RESOURCE = "nvidia.com/gpu"

# Exit codes of the workload CLIs (mlops_core.exit_codes) that mean "gate refused", not "failed".
GATE_REFUSED_EXIT_CODES = (10, 11, 12)

# FAB resource names and the permissions a team role gets on the DAGs it owns.
TEAM_PERMISSIONS = {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}}
# The team that owns the platform DAGs (promote_model, model_management) in the catalog.
PLATFORM_TEAM = "platform"

# Spark executors as pods (client mode), names shared with k8s/components/spark-tick-features: the
# service whose image runs driver and executors, the driver's ServiceAccount, the label the component's
# NetworkPolicies select (value: the service), and the executor pod template the driver reads.
SPARK_SERVICE = "tick-features"
SPARK_K8S_MASTER = "k8s://https://kubernetes.default.svc"
SPARK_DRIVER_SERVICE_ACCOUNT = "spark-tick-features"
SPARK_APP_LABEL = "mlops.io/spark-app"
SPARK_ROLE_LABEL = "spark-role"  # Spark's own label: driver | executor
SPARK_EXECUTOR_TEMPLATE_CONFIGMAP = "spark-tick-features-executor"
SPARK_EXECUTOR_TEMPLATE_DIR = "/etc/spark-tick-features"
SPARK_EXECUTOR_TEMPLATE_KEY = "executor-pod.yaml"
