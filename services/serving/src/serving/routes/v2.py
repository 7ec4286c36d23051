"""The Open Inference Protocol (KServe V2) REST API, beside /v1: health, model metadata, inference.

Errors are the protocol's `{"error": "..."}`: 400 malformed request, 404 unknown model or version,
413 body over the limit, 415 unsupported Content-Type/-Encoding, 503 no version loaded yet.
"""

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from mlops_core.logs import get_logger
from serving.errors import RequestRejected
from serving.loading import ServedModel
from serving.metrics import NO_VERSION, UNKNOWN_MODEL
from serving.routes.deps import StateDep, read_body
from serving.routes.openapi import errors, json_body
from serving.state import ModelSlot, ServingState
from serving.v2.protocol import (
    HEADER_LENGTH,
    ErrorResponse,
    InferRequest,
    InferResponse,
    ModelMetadata,
    ServerMetadata,
    encode_response,
    parse_infer_request,
)

log = get_logger(__name__)
router = APIRouter(tags=["v2"])

SERVER_NAME = "mlops-serving"
SERVER_VERSION = "0.1.0"
EXTENSIONS = ["binary_tensor_data"]
_MEDIA_TYPES = {"", "application/json", "application/octet-stream"}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return errors(ErrorResponse, *statuses)


_INFER_DOC: dict[str, Any] = {
    **json_body(
        InferRequest,
        "An inference request; with the binary tensor extension, this JSON header is followed by the "
        "tensors' bytes and its length is given in Inference-Header-Content-Length.",
    ),
    "parameters": [
        {
            "name": "Inference-Header-Content-Length",
            "in": "header",
            "required": False,
            "schema": {"type": "integer", "minimum": 1},
            "description": "Binary tensor extension: length of the JSON header at the start of the body.",
        }
    ],
}
_INFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": InferResponse,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "Outputs; binary outputs follow a JSON header of Inference-Header-Content-Length bytes.",
    },
    **_errors(400, 404, 413, 415, 503),
}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _error(exc: RequestRejected) -> Response:
    headers = {"Retry-After": "5"} if exc.status == 503 else None
    return _json(exc.status, {"error": exc.detail}, headers)


def _slot(state: ServingState, name: str) -> ModelSlot:
    slot = state.slots.get(name)
    if slot is None:
        raise RequestRejected(404, f"unknown model {name!r}; served models: {', '.join(state.slots)}")
    return slot


def _loaded(state: ServingState, name: str, version: str | None) -> tuple[ModelSlot, ServedModel]:
    slot = _slot(state, name)
    served = slot.current
    if served is None:
        raise RequestRejected(503, f"model {name!r} has no version loaded yet")
    if version is not None and version != served.version:
        raise RequestRejected(404, f"model {name!r} serves version {served.version}, not {version!r}")
    return slot, served


def _require_media_type(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        raise RequestRejected(415, f"Content-Type must be application/json (got {media_type!r})")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise RequestRejected(
            415, f"Content-Encoding {encoding!r} is not supported; send uncompressed bodies"
        )


@router.get("/v2", response_model=ServerMetadata)
async def server_metadata() -> dict[str, Any]:
    return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": EXTENSIONS}


@router.get("/v2/health/live")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready", responses={503: {"description": "A model has no version loaded yet."}})
async def ready(state: StateDep) -> Response:
    is_ready = state.ready
    return _json(200 if is_ready else 503, {"ready": is_ready})


async def _metadata(state: ServingState, name: str, version: str | None) -> Response:
    try:
        _, served = _loaded(state, name, version)
    except RequestRejected as exc:
        return _error(exc)
    return _json(200, served.v2.metadata(name, served.version).model_dump())


async def _model_ready(state: ServingState, name: str, version: str | None) -> Response:
    try:
        _loaded(state, name, version)
    except RequestRejected as exc:
        if exc.status != 503:
            return _error(exc)
        return _json(503, {"name": name, "ready": False}, {"Retry-After": "5"})
    return _json(200, {"name": name, "ready": True})


@router.get("/v2/models/{name}", response_model=ModelMetadata, responses=_errors(404, 503))
async def model_metadata(name: str, state: StateDep) -> Response:
    return await _metadata(state, name, None)


@router.get("/v2/models/{name}/versions/{version}", response_model=ModelMetadata, responses=_errors(404, 503))
async def version_metadata(name: str, version: str, state: StateDep) -> Response:
    return await _metadata(state, name, version)


@router.get("/v2/models/{name}/ready", responses=_errors(404, 503))
async def model_ready(name: str, state: StateDep) -> Response:
    return await _model_ready(state, name, None)


@router.get("/v2/models/{name}/versions/{version}/ready", responses=_errors(404, 503))
async def version_ready(name: str, version: str, state: StateDep) -> Response:
    return await _model_ready(state, name, version)


@router.post("/v2/models/{name}/infer", openapi_extra=_INFER_DOC, responses=_INFER_RESPONSES)
async def infer(name: str, request: Request, state: StateDep) -> Response:
    return await _infer(state, request, name, None)


@router.post(
    "/v2/models/{name}/versions/{version}/infer", openapi_extra=_INFER_DOC, responses=_INFER_RESPONSES
)
async def infer_version(name: str, version: str, request: Request, state: StateDep) -> Response:
    return await _infer(state, request, name, version)


async def _infer(state: ServingState, request: Request, name: str, version: str | None) -> Response:
    started = time.perf_counter()
    slot: ModelSlot | None = state.slots.get(name)
    served: ServedModel | None = None
    decoded = None
    try:
        slot, served = _loaded(state, name, version)
        _require_media_type(request)
        body = await read_body(request, state.settings.max_body_bytes)
        parsed = parse_infer_request(body, request.headers.get(HEADER_LENGTH))
        decoded = served.v2.decode(parsed, with_records=state.sampler is not None)
        outputs = await slot.batcher.submit(served, decoded.inputs)
        content, headers = encode_response(name, served.version, parsed, served.v2.outputs(outputs))
        media_type = "application/octet-stream" if headers else "application/json"
        response = Response(
            content, media_type=media_type, headers=headers | {"X-Model-Version": served.version}
        )
    except RequestRejected as exc:
        response = _error(exc)
    except Exception as exc:  # the server never crashes on a request; the reason is logged, not leaked
        log.exception("inference failed", model=name, version=served and served.version)
        response = _json(500, {"error": f"inference failed ({type(exc).__name__}); see server logs"})
    elapsed = time.perf_counter() - started
    state.metrics.observe_request(
        name if slot is not None else UNKNOWN_MODEL,
        served.version if served is not None else NO_VERSION,
        response.status_code,
        elapsed,
    )
    if response.status_code == 200:
        assert slot is not None and served is not None and decoded is not None
        if state.sampler is not None:
            state.sampler.maybe_record(served, decoded, lambda: served.predictor.to_json(outputs), elapsed)
        if slot.shadow is not None:
            slot.shadow.mirror(served, decoded.inputs, outputs, lambda model: model.v2.decode(parsed).inputs)
    return response
