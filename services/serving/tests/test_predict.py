"""Predictions over HTTP equal the registered model loaded directly with MLflow (pyfunc)."""

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import Champions
from mlflow.tracking import MlflowClient
from PIL import Image
from utils.server import RunningServer

from serving.testing.models import TabularModel


def _records(model: TabularModel, rows: np.ndarray) -> list[dict[str, float | int]]:
    out = []
    for row in rows:
        record: dict[str, float | int] = dict(zip(model.features, row.tolist(), strict=True))
        record["hour"] = int(record["hour"])
        out.append(record)
    return out


def _direct_tabular(name: str, model: TabularModel, rows: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(rows, columns=model.features).astype({"hour": "int64"})
    return np.asarray(mlflow.pyfunc.load_model(f"models:/{name}/1").predict(frame))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _direct_images(name: str, hwc_pixels: np.ndarray) -> np.ndarray:
    nchw = (hwc_pixels.astype(np.float32) / 255.0).transpose(0, 3, 1, 2)
    out = mlflow.pyfunc.load_model(f"models:/{name}/1").predict({"images": np.ascontiguousarray(nchw)})
    return _softmax(np.asarray(out["logits"], dtype=np.float64))


def _png(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels)
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_power_predictions_equal_the_model_loaded_directly(
    server: RunningServer, champions: Champions
) -> None:
    rows = champions.power.sample[:10]
    expected = _direct_tabular("power_lgbm", champions.power, rows)

    many = server.predict("power_lgbm", {"records": _records(champions.power, rows)})
    single = server.predict("power_lgbm", {"records": _records(champions.power, rows[:1])})

    assert many.status_code == 200, many.text
    body = many.json()
    assert (body["model"], body["version"]) == ("power_lgbm", "1")
    np.testing.assert_allclose(body["predictions"], expected, rtol=1e-12)
    np.testing.assert_allclose(single.json()["predictions"], expected[:1], rtol=1e-12)


def test_tick_returns_up_move_probability_and_class(server: RunningServer, champions: Champions) -> None:
    rows = champions.tick.sample[:20]
    expected = _direct_tabular("tick_model", champions.tick, rows)

    response = server.predict("tick_model", {"records": _records(champions.tick, rows)})

    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    np.testing.assert_allclose([p["probability"] for p in predictions], expected, rtol=1e-12)
    assert [p["class"] for p in predictions] == [int(p >= 0.5) for p in expected]
    assert 0 < sum(p["class"] for p in predictions) < len(predictions)


@pytest.mark.parametrize(("name", "channels", "size"), [("mnist_cnn", 1, 28), ("cifar10_cnn", 3, 32)])
def test_cnn_predictions_equal_the_model_loaded_directly(
    server: RunningServer, champions: Champions, name: str, channels: int, size: int
) -> None:
    pixels = np.random.default_rng(7).integers(0, 256, size=(4, size, size, channels), dtype=np.uint8)
    expected = _direct_images(name, pixels)

    arrays = [p.tolist() if channels == 3 else p.squeeze(-1).tolist() for p in pixels]
    as_arrays = server.predict(name, {"images": arrays})
    as_png = server.predict(name, {"images": [_png(p) for p in pixels]})

    assert as_arrays.status_code == 200, as_arrays.text
    assert as_png.status_code == 200, as_png.text
    for response in (as_arrays, as_png):
        predictions = response.json()["predictions"]
        np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, atol=1e-6)
        assert [p["class"] for p in predictions] == expected.argmax(axis=1).tolist()


def test_mnist_accepts_height_width_one_arrays(server: RunningServer) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, size=(28, 28, 1)).tolist()
    with_channel = server.predict("mnist_cnn", {"images": [pixels]})
    without = server.predict("mnist_cnn", {"images": [np.asarray(pixels).squeeze(-1).tolist()]})
    assert with_channel.status_code == 200, with_channel.text
    assert with_channel.json()["predictions"] == without.json()["predictions"]


def test_models_endpoint_names_the_served_version_and_run(
    server: RunningServer, client: MlflowClient, champions: Champions
) -> None:
    listed = {m["name"]: m for m in server.http.get("/v1/models").json()["models"]}

    assert set(listed) == {"power_lgbm", "tick_model", "mnist_cnn", "cifar10_cnn"}
    for name, model in listed.items():
        registered = client.get_model_version(name, "1")
        assert (model["status"], model["version"], model["run_id"]) == ("ready", "1", registered.run_id)
    assert listed["power_lgbm"]["runtime"] == "lightgbm"
    assert listed["mnist_cnn"]["runtime"] == "onnxruntime"
    assert listed["power_lgbm"]["input"]["columns"][-1] == {"name": "hour", "type": "int", "required": True}
    # The advertised example is a request the server accepts.
    for name, model in listed.items():
        assert server.predict(name, model["example_request"]).status_code == 200


def test_concurrent_requests_are_batched_without_mixing_rows(
    client: MlflowClient, champions: Champions
) -> None:
    rows = champions.power.sample[:48]
    expected = _direct_tabular("power_lgbm", champions.power, rows)
    records = _records(champions.power, rows)

    with RunningServer(client, models=["power_lgbm"], max_wait_ms=50, max_batch_size=16) as running:
        running.wait_ready()
        batches_before = running.metric("serving_batch_size_rows_count", model="power_lgbm")
        with ThreadPoolExecutor(max_workers=24) as pool:
            responses = list(pool.map(lambda r: running.predict("power_lgbm", {"records": [r]}), records))
        batches = running.metric("serving_batch_size_rows_count", model="power_lgbm") - batches_before
        largest = running.metric(
            "serving_batch_size_rows_bucket", model="power_lgbm", le="16.0"
        ) - running.metric("serving_batch_size_rows_bucket", model="power_lgbm", le="1.0")

    assert [r.status_code for r in responses] == [200] * len(rows)
    np.testing.assert_allclose([r.json()["predictions"][0] for r in responses], expected, rtol=1e-12)
    assert batches < len(rows)  # several requests shared a model call
    assert largest > 0
