"""Named failures: a model version that cannot be served, and a request that cannot be answered."""

from typing import Any

from mlops_core.errors import MlopsError


class ModelLoadError(MlopsError):
    """A registered version cannot be served (unsupported flavor, bad artifact, failed warm-up)."""


class RequestRejected(Exception):
    """A request answered with a 4xx/5xx status and a readable reason (never a server crash)."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return body
