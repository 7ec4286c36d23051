"""What the OpenAPI document says about bodies the routes read themselves (raw bytes, for speed).

The routes validate against each model's own contract; these schemas describe the general shape, so
clients and fuzzers know what to send and what comes back (every status a route can answer is listed).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

_FORBID = ConfigDict(extra="forbid")


class FieldError(BaseModel):
    loc: str
    msg: str


class V1Error(BaseModel):
    """The /v1 error body."""

    detail: str
    errors: list[FieldError] | None = None


class RecordsRequest(BaseModel):
    """LightGBM models: one object per row, feature name -> number (optional features may be null)."""

    model_config = _FORBID
    records: list[dict[str, float | bool | None]] = Field(min_length=1)


class ImagesRequest(BaseModel):
    """CNNs: H×W or H×W×C arrays of 0..255, or base64 PNG strings."""

    model_config = _FORBID
    images: list[str | list[list[float]] | list[list[list[float]]]] = Field(min_length=1)


class PredictResponse(BaseModel):
    model: str
    version: str
    run_id: str | None
    predictions: list[Any]


def inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema without `$defs`/`$ref` (OpenAPI operations cannot point into a schema's `$defs`)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def json_body(body_type: Any, description: str, **extra: Any) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body (of `body_type`) itself."""
    content = {"application/json": {"schema": inline(TypeAdapter(body_type).json_schema()), **extra}}
    return {"requestBody": {"required": True, "content": content, "description": description}}


def errors(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model} for status in statuses}
