"""Which version of each model is served (name, version, run id, input contract, last load error)."""

from typing import Any

from fastapi import APIRouter

from serving.errors import RequestRejected
from serving.routes.deps import StateDep
from serving.routes.openapi import V1Error, errors

router = APIRouter(tags=["models"])


@router.get("/v1/models")
async def list_models(state: StateDep) -> dict[str, Any]:
    return {"models": [slot.describe() for slot in state.slots.values()]}


@router.get("/v1/models/{name}", responses=errors(V1Error, 404, 422))
async def get_model(name: str, state: StateDep) -> dict[str, Any]:
    slot = state.slots.get(name)
    if slot is None:
        raise RequestRejected(404, f"unknown model {name!r}; served models: {', '.join(state.slots)}")
    return slot.describe()


@router.get("/v1/models/{name}/shadow", responses=errors(V1Error, 404, 422))
async def get_shadow(name: str, state: StateDep) -> dict[str, Any]:
    """How the challenger answers mirrored live traffic, per (champion, challenger) version pair."""
    slot = state.slots.get(name)
    if slot is None:
        raise RequestRejected(404, f"unknown model {name!r}; served models: {', '.join(state.slots)}")
    out: dict[str, Any] = {
        "model": name,
        "enabled": slot.shadow is not None,
        "champion_version": slot.current and slot.current.version,
    }
    if slot.shadow is not None:
        out |= slot.shadow.summary()
        failure = slot.challenger_failure
        out["challenger_load_error"] = failure and {"version": failure.version, "error": failure.error}
    return out
