"""Contracts from signatures, and request decoding, without a server."""

import base64
import io

import numpy as np
import orjson
import pytest
from mlflow.types.schema import ColSpec, Schema, TensorSpec
from PIL import Image

from serving.contracts import (
    Column,
    ColumnKind,
    ImageContract,
    TabularContract,
    image_contract,
    tabular_contract,
)
from serving.decoding import ImagesDecoder, RecordsDecoder
from serving.errors import ModelLoadError, RequestRejected


def test_columns_follow_the_booster_order_and_types() -> None:
    schema = Schema(
        [ColSpec("long", "hour"), ColSpec("double", "load"), ColSpec("boolean", "holiday", required=False)]
    )
    contract = tabular_contract(schema, ["load", "holiday", "hour"])
    assert contract.columns == (
        Column("load", ColumnKind.FLOAT),
        Column("holiday", ColumnKind.BOOL, required=False),
        Column("hour", ColumnKind.INT),
    )


@pytest.mark.parametrize(
    ("schema", "features", "says"),
    [
        (Schema([ColSpec("double", "a")]), ["a", "b"], "missing ['b']"),
        (Schema([ColSpec("double", "a"), ColSpec("double", "z")]), ["a"], "unknown ['z']"),
        (Schema([ColSpec("string", "a")]), ["a"], "numeric columns"),
        (Schema([TensorSpec(np.dtype("float32"), (-1, 3))]), ["a"], "tensor signature"),
    ],
)
def test_signatures_that_cannot_be_served_are_refused_at_load(
    schema: Schema, features: list[str], says: str
) -> None:
    with pytest.raises(ModelLoadError, match=says.replace("[", r"\[").replace("]", r"\]")):
        tabular_contract(schema, features)


def test_image_contract_from_signature_and_graph() -> None:
    schema = Schema([TensorSpec(np.dtype("float32"), (-1, 3, 32, 32), "images")])
    assert image_contract(schema, ("images", ["N", 3, 32, 32])) == ImageContract("images", 3, 32, 32)
    assert image_contract(None, ("x", ["batch", 1, 28, 28])) == ImageContract("x", 1, 28, 28)
    with pytest.raises(ModelLoadError, match="channels"):
        image_contract(None, ("x", ["N", 4, 28, 28]))
    with pytest.raises(ModelLoadError, match="not the ONNX graph's input"):
        image_contract(schema, ("pixels", ["N", 3, 32, 32]))


def test_optional_columns_may_be_null_or_absent_and_become_nan() -> None:
    contract = TabularContract((Column("a", ColumnKind.FLOAT), Column("b", ColumnKind.FLOAT, required=False)))
    decoder = RecordsDecoder(contract, max_rows=4)
    decoded = decoder.decode(b'{"records": [{"a": 1, "b": null}, {"a": 2}, {"a": 3, "b": 4.5}]}')
    np.testing.assert_array_equal(decoded.inputs, [[1, np.nan], [2, np.nan], [3, 4.5]])
    assert decoded.rows == 3


def test_rejections_name_the_field_and_explain_the_contract() -> None:
    decoder = RecordsDecoder(TabularContract((Column("load", ColumnKind.FLOAT),)), max_rows=2)
    with pytest.raises(RequestRejected) as caught:
        decoder.decode(b'{"records": [{"load": "high"}]}')
    assert caught.value.status == 422
    assert caught.value.detail.startswith("records[0].load: Input should be a valid number")
    assert "features load" in caught.value.detail
    assert caught.value.errors == [{"loc": "records[0].load", "msg": "Input should be a valid number"}]


def _png(pixels: np.ndarray, mode: str) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode=mode).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_png_and_array_decode_to_the_same_nchw_tensor() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    decoder = ImagesDecoder(ImageContract("images", 3, 32, 32), max_rows=4)

    decoded = decoder.decode(orjson.dumps({"images": [rgb.tolist(), _png(rgb, "RGB")]}))

    assert decoded.inputs.shape == (2, 3, 32, 32) and decoded.inputs.dtype == np.float32
    np.testing.assert_array_equal(decoded.inputs[0], decoded.inputs[1])
    np.testing.assert_allclose(decoded.inputs[0], rgb.transpose(2, 0, 1) / 255.0, rtol=1e-6)


def test_color_png_for_a_grayscale_model_is_converted() -> None:
    rgb = np.full((28, 28, 3), 90, dtype=np.uint8)
    decoder = ImagesDecoder(ImageContract("images", 1, 28, 28), max_rows=1)
    decoded = decoder.decode(orjson.dumps({"images": [_png(rgb, "RGB")]}))
    np.testing.assert_allclose(decoded.inputs, np.full((1, 1, 28, 28), 90 / 255.0), rtol=1e-6)
