"""The last task of every training DAG: report the outcome, and fail the run if a step failed."""

import json
import logging
from typing import Any

from mlops_orchestration.alerts import send_alert

log = logging.getLogger("mlops.notify")

FAILED_STATES = {"failed", "upstream_failed"}


def summarize(states: dict[str, str | None]) -> str:
    if any(state in FAILED_STATES for state in states.values()):
        return "failed"
    if states.get("gate") == "skipped":
        return "gate_refused"
    if states.get("register") == "success":
        return "registered"
    return "incomplete"


def notify_outcome(**context: Any) -> str:
    ti = context["ti"]
    found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id])
    states = {task: state for task, state in found.get(ti.run_id, {}).items() if task != ti.task_id}
    outcome = summarize(states)
    event = {"event": f"training_{outcome}", "dag_id": ti.dag_id, "run_id": ti.run_id, "states": states}
    if outcome != "failed":
        log.info("training outcome %s", json.dumps(event, sort_keys=True))
        return outcome
    send_alert(event)
    from airflow.exceptions import AirflowFailException

    raise AirflowFailException(f"{ti.dag_id} run {ti.run_id} failed: {states}")
