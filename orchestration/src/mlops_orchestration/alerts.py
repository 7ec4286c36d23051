"""Structured alerts: one JSON log line per event, and an optional webhook (Airflow connection)."""

import json
import logging
import urllib.request
from typing import Any

log = logging.getLogger("mlops.alerts")
# An HTTP connection with this id, when defined, receives every alert as a JSON POST.
WEBHOOK_CONN_ID = "mlops_alerts_webhook"


def _webhook_url() -> str | None:
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(WEBHOOK_CONN_ID)
    except AirflowNotFoundException:
        return None
    if conn.host and conn.host.startswith(("http://", "https://")):
        return f"{conn.host.rstrip('/')}{'/' + conn.schema.lstrip('/') if conn.schema else ''}"
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{conn.host}{port}/{(conn.schema or '').lstrip('/')}"


def send_alert(event: dict[str, Any]) -> None:
    log.warning("mlops alert %s", json.dumps(event, sort_keys=True, default=str))
    try:
        url = _webhook_url()
    except Exception as exc:  # an alert must never raise out of a callback
        log.error("alert webhook lookup failed: %s", exc)
        return
    if not url:
        return
    request = urllib.request.Request(
        url, data=json.dumps(event, default=str).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            log.info("alert webhook answered %s", response.status)
    except OSError as exc:
        log.error("alert webhook %s failed: %s", url, exc)


def alert_on_failure(context: dict[str, Any]) -> None:
    """on_failure_callback for every task the factory builds."""
    ti = context["ti"]
    send_alert(
        {
            "event": "task_failed",
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": ti.run_id,
            "try_number": ti.try_number,
            "owner": context["dag"].owner if context.get("dag") else None,
            "exception": str(context.get("exception", ""))[:2000],
        }
    )
