"""Liveness (never depends on models) and readiness (every configured model has a version loaded)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.routes.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A model has no version loaded yet."}})
async def readyz(state: StateDep) -> JSONResponse:
    models = {name: slot.status.value for name, slot in state.slots.items()}
    ready = state.ready
    return JSONResponse({"ready": ready, "models": models}, status_code=200 if ready else 503)
