"""The one contract every launcher consumes: what to run, with which resources, where."""

from dataclasses import dataclass, field
from datetime import timedelta
from string import Template

from mlops_orchestration.catalog import Catalog, NodePool, Resources, SparkExecutors, WorkloadSpec

# Jinja, rendered by Airflow at run time in every mode.
RUN_KEY = "{{ dag.dag_id }}/{{ run_id }}"
LINEAGE_ENV = {
    "MLOPS_AIRFLOW_DAG_ID": "{{ dag.dag_id }}",
    "MLOPS_AIRFLOW_RUN_ID": "{{ run_id }}",
    "MLOPS_AIRFLOW_TASK_ID": "{{ task.task_id }}",
}


@dataclass(frozen=True)
class TaskSpec:
    task_id: str
    service: str
    argv: list[str]  # argv[0] is the workload CLI's executable; may hold ${data_root}
    resources: Resources
    node_pool: NodePool
    pool: str
    priority_class: str
    env: dict[str, str] = field(default_factory=dict)
    execution_timeout: timedelta | None = None
    skip_on_exit_codes: tuple[int, ...] = ()
    # Spark executors as pods: read by the kubernetes launcher only. The local and docker launchers run
    # the same job with local[*] in one process, which writes the same output.
    spark: SparkExecutors | None = None

    def rendered_argv(self, data_root: str) -> list[str]:
        return [Template(arg).safe_substitute(data_root=data_root) for arg in self.argv]


def _gate_values(workload: WorkloadSpec) -> dict[str, str]:
    gate = workload.gate
    if gate is None:
        return {}
    return {
        "gate_min_improvement": str(gate.min_improvement),
        "gate_min_value": "" if gate.min_value is None else str(gate.min_value),
    }


def step_spec(
    catalog: Catalog,
    workload: WorkloadSpec,
    task_id: str,
    argv: list[str],
    heavy: bool,
    execution_timeout: timedelta | None = None,
    skip_on_exit_codes: tuple[int, ...] = (),
    spark: SparkExecutors | None = None,
) -> TaskSpec:
    """A task running `argv` in the workload's image. Heavy steps get the workload's resources, node pool
    and Airflow pool; light ones (validate, gate, register) the catalog's small CPU defaults."""
    values = {"workload": workload.workload, **_gate_values(workload)}
    light = catalog.light_steps
    return TaskSpec(
        task_id=task_id,
        service=workload.service,
        argv=[Template(arg).safe_substitute(values) for arg in argv],
        resources=workload.resources if heavy else light.resources,
        node_pool=catalog.node_pools[workload.node_pool if heavy else light.node_pool],
        pool=workload.pool if heavy else light.pool,
        priority_class=workload.priority_class,
        env={**workload.env, **LINEAGE_ENV, "MLOPS_WORKLOAD": workload.workload},
        execution_timeout=execution_timeout,
        skip_on_exit_codes=skip_on_exit_codes,
        spark=spark,
    )


def operator_overrides(spec: TaskSpec) -> dict[str, object]:
    """Per-task Airflow settings every launcher passes on (unset ones fall back to the DAG's defaults)."""
    overrides: dict[str, object] = {"pool": spec.pool}
    if spec.execution_timeout is not None:
        overrides["execution_timeout"] = spec.execution_timeout
    return overrides
