"""Hostile and malformed requests: each gets a 4xx with a readable reason; the server stays healthy."""

import base64
import io
import json
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import Champions
from PIL import Image
from utils.server import RunningServer

JSON = {"content-type": "application/json"}


def _record(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {"f_0": 0.5, "f_1": -1.0, "f_2": 0.0, "f_3": 2.0, "f_4": 1.0, "hour": 13}
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not _DROP}


_DROP = object()


def _records(*records: dict[str, object]) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def _png(size: int, mode: str = "L") -> str:
    buffer = io.BytesIO()
    Image.new(mode, (size, size), 7).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _image(height: int = 28, width: int = 28, value: object = 1) -> list[list[object]]:
    return [[value] * width for _ in range(height)]


@dataclass(frozen=True)
class Case:
    id: str
    model: str
    body: bytes
    status: int
    says: str  # a phrase the reason must contain
    headers: dict[str, str] | None = None


def _deep(levels: int) -> bytes:
    return b'{"images": ' + b"[" * levels + b"1" + b"]" * levels + b"}"


CASES = [
    Case("malformed-json", "power_lgbm", b'{"records": [{"f_0": 1.0,', 400, "not valid JSON"),
    Case("not-utf8", "power_lgbm", b'{"records": "\xff\xfe"}', 400, "not valid JSON"),
    Case("empty-body", "power_lgbm", b"", 400, "empty"),
    Case(
        "wrong-content-type",
        "power_lgbm",
        _records(_record()),
        415,
        "Content-Type",
        {"content-type": "text/plain"},
    ),
    Case("missing-content-type", "power_lgbm", _records(_record()), 415, "Content-Type", {}),
    Case(
        "form-content-type",
        "mnist_cnn",
        b"images=1",
        415,
        "application/json",
        {"content-type": "application/x-www-form-urlencoded"},
    ),
    Case("unknown-model", "no_such_model", _records(_record()), 404, "unknown model"),
    Case("body-over-limit", "power_lgbm", _records(*[_record()] * 8000), 413, "limit"),
    Case(
        "huge-image-array", "mnist_cnn", json.dumps({"images": [_image(2000, 2000)]}).encode(), 413, "limit"
    ),
    Case("too-many-rows", "power_lgbm", _records(*[_record()] * 65), 422, "at most 64"),
    Case("deep-nesting", "mnist_cnn", _deep(5000), 400, "recursion limit"),
    Case("moderate-nesting", "mnist_cnn", _deep(60), 422, "images[0]"),
    Case("json-array-body", "power_lgbm", b"[1, 2, 3]", 422, "body: Input should be an object"),
    Case("string-for-number", "power_lgbm", _records(_record(f_0="1.5")), 422, "records[0].f_0"),
    Case("bool-for-number", "power_lgbm", _records(_record(f_2=True)), 422, "records[0].f_2"),
    Case("float-for-int", "power_lgbm", _records(_record(hour=13.5)), 422, "records[0].hour"),
    Case(
        "nan",
        "power_lgbm",
        b'{"records": [{"f_0": NaN, "f_1": 0, "f_2": 0, "f_3": 0, "f_4": 0, "hour": 1}]}',
        422,
        "finite number",
    ),
    Case(
        "infinity",
        "tick_model",
        b'{"records": [{"f_0": 1, "f_1": -Infinity, "f_2": 0, "f_3": 0, "f_4": 0, "hour": 1}]}',
        422,
        "finite number",
    ),
    Case(
        "overflow-to-inf",
        "power_lgbm",
        _records(_record(f_3=1e308)).replace(b"1e+308", b"1e999"),
        422,
        "finite number",
    ),
    Case("null-required-feature", "power_lgbm", _records(_record(f_1=None)), 422, "records[0].f_1"),
    Case("missing-feature", "power_lgbm", _records(_record(f_4=_DROP)), 422, "Field required"),
    Case("unknown-feature", "power_lgbm", _records(_record(surprise=1.0)), 422, "records[0].surprise"),
    Case(
        "unknown-top-level-field",
        "power_lgbm",
        json.dumps({"records": [_record()], "x": 1}).encode(),
        422,
        "Extra inputs",
    ),
    Case("empty-records", "power_lgbm", _records(), 422, "at least 1"),
    Case("records-not-a-list", "power_lgbm", json.dumps({"records": _record()}).encode(), 422, "valid array"),
    Case("records-for-image-model", "mnist_cnn", _records(_record()), 422, "images: Field required"),
    Case("wrong-image-size", "mnist_cnn", json.dumps({"images": [_image(32, 32)]}).encode(), 422, "28"),
    Case(
        "wrong-channels",
        "mnist_cnn",
        json.dumps({"images": [[[[1, 2, 3]] * 28] * 28]}).encode(),
        422,
        "at most 1",
    ),
    Case(
        "grayscale-for-cifar",
        "cifar10_cnn",
        json.dumps({"images": [_image(32, 32)]}).encode(),
        422,
        "images[0]: not an image of this model's kind",
    ),
    Case(
        "ragged-image",
        "mnist_cnn",
        json.dumps({"images": [[*_image()[:27], [1] * 5]]}).encode(),
        422,
        "images[0][27]",
    ),
    Case(
        "negative-pixel",
        "mnist_cnn",
        json.dumps({"images": [_image(value=-1)]}).encode(),
        422,
        "greater than or equal to 0",
    ),
    Case(
        "pixel-over-255",
        "mnist_cnn",
        json.dumps({"images": [_image(value=256)]}).encode(),
        422,
        "less than or equal to 255",
    ),
    Case(
        "string-pixels",
        "mnist_cnn",
        json.dumps({"images": [_image(value="7")]}).encode(),
        422,
        "valid number",
    ),
    Case("png-wrong-size", "mnist_cnn", json.dumps({"images": [_png(32)]}).encode(), 422, "PNG is 32×32"),
    Case("not-base64", "mnist_cnn", json.dumps({"images": ["%%% not base64 %%%"]}).encode(), 422, "base64"),
    Case(
        "base64-not-png",
        "cifar10_cnn",
        json.dumps({"images": [base64.b64encode(b"GIF89a" + bytes(64)).decode()]}).encode(),
        422,
        "not a readable PNG",
    ),
    Case(
        "number-as-image",
        "mnist_cnn",
        json.dumps({"images": [5]}).encode(),
        422,
        "not an image of this model",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_request_gets_a_clear_4xx(server: RunningServer, case: Case) -> None:
    headers = JSON if case.headers is None else case.headers
    response = server.http.post(f"/v1/models/{case.model}:predict", content=case.body, headers=headers)

    assert response.status_code == case.status, response.text
    detail = response.json()["detail"]
    assert case.says in detail, detail
    assert " object at 0x" not in detail, detail  # no Python internals in what the client reads
    assert server.http.get("/healthz").status_code == 200


def test_wrong_method_is_refused(server: RunningServer) -> None:
    assert server.http.get("/v1/models/power_lgbm:predict").status_code in (404, 405)
    assert server.http.put("/v1/models/power_lgbm:predict", json={}).status_code == 405


def test_server_still_answers_correctly_after_the_hostile_suite(
    server: RunningServer, champions: Champions
) -> None:
    for case in CASES:  # run them all again back to back, then ask a real question
        server.http.post(f"/v1/models/{case.model}:predict", content=case.body, headers=case.headers or JSON)
    record = dict(zip(champions.power.features, champions.power.sample[0].tolist(), strict=True))
    record["hour"] = int(record["hour"])

    response = server.predict("power_lgbm", {"records": [record]})

    assert response.status_code == 200, response.text
    np.testing.assert_allclose(
        response.json()["predictions"], champions.power.booster.predict(champions.power.sample[:1])
    )
    assert server.http.get("/readyz").status_code == 200
    assert server.metric("serving_requests_total", model="power_lgbm", status="422") > 0
    assert server.metric("serving_requests_total", model="_unknown", status="404") > 0
