"""The Open Inference Protocol (V2) with a real V2 client (tritonclient): same answers as /v1."""

from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as triton
from conftest import Champions
from tritonclient.utils import InferenceServerException
from utils.server import RunningServer

from serving.testing.models import TabularModel


@pytest.fixture(scope="module")
def v2(server: RunningServer) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url=server.url.removeprefix("http://"), network_timeout=30)
    yield client
    client.close()


def _records(model: TabularModel, rows: np.ndarray) -> list[dict[str, float | int]]:
    records = [dict(zip(model.features, row.tolist(), strict=True)) for row in rows]
    for record in records:
        record["hour"] = int(record["hour"])
    return records


def _column_inputs(model: TabularModel, rows: np.ndarray, binary: bool) -> list[triton.InferInput]:
    inputs = []
    for i, name in enumerate(model.features):
        values = rows[:, i].astype(np.int64) if name == "hour" else rows[:, i].astype(np.float64)
        tensor = triton.InferInput(name, [len(rows)], "INT64" if name == "hour" else "FP64")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_health_server_and_model_metadata(server: RunningServer, v2: triton.InferenceServerClient) -> None:
    assert v2.is_server_live() and v2.is_server_ready()
    assert v2.is_model_ready("power_lgbm") and v2.is_model_ready("mnist_cnn", "1")
    assert not v2.is_model_ready("mnist_cnn", "2")
    assert "binary_tensor_data" in v2.get_server_metadata()["extensions"]

    power = v2.get_model_metadata("power_lgbm")
    assert power["versions"] == ["1"] and power["platform"] == "lightgbm"
    assert power["inputs"][-1] == {"name": "hour", "datatype": "INT64", "shape": [-1]}
    assert {i["datatype"] for i in power["inputs"][:-1]} == {"FP64"}
    assert power["outputs"] == [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
    assert power["parameters"]["feature_order"].split(",") == [i["name"] for i in power["inputs"]]
    mnist = v2.get_model_metadata("mnist_cnn", "1")
    assert mnist["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 1, 28, 28]}]
    assert [o["name"] for o in mnist["outputs"]] == ["probabilities", "class"]
    assert mnist["outputs"][0]["shape"] == [-1, 10]
    tick = v2.get_model_metadata("tick_model")
    assert [(o["name"], o["datatype"]) for o in tick["outputs"]] == [
        ("probability", "FP64"),
        ("class", "INT64"),
    ]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_power_per_column_inputs_equal_v1(
    server: RunningServer, v2: triton.InferenceServerClient, champions: Champions, binary: bool
) -> None:
    rows = champions.power.sample[:12]
    expected = server.predict("power_lgbm", {"records": _records(champions.power, rows)}).json()[
        "predictions"
    ]

    result = v2.infer(
        "power_lgbm",
        _column_inputs(champions.power, rows, binary),
        outputs=[triton.InferRequestedOutput("prediction", binary_data=binary)],
        request_id="r-1",
    )

    assert result.get_response()["model_version"] == "1" and result.get_response()["id"] == "r-1"
    np.testing.assert_array_equal(result.as_numpy("prediction"), expected)


def test_power_feature_tensor_equals_v1(
    server: RunningServer, v2: triton.InferenceServerClient, champions: Champions
) -> None:
    rows = champions.power.sample[:5]
    expected = server.predict("power_lgbm", {"records": _records(champions.power, rows)}).json()[
        "predictions"
    ]
    tensor = triton.InferInput("features", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows.astype(np.float64))  # binary by default, outputs too

    result = v2.infer("power_lgbm", [tensor], model_version="1")

    np.testing.assert_array_equal(result.as_numpy("prediction"), expected)


def test_tick_probability_and_class_equal_v1(
    server: RunningServer, v2: triton.InferenceServerClient, champions: Champions
) -> None:
    rows = champions.tick.sample[:20]
    expected = server.predict("tick_model", {"records": _records(champions.tick, rows)}).json()["predictions"]

    result = v2.infer("tick_model", _column_inputs(champions.tick, rows, binary=False))

    np.testing.assert_array_equal(result.as_numpy("probability"), [p["probability"] for p in expected])
    np.testing.assert_array_equal(result.as_numpy("class"), [p["class"] for p in expected])


@pytest.mark.parametrize(("name", "channels", "size"), [("mnist_cnn", 1, 28), ("cifar10_cnn", 3, 32)])
def test_cnn_uint8_and_fp32_layouts_equal_v1(
    server: RunningServer, v2: triton.InferenceServerClient, name: str, channels: int, size: int
) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, size=(3, size, size, channels), dtype=np.uint8)
    v1 = server.predict(name, {"images": [p.tolist() for p in pixels]}).json()["predictions"]
    expected = np.asarray([p["probabilities"] for p in v1])

    nhwc_uint8 = triton.InferInput("images", list(pixels.shape), "UINT8")
    nhwc_uint8.set_data_from_numpy(pixels)
    nchw = pixels.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1 / 255)
    nchw_fp32 = triton.InferInput("images", list(nchw.shape), "FP32")
    nchw_fp32.set_data_from_numpy(nchw, binary_data=False)
    answers = [v2.infer(name, [tensor]) for tensor in (nhwc_uint8, nchw_fp32)]

    for result in answers:
        np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=0, atol=1e-12)
        assert result.as_numpy("class").tolist() == [p["class"] for p in v1]
        assert result.as_numpy("probabilities").shape == (3, 10)


def test_only_the_requested_outputs_come_back(v2: triton.InferenceServerClient) -> None:
    pixels = np.zeros((2, 28, 28, 1), dtype=np.uint8)
    tensor = triton.InferInput("images", list(pixels.shape), "UINT8")
    tensor.set_data_from_numpy(pixels, binary_data=False)

    result = v2.infer(
        "mnist_cnn", [tensor], outputs=[triton.InferRequestedOutput("class", binary_data=False)]
    )

    assert [o["name"] for o in result.get_response()["outputs"]] == ["class"]
    assert result.get_response()["outputs"][0]["datatype"] == "INT64"
    assert result.as_numpy("probabilities") is None


def test_a_version_that_is_not_served_is_404(server: RunningServer, v2: triton.InferenceServerClient) -> None:
    tensor = triton.InferInput("images", [1, 28, 28, 1], "UINT8")
    tensor.set_data_from_numpy(np.zeros((1, 28, 28, 1), dtype=np.uint8))

    with pytest.raises(InferenceServerException, match="serves version 1") as raised:
        v2.infer("mnist_cnn", [tensor], model_version="2")
    with pytest.raises(InferenceServerException, match="unknown model"):
        v2.get_model_metadata("no_such_model")

    assert raised.value.status() == "404"
    response = server.http.get("/v2/models/mnist_cnn/versions/7")
    assert response.status_code == 404 and "error" in response.json()
