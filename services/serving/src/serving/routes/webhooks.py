"""MLflow registry webhooks: an alias event for a served model triggers an immediate registry check.

The delivery only wakes the watcher; the version to serve is always read back from the registry, so
a forged delivery can at most cause an extra look-up. With a secret configured, the HMAC signature
(MLflow's `X-MLflow-Signature: v1,<base64 hmac-sha256 of "<delivery id>.<timestamp>.<body>">`) and a
timestamp within five minutes are required.
"""

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError

from mlops_core.logs import get_logger
from serving.errors import RequestRejected
from serving.routes.deps import StateDep, WatcherDep, read_body, require_json
from serving.routes.openapi import V1Error, errors, json_body

log = get_logger(__name__)
router = APIRouter(tags=["webhooks"])

_MAX_WEBHOOK_BYTES = 64 * 1024
_MAX_CLOCK_SKEW_S = 300
_ALIAS_ENTITY = "model_version_alias"


class WebhookDelivery(BaseModel):
    entity: str
    action: str
    data: dict[str, Any]


def verify_signature(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> None:
    delivery_id = headers.get("x-mlflow-delivery-id", "")
    timestamp = headers.get("x-mlflow-timestamp", "")
    signature = headers.get("x-mlflow-signature", "")
    if not (delivery_id and timestamp.isdigit() and signature):
        raise RequestRejected(
            401, "webhook delivery is not signed (X-MLflow-Signature/-Timestamp/-Delivery-Id)"
        )
    if abs((now or time.time()) - int(timestamp)) > _MAX_CLOCK_SKEW_S:
        raise RequestRejected(401, "webhook timestamp is too old or in the future")
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[1] for part in signature.split() if part.startswith("v1,")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise RequestRejected(401, "webhook signature does not match")


@router.post(
    "/v1/webhooks/mlflow",
    openapi_extra=json_body(WebhookDelivery, "An MLflow registry webhook delivery."),
    responses=errors(V1Error, 400, 401, 413, 415, 422),
)
async def mlflow_webhook(request: Request, state: StateDep, watcher: WatcherDep) -> dict[str, Any]:
    require_json(request)
    body = await read_body(request, _MAX_WEBHOOK_BYTES)
    if state.settings.webhook_secret:
        verify_signature(state.settings.webhook_secret, dict(request.headers), body)
    try:
        delivery = WebhookDelivery.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise RequestRejected(422, f"not an MLflow webhook delivery: {exc}") from None
    model = delivery.data.get("name")
    refresh = delivery.entity == _ALIAS_ENTITY and model in state.slots
    if refresh:
        log.info("registry webhook: checking champion", model=model, action=delivery.action)
        watcher.request_refresh()
    return {"refresh": refresh}
