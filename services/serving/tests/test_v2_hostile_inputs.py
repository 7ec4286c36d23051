"""Malformed V2 requests: a 4xx with the protocol's `{"error": ...}`, nothing reaches the model."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from utils.server import RunningServer

FEATURES = ["f_0", "f_1", "f_2", "f_3", "f_4", "hour"]


def _column(name: str, values: list[object], datatype: str | None = None) -> dict[str, object]:
    return {
        "name": name,
        "shape": [len(values)],
        "datatype": datatype or ("INT64" if name == "hour" else "FP64"),
        "data": values,
    }


def _power(*, drop: str | None = None, **overrides: dict[str, object]) -> dict[str, object]:
    inputs = {name: _column(name, [1] if name == "hour" else [0.5]) for name in FEATURES}
    inputs.update(overrides)
    return {"inputs": [tensor for name, tensor in inputs.items() if name != drop]}


def _image(shape: list[int], datatype: str = "UINT8", value: object = 0, name: str = "images") -> dict:
    return {
        "inputs": [
            {"name": name, "shape": shape, "datatype": datatype, "data": [value] * int(np.prod(shape))}
        ]
    }


def _body(document: object) -> bytes:
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Case:
    id: str
    model: str
    body: bytes
    status: int
    says: str
    headers: dict[str, str] | None = None


def _binary_case(id: str, declared_size: int, payload: bytes, says: str) -> Case:
    """An MNIST image in the binary tensor extension, declaring `declared_size` bytes, sending `payload`."""
    tensor = {"name": "images", "shape": [1, 28, 28, 1], "datatype": "UINT8"}
    header = _body({"inputs": [{**tensor, "parameters": {"binary_data_size": declared_size}}]})
    return Case(
        id, "mnist_cnn", header + payload, 400, says, {"inference-header-content-length": str(len(header))}
    )


_FEATURE_TENSOR = {"name": "features", "shape": [1, 6], "datatype": "FP64"}
CASES = [
    Case("not-json", "power_lgbm", b'{"inputs": [', 400, "not valid JSON"),
    Case("empty-body", "power_lgbm", b"", 400, "empty"),
    Case("array-body", "power_lgbm", b"[1]", 400, "Input should be an object"),
    Case("no-inputs", "power_lgbm", _body({"inputs": []}), 400, "at least 1"),
    Case("unknown-field", "power_lgbm", _body({**_power(), "extra": 1}), 400, "extra: Extra inputs"),
    Case(
        "unknown-datatype",
        "power_lgbm",
        _body(_power(f_0=_column("f_0", [1.0], "FP128"))),
        400,
        "datatype must be one of",
    ),
    Case(
        "bytes-datatype",
        "power_lgbm",
        _body(_power(f_0=_column("f_0", ["a"], "BYTES"))),
        400,
        "datatype must be one of",
    ),
    Case(
        "string-for-number",
        "power_lgbm",
        _body(_power(f_0=_column("f_0", ["1.5"]))),
        400,
        "inputs[0].data[0]: Input should be a valid number",
    ),
    Case("bool-for-number", "power_lgbm", _body(_power(f_0=_column("f_0", [True]))), 400, "valid number"),
    Case(
        "nan",
        "power_lgbm",
        b'{"inputs": [{"name": "f_0", "shape": [1], "datatype": "FP64", "data": [NaN]}]}',
        400,
        "finite number",
    ),
    Case("fp32-overflow", "power_lgbm", _body(_power(f_0=_column("f_0", [1e300], "FP32"))), 400, "finite"),
    Case(
        "int8-out-of-range",
        "power_lgbm",
        _body(_power(hour=_column("hour", [300], "INT8"))),
        400,
        "less than or equal to 127",
    ),
    Case(
        "float-for-int-column",
        "power_lgbm",
        _body(_power(hour=_column("hour", [1.5], "FP64"))),
        400,
        "this column takes INT8",
    ),
    Case("missing-column", "power_lgbm", _body(_power(drop="f_3")), 400, "missing required inputs: f_3"),
    Case(
        "unknown-column",
        "power_lgbm",
        _body(_power(surprise=_column("surprise", [1.0]))),
        400,
        "unknown inputs ['surprise']",
    ),
    Case(
        "duplicate-input",
        "power_lgbm",
        _body({"inputs": _power()["inputs"] + [_column("f_0", [1.0])]}),
        400,
        "unique",
    ),
    Case(
        "row-counts-differ",
        "power_lgbm",
        _body(_power(f_1=_column("f_1", [1.0, 2.0]))),
        400,
        "2 rows; other inputs have 1",
    ),
    Case(
        "shape-data-mismatch",
        "power_lgbm",
        _body(_power(f_0={**_column("f_0", [1.0]), "shape": [3]})),
        400,
        "needs 3 values, data has 1",
    ),
    Case(
        "ragged-data",
        "power_lgbm",
        _body({"inputs": [{**_FEATURE_TENSOR, "data": [[1, 2], [3]]}]}),
        400,
        "ragged",
    ),
    Case(
        "data-not-a-list",
        "power_lgbm",
        _body({"inputs": [{**_FEATURE_TENSOR, "data": 5}]}),
        400,
        "data must be a list",
    ),
    Case(
        "too-deep",
        "mnist_cnn",
        b'{"inputs": [{"name": "images", "shape": [1], "datatype": "UINT8", "data": '
        + b"[" * 5000
        + b"1"
        + b"]" * 5000
        + b"}]}",
        400,
        "not valid JSON",
    ),
    Case(
        "feature-tensor-wrong-width",
        "power_lgbm",
        _body({"inputs": [{**_FEATURE_TENSOR, "shape": [1, 5], "data": [0.0] * 5}]}),
        400,
        "expected [N, 6]",
    ),
    Case(
        "feature-tensor-nan-required",
        "power_lgbm",
        b'{"inputs": [{"name": "features", "shape": [1, 6], "datatype": "FP64", "data": [NaN, 0, 0, 0, 0, 1]}]}',
        400,
        "finite",
    ),
    Case(
        "feature-tensor-fractional-hour",
        "power_lgbm",
        _body({"inputs": [{**_FEATURE_TENSOR, "data": [0, 0, 0, 0, 0, 1.5]}]}),
        400,
        "whole numbers",
    ),
    Case(
        "too-many-rows",
        "power_lgbm",
        _body({"inputs": [{**_FEATURE_TENSOR, "shape": [65, 6], "data": [0.0] * 390}]}),
        400,
        "1..64",
    ),
    Case("zero-rows", "mnist_cnn", _body(_image([0, 28, 28, 1])), 400, "0 rows"),
    Case(
        "unknown-output",
        "power_lgbm",
        _body({**_power(), "outputs": [{"name": "logits"}]}),
        400,
        "unknown output 'logits'",
    ),
    Case(
        "binary-flag-not-bool",
        "power_lgbm",
        _body({**_power(), "parameters": {"binary_data_output": "yes"}}),
        400,
        "must be true or false",
    ),
    Case(
        "wrong-image-name",
        "mnist_cnn",
        _body(_image([1, 28, 28, 1], name="pixels")),
        400,
        "one input named 'images'",
    ),
    Case("wrong-image-size", "mnist_cnn", _body(_image([1, 32, 32, 1])), 400, "expected [N, 1, 28, 28]"),
    Case("grayscale-for-cifar", "cifar10_cnn", _body(_image([1, 1, 32, 32])), 400, "[N, 3, 32, 32]"),
    Case("fp32-pixels-over-one", "mnist_cnn", _body(_image([1, 1, 28, 28], "FP32", 2.0)), 400, "[0, 1]"),
    Case("int64-pixels", "mnist_cnn", _body(_image([1, 1, 28, 28], "INT64", 1)), 400, "FP32 or UINT8"),
    Case(
        "uint8-over-255",
        "mnist_cnn",
        _body(_image([1, 1, 28, 28], "UINT8", 256)),
        400,
        "less than or equal to 255",
    ),
    _binary_case("binary-size-wrong", 10, bytes(10), "binary_data_size must be 784"),
    _binary_case("binary-short", 784, bytes(10), "binary data ends after 10"),
    Case(
        "binary-leftover",
        "power_lgbm",
        _body(_power()) + bytes(8),
        400,
        "belong to no input",
        {"inference-header-content-length": str(len(_body(_power())))},
    ),
    Case(
        "header-length-too-long",
        "power_lgbm",
        _body(_power()),
        400,
        "Inference-Header-Content-Length",
        {"inference-header-content-length": "99999"},
    ),
    Case(
        "header-length-not-a-number",
        "power_lgbm",
        _body(_power()),
        400,
        "Inference-Header-Content-Length",
        {"inference-header-content-length": "-1"},
    ),
    Case(
        "no-data",
        "mnist_cnn",
        _body({"inputs": [{"name": "images", "shape": [1, 28, 28, 1], "datatype": "UINT8"}]}),
        400,
        "has no data",
    ),
    Case(
        "form-content-type",
        "power_lgbm",
        _body(_power()),
        415,
        "Content-Type",
        {"content-type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "gzip-encoding", "power_lgbm", _body(_power()), 415, "Content-Encoding", {"content-encoding": "gzip"}
    ),
    Case("body-over-limit", "power_lgbm", _body(_power()) + b" " * (600 * 1024), 413, "limit"),
    Case("unknown-model", "no_such_model", _body(_power()), 404, "unknown model"),
]


def _batches(server: RunningServer) -> float:
    return server.metric("serving_batch_size_rows_count")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_v2_request_gets_a_clear_4xx_and_never_reaches_the_model(
    server: RunningServer, case: Case
) -> None:
    batches = _batches(server)
    headers = {"content-type": "application/json", **(case.headers or {})}

    response = server.http.post(f"/v2/models/{case.model}/infer", content=case.body, headers=headers)

    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert isinstance(error, str) and case.says in error, error
    assert " object at 0x" not in error, error  # no Python internals in what the client reads
    assert _batches(server) == batches  # no model call ran
    assert server.http.get("/v2/health/ready").status_code == 200


def test_the_valid_base_requests_are_answered(server: RunningServer) -> None:
    """The cases above differ from these answered requests only in what each one breaks."""
    batches = _batches(server)
    binary = _binary_case("binary", 784, bytes(784), "")
    answers = [
        server.http.post("/v2/models/power_lgbm/infer", content=_body(_power())),
        server.http.post("/v2/models/mnist_cnn/infer", content=binary.body, headers=binary.headers),
        server.http.post("/v2/models/mnist_cnn/infer", content=_body(_image([1, 28, 28, 1]))),
        server.http.post("/v2/models/cifar10_cnn/infer", content=_body(_image([1, 32, 32, 3], "FP32", 0.5))),
        server.http.post(
            "/v2/models/power_lgbm/infer",
            content=_body({"inputs": [{**_FEATURE_TENSOR, "data": [0, 0, 0, 0, 0, 1.0]}]}),
        ),
    ]
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    assert answers[0].json()["outputs"][0]["shape"] == [1]
    assert _batches(server) >= batches + len(answers)
