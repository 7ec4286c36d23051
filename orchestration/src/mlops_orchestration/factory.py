"""DAG factory: every DAG comes from the catalog; tasks come from the launcher of the current mode."""

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_orchestration.alerts import alert_on_failure
from mlops_orchestration.catalog import Catalog, WorkloadSpec, load_catalog
from mlops_orchestration.constants import GATE_REFUSED_EXIT_CODES, TEAM_PERMISSIONS
from mlops_orchestration.launchers import build_task
from mlops_orchestration.management import build_model_management_dag, retrain_asset_uri
from mlops_orchestration.notify import notify_outcome
from mlops_orchestration.promotion import build_promote_dag
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import RUN_KEY, step_spec


def schedule_of(workload: WorkloadSpec) -> Any:
    """The catalog's schedule, or'ed with the workload's retrain Asset when it is monitored."""
    from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable

    upstream = Asset(workload.schedule_on_asset) if workload.schedule_on_asset else None
    retrain = Asset(retrain_asset_uri(workload.workload)) if workload.monitoring else None
    if retrain is None:
        return [upstream] if upstream else workload.schedule
    if upstream is not None:
        return upstream | retrain
    if workload.schedule is None:
        return [retrain]
    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(workload.schedule, timezone="UTC"), assets=retrain
    )


def dag_arguments(catalog: Catalog, workload: WorkloadSpec) -> dict[str, Any]:
    team = catalog.teams[workload.team]
    schedule = schedule_of(workload)
    return {
        "dag_id": workload.dag_id,
        "description": workload.description,
        "schedule": schedule,
        "start_date": datetime.fromisoformat(workload.start_date).replace(tzinfo=UTC),
        "catchup": workload.catchup,
        "max_active_runs": workload.max_active_runs,
        "tags": sorted({*workload.tags, f"team:{workload.team}"}),
        "owner_links": team.owner_links,
        "access_control": {team.role: TEAM_PERMISSIONS},
        "default_args": {
            "owner": team.owner,
            "retries": workload.retries,
            "retry_delay": workload.retry_delay,
            "execution_timeout": workload.execution_timeout,
            "queue": workload.queue,
            "priority_weight": workload.priority_weight,
            "pool": workload.pool,
            "on_failure_callback": alert_on_failure,
        },
        "doc_md": f"**{workload.description}**\n\nGenerated from the workload catalog (`{workload.dag_id}`).",
    }


def _step(catalog: Catalog, workload: WorkloadSpec, settings: LaunchSettings, task_id: str, argv: list[str],
          heavy: bool = False, **spec_kwargs: Any) -> Any:  # fmt: skip
    return build_task(step_spec(catalog, workload, task_id, argv, heavy=heavy, **spec_kwargs), settings)


def _training_tasks(catalog: Catalog, workload: WorkloadSpec, settings: LaunchSettings) -> None:
    from airflow.providers.standard.operators.python import PythonOperator

    train_step = workload.steps["train"]
    release = ["--workload", workload.workload, "--run-key", RUN_KEY]
    validate = _step(catalog, workload, settings, "validate_data", workload.steps["validate"].command)
    train = _step(catalog, workload, settings, "train", [*train_step.command, "--no-release", "--run-key", RUN_KEY],
                  heavy=True, execution_timeout=train_step.execution_timeout)  # fmt: skip
    gate = _step(catalog, workload, settings, "gate", ["mlops", "gate", *release],
                 skip_on_exit_codes=GATE_REFUSED_EXIT_CODES)  # fmt: skip
    register = _step(catalog, workload, settings, "register", ["mlops", "register", *release])
    chain = [validate, train, gate, register]
    if workload.auto_promote:
        reason = "auto_promote is enabled for this workload in the catalog"
        chain.append(_step(catalog, workload, settings, "promote", [
            "mlops", "promote", "--workload", workload.workload, "--version", "challenger",
            "--by", "airflow:auto_promote", "--reason", reason,
        ]))  # fmt: skip
    notify = PythonOperator(
        task_id="notify", python_callable=notify_outcome, trigger_rule="all_done", pool=catalog.light_steps.pool,
        retries=0,
    )  # fmt: skip
    for upstream, downstream in itertools.pairwise(chain):
        upstream >> downstream
    chain[-1] >> notify


def _feature_tasks(catalog: Catalog, workload: WorkloadSpec, settings: LaunchSettings) -> None:
    from airflow.sdk import Asset

    build_step = workload.steps["build"]
    validate = _step(catalog, workload, settings, "validate_data", workload.steps["validate"].command)
    outlets = [Asset(workload.produces_asset)] if workload.produces_asset else []
    build = build_task(
        step_spec(catalog, workload, "build_features", build_step.command, heavy=True,
                  execution_timeout=build_step.execution_timeout, spark=workload.spark),
        settings, outlets=outlets,
    )  # fmt: skip
    validate >> build


def build_workload_dag(catalog: Catalog, workload: WorkloadSpec, settings: LaunchSettings) -> Any:
    from airflow.sdk import DAG

    with DAG(**dag_arguments(catalog, workload)) as dag:
        if workload.kind == "training":
            _training_tasks(catalog, workload, settings)
        else:
            _feature_tasks(catalog, workload, settings)
    return dag


def build_dags(catalog_path: Path, settings: LaunchSettings | None = None) -> dict[str, Any]:
    """Validate the whole catalog first, then build every DAG (dag_id -> DAG)."""
    catalog = load_catalog(catalog_path)
    settings = settings or LaunchSettings.from_env()
    dags = {w.dag_id: build_workload_dag(catalog, w, settings) for w in catalog.workloads}
    for extra in (build_promote_dag(catalog, settings), _management_dag(catalog, settings)):
        if extra is not None:
            dags[extra.dag_id] = extra
    return dags


def _management_dag(catalog: Catalog, settings: LaunchSettings) -> Any:
    return build_model_management_dag(catalog, settings) if catalog.model_management else None
