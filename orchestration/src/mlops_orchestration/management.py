"""`model_management`: nightly quality reports that may request retraining, and registry hygiene.

Each report runs the workload's own `report` command in its image. Exit 0 means "retrain requested"
(the command already applied the cool-down and daily budget); exit 20 means nothing to do and skips
the request. A request is an Asset event the workload's training DAG is scheduled on.
"""

from datetime import UTC, datetime
from typing import Any

from mlops_orchestration.alerts import alert_on_failure
from mlops_orchestration.catalog import Catalog, WorkloadSpec
from mlops_orchestration.constants import TEAM_PERMISSIONS
from mlops_orchestration.launchers import build_task
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import step_spec

NO_RETRAIN_EXIT_CODE = 20  # mlops_core.exit_codes.ExitCode.NO_RETRAIN


def retrain_asset_uri(workload: str) -> str:
    return f"mlops://retrain/{workload}"


def _report_argv(workload: WorkloadSpec) -> list[str]:
    monitoring = workload.monitoring
    assert monitoring is not None
    return [
        *monitoring.report.command,
        "--max-degradation", str(monitoring.max_degradation),
        "--max-psi", str(monitoring.max_psi),
        "--cooldown", f"{int(monitoring.cooldown.total_seconds())}s",
        "--daily-budget", str(monitoring.daily_budget),
    ]  # fmt: skip


def record_request(report_task_id: str, **context: Any) -> None:
    """Attach the report's summary line to the Asset event this task emits."""
    summary = context["ti"].xcom_pull(task_ids=report_task_id)
    for asset in context["task"].outlets:
        context["outlet_events"][asset].extra = {
            "report": summary or "",
            "requested_by": context["dag"].dag_id,
        }


def build_model_management_dag(catalog: Catalog, settings: LaunchSettings) -> Any:
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, Asset

    management = catalog.model_management
    assert management is not None
    team = catalog.teams[management.team]
    monitored = [w for w in catalog.workloads if w.monitoring is not None]
    with DAG(
        dag_id=management.dag_id,
        description="Nightly champion quality reports, drift-triggered retraining, registry hygiene.",
        schedule=management.schedule,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        tags=["model-management", "monitoring", "registry", f"team:{management.team}"],
        owner_links=team.owner_links,
        access_control={team.role: TEAM_PERMISSIONS},
        default_args={
            "owner": team.owner,
            "retries": management.retries,
            "execution_timeout": management.execution_timeout,
            "pool": catalog.light_steps.pool,
            "on_failure_callback": alert_on_failure,
        },
    ) as dag:
        for workload in monitored:
            name = workload.workload
            report = build_task(
                step_spec(catalog, workload, f"report_{name}", _report_argv(workload), heavy=False,
                          skip_on_exit_codes=(NO_RETRAIN_EXIT_CODE,)),
                settings,
            )  # fmt: skip
            request = PythonOperator(
                task_id=f"request_retrain_{name}",
                python_callable=record_request,
                op_kwargs={"report_task_id": report.task_id},
                outlets=[Asset(retrain_asset_uri(name))],
            )
            # Independent of the report: archiving neither waits for nor blocks a retrain request.
            build_task(
                step_spec(catalog, workload, f"hygiene_{name}", [
                    "mlops", "hygiene", "--workload", name,
                    "--max-age-days", str(management.hygiene.max_age_days),
                    "--keep-last", str(management.hygiene.keep_last),
                ], heavy=False),
                settings,
            )  # fmt: skip
            report >> request
    return dag
