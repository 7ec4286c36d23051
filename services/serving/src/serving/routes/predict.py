"""`POST /v1/models/{name}:predict`: validate, micro-batch, answer with predictions and the version."""

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from mlops_core.logs import get_logger
from serving.errors import RequestRejected
from serving.metrics import NO_VERSION, UNKNOWN_MODEL
from serving.routes.deps import StateDep, read_body, require_json
from serving.routes.openapi import ImagesRequest, PredictResponse, RecordsRequest, V1Error, errors, json_body

log = get_logger(__name__)
router = APIRouter(tags=["predict"])

_REQUEST_DOC = json_body(
    RecordsRequest | ImagesRequest,
    "Feature records for LightGBM models, images for the CNNs; see GET /v1/models/{name}.",
    examples={
        "records": {"value": {"records": [{"feature_a": 1.5, "feature_b": 3}]}},
        "images": {"value": {"images": ["<base64 PNG>", [[0, 12, 255], "..."]]}},
    },
)
_RESPONSES = {200: {"model": PredictResponse}, **errors(V1Error, 400, 404, 413, 415, 422, 503)}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


@router.post("/v1/models/{name}:predict", openapi_extra=_REQUEST_DOC, responses=_RESPONSES)
async def predict(name: str, request: Request, state: StateDep) -> Response:
    started = time.perf_counter()
    slot = state.slots.get(name)
    served = slot.current if slot is not None else None
    try:
        if slot is None:
            raise RequestRejected(404, f"unknown model {name!r}; served models: {', '.join(state.slots)}")
        if served is None:
            champion = slot.champion_version or "not set"
            raise RequestRejected(503, f"model {name!r} has no version loaded yet (champion: {champion})")
        require_json(request)
        body = await read_body(request, state.settings.max_body_bytes)
        decoded = served.decoder.decode(body)
        outputs = await slot.batcher.submit(served, decoded.inputs)
        predictions = served.predictor.to_json(outputs)
        response = _json(
            200,
            {"model": name, "version": served.version, "run_id": served.run_id, "predictions": predictions},
            {"X-Model-Version": served.version},
        )
    except RequestRejected as exc:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        response = _json(exc.status, exc.body(), headers)
    except Exception as exc:  # the server never crashes on a request; the reason is logged, not leaked
        log.exception("prediction failed", model=name, version=served and served.version)
        response = _json(500, {"detail": f"prediction failed ({type(exc).__name__}); see server logs"})
    elapsed = time.perf_counter() - started
    state.metrics.observe_request(
        name if slot is not None else UNKNOWN_MODEL,
        served.version if served is not None else NO_VERSION,
        response.status_code,
        elapsed,
    )
    if response.status_code == 200:
        assert slot is not None and served is not None
        if state.sampler is not None:
            state.sampler.maybe_record(served, decoded, predictions, elapsed)
        if slot.shadow is not None:
            slot.shadow.mirror(
                served, decoded.inputs, outputs, lambda model: model.decoder.decode(body).inputs
            )
    return response
