"""The prediction routes, dispatched before FastAPI's routing and middleware stack.

Under load, FastAPI's layers around a prediction (eight middlewares, route matching over every route,
dependency solving, a send wrapper per layer) took three quarters of the event loop's time on a 1-row
request, more than the decoding, the model call and the answer together (py-spy, power 1 row). A POST to
a prediction path goes straight to the same route function instead; the route functions answer every
outcome themselves (their own 4xx bodies, and a 500 for anything unexpected), so the layers add nothing
to them. The paths and their patterns are FastAPI's own (the routes' compiled `path_regex`), so both
ways match the same requests. Every other request, and every other method on these paths, goes through
FastAPI as before, and the OpenAPI document still describes these routes from their FastAPI
declarations.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from serving.draining import Drain, closing_send
from serving.routes import predict, v2
from serving.state import ServingState

# The route functions dispatched directly: each takes its path parameters, `request` and `state`.
HOT_ENDPOINTS: tuple[Callable[..., Awaitable[Response]], ...] = (predict.predict, v2.infer, v2.infer_version)
Found = tuple[APIRoute, dict[str, Any]]


class HotRoutes:
    """The app's POST routes to `HOT_ENDPOINTS`, matched the way FastAPI matches them."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._routes = [
            route
            for route in routes
            if isinstance(route, APIRoute) and route.endpoint in HOT_ENDPOINTS and "POST" in route.methods
        ]

    @property
    def paths(self) -> list[str]:
        return [route.path for route in self._routes]

    def find(self, scope: Scope) -> Found | None:
        """The prediction route a request is for, and its path parameters; None: FastAPI routes it."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        for route in self._routes:
            if (match := route.path_regex.match(path)) is not None:
                params = {
                    name: route.param_convertors[name].convert(value)
                    for name, value in match.groupdict().items()
                }
                return route, params
        return None


async def dispatch(
    found: Found, state: ServingState, drain: Drain, scope: Scope, receive: Receive, send: Send
) -> None:
    route, params = found
    response = await route.endpoint(**params, request=Request(scope, receive), state=state)
    await response(scope, receive, closing_send(send) if drain.active else send)
