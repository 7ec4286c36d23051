"""The prediction routes dispatched ahead of FastAPI answer exactly as FastAPI's own routing does."""

from collections.abc import Iterator

import httpx
import pytest
import test_hostile_inputs as v1_hostile
import test_v2_hostile_inputs as v2_hostile
from utils.server import RunningServer

JSON = {"content-type": "application/json"}
COMPARED_HEADERS = ("content-type", "content-length", "x-model-version", "retry-after", "connection")


def _requests() -> Iterator[tuple[str, str, bytes, dict[str, str]]]:
    """(id, path, body, headers): answered requests, then every hostile case of both APIs."""
    yield "v1-power", "/v1/models/power_lgbm:predict", v1_hostile._records(v1_hostile._record()), JSON
    image = {"images": [v1_hostile._image(value=3)]}
    yield "v1-mnist", "/v1/models/mnist_cnn:predict", httpx.Request("POST", "/", json=image).content, JSON
    yield "v2-power", "/v2/models/power_lgbm/infer", v2_hostile._body(v2_hostile._power()), JSON
    yield "v2-version", "/v2/models/power_lgbm/versions/1/infer", v2_hostile._body(v2_hostile._power()), JSON
    yield (
        "v2-other-version",
        "/v2/models/power_lgbm/versions/999/infer",
        v2_hostile._body(v2_hostile._power()),
        JSON,
    )
    yield "v1-unknown-model", "/v1/models/no_such:predict", b"{}", JSON
    yield (
        "v1-encoded-name",
        "/v1/models/power%5Flgbm:predict",
        v1_hostile._records(v1_hostile._record()),
        JSON,
    )
    for case in v1_hostile.CASES:
        headers = JSON if case.headers is None else case.headers
        yield f"v1-{case.id}", f"/v1/models/{case.model}:predict", case.body, headers
    for case in v2_hostile.CASES:
        yield f"v2-{case.id}", f"/v2/models/{case.model}/infer", case.body, {**JSON, **(case.headers or {})}


REQUESTS = list(_requests())


def _answer(server: RunningServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[object, ...]:
    response = server.http.post(path, content=body, headers=headers)
    return (
        response.status_code,
        response.content,
        *(response.headers.get(name) for name in COMPARED_HEADERS),
    )


@pytest.mark.parametrize(("path", "body", "headers"), [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS])
def test_hot_route_answers_like_fastapi_routing(
    server: RunningServer, path: str, body: bytes, headers: dict[str, str]
) -> None:
    hot = _answer(server, path, body, headers)
    server.app.hot_routes = False
    try:
        routed = _answer(server, path, body, headers)
    finally:
        server.app.hot_routes = True

    assert hot == routed


def test_every_prediction_route_is_dispatched_directly(server: RunningServer) -> None:
    assert server.app.hot is not None
    assert sorted(server.app.hot.paths) == [
        "/v1/models/{name}:predict",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
    ]
    scope = {"type": "http", "method": "POST", "path": "/v2/models/power_lgbm/versions/1/infer"}
    found = server.app.hot.find(scope)
    assert found is not None and found[1] == {"name": "power_lgbm", "version": "1"}


def test_other_methods_on_prediction_paths_still_go_through_fastapi(server: RunningServer) -> None:
    assert server.http.put("/v1/models/power_lgbm:predict", json={}).status_code == 405
    assert server.http.get("/v2/models/power_lgbm/infer").status_code == 405
    assert server.http.post("/v1/models/power_lgbm:predict/", json={}).status_code in (307, 404)
    paths = server.http.get("/openapi.json").json()["paths"]
    assert {"/v1/models/{name}:predict", "/v2/models/{name}/infer"} <= set(paths)
