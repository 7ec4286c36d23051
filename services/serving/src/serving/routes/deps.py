"""Route dependencies and the request-body helpers every route shares."""

from typing import Annotated

from fastapi import Depends, Request

from serving.champion_watch import ChampionWatcher
from serving.errors import RequestRejected
from serving.state import ServingState


# Async on purpose: FastAPI runs plain `def` dependencies on a thread pool, a hop per request.
async def _state(request: Request) -> ServingState:
    return request.app.state.serving


async def _watcher(request: Request) -> ChampionWatcher:
    return request.app.state.watcher


StateDep = Annotated[ServingState, Depends(_state)]
WatcherDep = Annotated[ChampionWatcher, Depends(_watcher)]


def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = f"{content_type!r}" if content_type else "none"
        raise RequestRejected(415, f"Content-Type must be application/json (got {shown})")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestRejected(400, f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise RequestRejected(413, f"request body is {int(declared)} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRejected(413, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise RequestRejected(400, "request body is empty; send a JSON object")
    return body
