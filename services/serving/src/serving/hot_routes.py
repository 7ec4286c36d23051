"""The prediction routes, dispatched before FastAPI's routing and middleware stack.

Under load, FastAPI's layers around a prediction (eight middlewares, route matching over every route,
dependency solving, a send wrapper per layer) took three quarters of the event loop's time on a 1-row
request, more than the decoding, the model call and the answer together (py-spy, power 1 row). A POST
to a prediction path goes straight to the same route function instead; the route functions answer
every outcome themselves (their own 4xx bodies, and a 500 for anything unexpected), so the layers add
nothing to them. Every other request, and every other method on these paths, goes through FastAPI as
before, and the OpenAPI document still describes these routes from their FastAPI declarations.
"""

import re
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.types import Receive, Scope, Send

from serving.draining import Drain, closing_send
from serving.routes import predict, v2
from serving.state import ServingState

Endpoint = Callable[[ServingState, Request, re.Match[str]], Awaitable[Response]]

# The same patterns FastAPI compiles for these paths: each parameter is one non-empty path segment.
_ROUTES: list[tuple[re.Pattern[str], Endpoint]] = [
    (
        re.compile(r"/v1/models/(?P<name>[^/]+):predict"),
        lambda state, request, match: predict.predict(match["name"], request, state),
    ),
    (
        re.compile(r"/v2/models/(?P<name>[^/]+)/infer"),
        lambda state, request, match: v2.infer(match["name"], request, state),
    ),
    (
        re.compile(r"/v2/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/infer"),
        lambda state, request, match: v2.infer_version(match["name"], match["version"], request, state),
    ),
]


def find(scope: Scope) -> tuple[Endpoint, re.Match[str]] | None:
    """The prediction route a request is for; None for anything FastAPI should route itself."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
        return None
    path: str = scope["path"]
    if not path.startswith(("/v1/models/", "/v2/models/")):
        return None
    for pattern, endpoint in _ROUTES:
        if (match := pattern.fullmatch(path)) is not None:
            return endpoint, match
    return None


async def dispatch(
    found: tuple[Endpoint, re.Match[str]],
    state: ServingState,
    drain: Drain,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    endpoint, match = found
    response = await endpoint(state, Request(scope, receive), match)
    await response(scope, receive, closing_send(send) if drain.active else send)
