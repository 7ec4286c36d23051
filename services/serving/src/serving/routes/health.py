"""Liveness (never depends on models) and readiness (every configured model has a version loaded, and
the server is not draining)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from serving.routes.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "A model has no version loaded yet, or the server is draining."}},
)
async def readyz(request: Request, state: StateDep) -> JSONResponse:
    models = {name: slot.status.value for name, slot in state.slots.items()}
    draining = request.app.state.drain.active
    ready = state.ready and not draining
    return JSONResponse(
        {"ready": ready, "draining": draining, "models": models}, status_code=200 if ready else 503
    )
