"""`promote_model`: a human approves moving `champion` to a version; the `mlops` CLI records who and why.

Before asking, `shadow_traffic` reads from serving how the version did on mirrored live requests; the
approver sees it in the request, and `mlops promote` records that same summary on the version.
"""

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from mlops_orchestration.alerts import alert_on_failure
from mlops_orchestration.catalog import Catalog
from mlops_orchestration.constants import PLATFORM_TEAM, TEAM_PERMISSIONS
from mlops_orchestration.launchers import build_task
from mlops_orchestration.settings import LaunchSettings
from mlops_orchestration.spec import LINEAGE_ENV, TaskSpec

DAG_ID = "promote_model"
APPROVAL = "{{ ti.xcom_pull(task_ids='approve') }}"
APPROVER = "{{ ti.xcom_pull(task_ids='approve')['responded_by_user']['name'] }}"
REASON = "{{ ti.xcom_pull(task_ids='approve')['params_input']['reason'] }}"
SHADOW_TASK = "shadow_traffic"
# Missing evidence (no XCom) renders as "unavailable" / null, never as a failed template.
_SHADOW = "(ti.xcom_pull(task_ids='shadow_traffic') or {})"
SHADOW_TEXT = "{{ " + _SHADOW + ".get('text', 'Shadow traffic: unavailable.') }}"
SHADOW_PAIR = "{{ " + _SHADOW + ".get('pair') | tojson }}"


def shadow_evidence(workload: str, version: str) -> dict[str, Any]:
    """Serving's shadow traffic for the version: `text` for the approver, `pair` to record (None: none)."""
    from airflow.sdk import Variable

    from mlops_core.naming import Workload, tracking_names
    from mlops_core.shadow import SERVING_URL_ENV, ShadowUnavailable, describe, fetch_summary, select_pair

    url = os.environ.get(SERVING_URL_ENV) or Variable.get(SERVING_URL_ENV, default=None)
    if not url:
        return {
            "text": f"Shadow traffic: not configured (set {SERVING_URL_ENV} to serving's URL).",
            "pair": None,
        }
    model = tracking_names(Workload(workload)).registered_model
    try:
        pair = select_pair(fetch_summary(url, model), version)
    except ShadowUnavailable as exc:
        return {"text": f"Shadow traffic: unavailable ({exc}).", "pair": None}
    return {"text": describe(pair), "pair": pair}


def promotion_spec(catalog: Catalog) -> TaskSpec:
    light = catalog.light_steps
    return TaskSpec(
        task_id="promote",
        # Every training image ships the `mlops` CLI; the LightGBM one is the smallest.
        service="training-lgbm",
        argv=[
            "mlops",
            "promote",
            "--workload",
            "{{ params.workload }}",
            "--version",
            "{{ params.version }}",
            "--by",
            APPROVER,
            "--reason",
            REASON,
            "--shadow-summary",
            SHADOW_PAIR,
        ],
        resources=light.resources,
        node_pool=catalog.node_pools[light.node_pool],
        pool=light.pool,
        priority_class="mlops-training-high",
        env=dict(LINEAGE_ENV),
    )


def build_promote_dag(catalog: Catalog, settings: LaunchSettings) -> Any:
    from airflow.providers.standard.operators.hitl import ApprovalOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, Param

    workloads = sorted({w.workload for w in catalog.workloads if w.kind == "training"})
    team = catalog.teams[PLATFORM_TEAM]
    with DAG(
        dag_id=DAG_ID,
        description="Approve moving a model's `champion` alias to a registered version.",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=4,
        tags=["promotion", "registry", "human-in-the-loop"],
        params={
            "workload": Param(workloads[0], enum=workloads, description="Which model to promote."),
            "version": Param("challenger", type="string", description="A version number, or 'challenger'."),
        },
        default_args={"owner": team.owner, "retries": 0, "on_failure_callback": alert_on_failure},
        owner_links=team.owner_links,
        # Approvers: the platform team (and admins); workload teams see their models' gate evidence in MLflow.
        access_control={team.role: TEAM_PERMISSIONS},
        doc_md="Trigger with `workload` and `version`; an approver answers in the Required Actions view.",
    ) as dag:
        shadow = PythonOperator(
            task_id=SHADOW_TASK,
            python_callable=shadow_evidence,
            op_kwargs={"workload": "{{ params.workload }}", "version": "{{ params.version }}"},
            pool=catalog.light_steps.pool,
        )
        approve = ApprovalOperator(
            task_id="approve",
            subject="Promote {{ params.workload }} version {{ params.version }} to champion?",
            body=(
                "Compare the challenger with the champion in MLflow (gate evidence is on the version's tags) "
                "before approving. Approving moves the `champion` alias; serving swaps to it automatically."
                f"\n\n{SHADOW_TEXT}"
            ),
            params={
                # No minLength: HITL params are validated with their defaults when the task starts; an
                # empty reason is refused by `mlops promote` ("promotion needs a reason").
                "reason": Param("", type="string", description="Why this version should serve.")
            },
            response_timeout=timedelta(days=3),
            pool=catalog.light_steps.pool,
        )
        shadow >> approve >> build_task(promotion_spec(catalog), settings)
    return dag
