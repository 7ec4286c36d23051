"""MLflow webhook signatures, checked exactly as MLflow computes them."""

import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature

from serving.errors import RequestRejected
from serving.routes.webhooks import verify_signature

BODY = b'{"entity": "model_version_alias", "action": "created", "data": {"name": "m", "alias": "champion"}}'


def _headers(secret: str, timestamp: str = "1700000000") -> dict[str, str]:
    signature = _generate_hmac_signature(secret, "delivery-1", timestamp, BODY.decode())
    return {
        "x-mlflow-delivery-id": "delivery-1",
        "x-mlflow-timestamp": timestamp,
        "x-mlflow-signature": signature,
    }


def test_signature_made_by_mlflow_is_accepted() -> None:
    verify_signature("s3cret", _headers("s3cret"), BODY, now=1700000010)


@pytest.mark.parametrize(
    ("headers", "body", "now", "says"),
    [
        (_headers("other"), BODY, 1700000010, "does not match"),
        (_headers("s3cret"), BODY + b" ", 1700000010, "does not match"),
        (_headers("s3cret"), BODY, 1700009999, "too old"),
        ({}, BODY, 1700000010, "not signed"),
    ],
)
def test_forged_stale_or_unsigned_deliveries_are_refused(
    headers: dict[str, str], body: bytes, now: float, says: str
) -> None:
    with pytest.raises(RequestRejected, match=says) as caught:
        verify_signature("s3cret", headers, body, now=now)
    assert caught.value.status == 401
