"""Contracts from signatures, and request decoding, without a server."""

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import hypothesis
import hypothesis.strategies as st
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
from serving.decoding import DecodedRequest, Decoder, ImagesDecoder, RecordsDecoder
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


@pytest.mark.parametrize("hour", [2**63, -(2**63) - 1, 10**400], ids=["2**63", "-2**63-1", "10**400"])
def test_integer_features_beyond_int64_are_rejected_not_a_server_error(hour: int) -> None:
    # An MLflow `long` column: a larger value is no such integer (10**400 once failed the float64
    # conversion after validation: a 500). Short bodies take pydantic's path, long ones the fast path.
    contract = TabularContract((Column("load", ColumnKind.FLOAT), Column("hour", ColumnKind.INT)))
    decoder = RecordsDecoder(contract, max_rows=200)
    for rows in (1, 200):
        body = json.dumps(
            {"records": [{"load": 1.5, "hour": 3}] * (rows - 1) + [{"load": 1.5, "hour": hour}]}
        )
        with pytest.raises(RequestRejected) as rejected:
            decoder.decode(body.encode())
        assert rejected.value.status == 422
        assert rejected.value.errors[0]["loc"] == f"records[{rows - 1}].hour"
    limit = json.dumps({"records": [{"load": 1.5, "hour": 2**63 - 1}, {"load": 1.5, "hour": -(2**63)}]})
    assert decoder.decode(limit.encode()).inputs[:, 1].tolist() == [2.0**63, -(2.0**63)]


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


# --- the fast path (orjson + numpy) against the pydantic path --------------------------------------
#
# For any body, `decode` must answer exactly as `decode_pydantic` does: the same array (dtype, shape,
# bytes) and records, or the same rejection (status, message, errors). Bodies are generated as JSON
# text, so they can hold what no serializer writes: NaN, duplicate keys, huge integers, broken syntax.

_DECODERS: dict[str, Decoder] = {
    "records": RecordsDecoder(
        TabularContract(
            (
                Column("load", ColumnKind.FLOAT),
                Column("hour", ColumnKind.INT),
                Column("holiday", ColumnKind.BOOL, required=False),
                Column("temp", ColumnKind.FLOAT, required=False),
            )
        ),
        max_rows=3,
    ),
    "all-required": RecordsDecoder(
        TabularContract(
            (
                Column("a", ColumnKind.FLOAT),
                Column("b", ColumnKind.FLOAT),
                Column("hour", ColumnKind.INT),
                Column("flag", ColumnKind.BOOL),
            )
        ),
        max_rows=3,
    ),
    "one-column": RecordsDecoder(TabularContract((Column("x", ColumnKind.FLOAT),)), max_rows=2),
    "gray": ImagesDecoder(ImageContract("images", 1, 3, 2), max_rows=3),
    "rgb": ImagesDecoder(ImageContract("images", 3, 2, 2), max_rows=2),
}

_HUGE_INTS = [2**53 + 1, 2**63 - 1, 2**63, 2**63 + 1025, 2**64 - 1, 2**64, -(2**63) - 1, 10**30 + 1, 10**400]
_INT_TEXT = st.one_of(st.integers(-300, 300), st.integers(-(2**70), 2**70), st.sampled_from(_HUGE_INTS))
_INT_TEXT = _INT_TEXT.map(str)
_DECIMAL_TEXT = st.builds(
    "{}{}.{}{}".format,
    st.sampled_from(["", "-"]),
    st.integers(0, 10**20),
    st.text("0123456789", min_size=1, max_size=30),
    st.one_of(st.just(""), st.integers(-340, 340).map("e{}".format), st.integers(0, 9).map("E+{}".format)),
)
_FLOAT_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    _DECIMAL_TEXT,
    st.sampled_from(["-0", "-0.0", "0.0", "1e400", "-1e400", "1e-400", "2.5e2", "1E2", "0.1e1"]),
)
_NOT_A_NUMBER = st.sampled_from(
    ["true", "false", "null", "NaN", "Infinity", "-Infinity", '"1.5"', '""', "[]", "[1]", "{}", '{"a": 1}']
)
_NOT_JSON_NUMBERS = st.sampled_from(["01", "1.", ".5", "+1", "0x10", "1e", "--1"])
_ANY_VALUE = st.one_of(_INT_TEXT, _FLOAT_TEXT, _NOT_A_NUMBER, _NOT_JSON_NUMBERS)
_INT_PIXEL = st.integers(0, 255).map(str)  # what clients send most: their uint8 arrays as lists
_PIXEL = st.one_of(
    _INT_PIXEL,
    st.floats(0, 255).map(repr),
    st.sampled_from(["-0.0", "0e5", "1e-400", "255.0", "254.99999999999999999", "2.55e2"]),
)
_BAD_PIXEL = st.one_of(_ANY_VALUE, st.sampled_from(["-1", "256", "255.0000001", "-1e-300", "1e3"]))


def _rarely(draw: st.DrawFn, clean: bool) -> bool:
    """True about one time in eight; never for a clean body."""
    return not clean and draw(st.integers(0, 7)) == 0


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f'"{key}": {value}' for key, value in pairs) + "}"


@st.composite
def _record(draw: st.DrawFn, contract: TabularContract, clean: bool) -> str:
    pairs = []
    for column in contract.columns:
        if _rarely(draw, clean) or (not column.required and draw(st.booleans())):
            continue  # a required column missing, or an optional one left out
        if _rarely(draw, clean):
            value = draw(_ANY_VALUE)
        elif not column.required and draw(st.integers(0, 4)) == 0:
            value = "null"
        elif column.kind is ColumnKind.FLOAT:
            value = draw(st.one_of(_FLOAT_TEXT, st.integers(-(2**64), 2**64).map(str)))
        elif column.kind is ColumnKind.INT:
            value = draw(st.integers(-(2**63), 2**64 - 1).map(str))
        else:
            value = draw(st.sampled_from(["true", "false"]))
        pairs.append((column.name, value))
    if _rarely(draw, clean):  # an unknown key, or a duplicate one
        pairs.append((draw(st.sampled_from(["extra", *contract.names])), draw(_ANY_VALUE)))
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    return _object(pairs)


@st.composite
def _image(draw: st.DrawFn, contract: ImageContract, clean: bool, hwc: bool, ints: bool) -> str:
    c, h, w = contract.channels, contract.height, contract.width
    if _rarely(draw, clean):  # a PNG (the pydantic path's), or not an image at all
        png = _png(np.full((h, w, 3), 7, np.uint8), "RGB")
        return draw(st.sampled_from([f'"{png}"', '"x"', "1", "null", "true", "[]", "[[]]", "{}"]))
    hwc = hwc != _rarely(draw, clean)  # sometimes the other form (grayscale) or depth

    def sized(length: int) -> int:
        return draw(st.integers(0, length + 1)) if _rarely(draw, clean) else length

    def value() -> str:
        return draw(_BAD_PIXEL if _rarely(draw, clean) else _INT_PIXEL if ints else _PIXEL)

    def pixel() -> str:
        return "[" + ",".join(value() for _ in range(sized(c))) + "]" if hwc else value()

    return (
        "[" + ",".join("[" + ",".join(pixel() for _ in range(sized(w))) + "]" for _ in range(sized(h))) + "]"
    )


@st.composite
def _body(draw: st.DrawFn, decoder: Decoder, clean: bool | None = None) -> bytes:
    clean = draw(st.booleans()) if clean is None else clean
    if isinstance(decoder, RecordsDecoder):
        key, item = "records", _record(decoder.contract, clean)
    else:
        hwc = decoder.contract.channels > 1 or draw(st.booleans())
        key, item = "images", _image(decoder.contract, clean, hwc, ints=draw(st.booleans()))
    most = decoder._max_rows
    items = draw(st.lists(item, min_size=1 if clean else 0, max_size=most if clean else most + 2))
    text = _object([(key, "[" + ", ".join(items) + "]")])
    if clean:
        return text.encode()
    mangled = [
        text[:-1] + ', "extra": 1}',  # an unknown top-level key
        f'{{"{key}": "first", ' + text[1:],  # duplicate keys: the last one wins
        text[:-1] + f', "{key}": 5}}',
        f'{{"{key}": [' + text + "]}",  # one level too deep
        f'{{"{key}": ' + (items[0] if items else "{}") + "}",  # an item, not a list
        "[" + text + "]",
        text[: len(text) // 2],  # not JSON
        text + " x",
        " \n" + text + "\t",
        "\ufeff" + text,
    ]
    return draw(st.sampled_from([text, text, *mangled])).encode()


def _outcome(decode: Callable[[bytes], DecodedRequest], body: bytes) -> tuple[Any, ...]:
    try:
        decoded = decode(body)
    except RequestRejected as exc:
        return ("rejected", exc.status, exc.detail, exc.errors)
    except Exception as exc:  # where the pydantic path itself fails, both must fail alike
        return ("raised", type(exc).__name__, str(exc))
    inputs = decoded.inputs
    records = repr(decoded.records)  # tells 1 from 1.0 and True, -0.0 from 0.0, and key orders apart
    return (
        "decoded",
        inputs.dtype.str,
        inputs.shape,
        inputs.flags.c_contiguous,
        inputs.tobytes(),
        decoded.rows,
        records,
    )


def _fast_first(decoder: Decoder) -> Callable[[bytes], DecodedRequest]:
    """`decode` without the records' size threshold: the fast path wherever it accepts."""

    def decode(body: bytes) -> DecodedRequest:
        decoded = decoder._decode_fast(body)
        return decoded if decoded is not None else decoder.decode_pydantic(body)

    return decode


_SETTINGS = hypothesis.settings(deadline=None, derandomize=True, database=None)


@pytest.mark.parametrize("name", list(_DECODERS))
def test_fast_path_answers_every_generated_body_as_pydantic_does(name: str) -> None:
    decoder = _DECODERS[name]

    @hypothesis.given(body=_body(decoder))
    @hypothesis.settings(_SETTINGS, max_examples=1000)
    def check(body: bytes) -> None:
        expected = _outcome(decoder.decode_pydantic, body)
        assert _outcome(_fast_first(decoder), body) == expected
        assert _outcome(decoder.decode, body) == expected

    check()


@pytest.mark.parametrize("name", list(_DECODERS))
def test_fast_path_takes_well_formed_bodies(name: str) -> None:
    """Keys in any order, optional ones absent or null, ints for floats, -0.0, 1e-400: no fallback."""
    decoder = _DECODERS[name]

    @hypothesis.given(body=_body(decoder, clean=True))
    @hypothesis.settings(_SETTINGS, max_examples=300)
    def check(body: bytes) -> None:
        hypothesis.assume(_outcome(decoder.decode_pydantic, body)[0] == "decoded")  # not 1e400, say
        assert decoder._decode_fast(body) is not None

    check()


_EXPLICIT = [
    ("records", b'{"records": [{"load": 1, "hour": 2}]}', True),
    ("records", b'{"records": [{"hour": 2, "temp": null, "load": -0.0}]}', True),
    ("records", b'{"records": [{"load": "x", "load": 1.5, "hour": 2}]}', True),  # the last key wins
    ("records", b'{"records": [{"load": 1.5, "load": "x", "hour": 2}]}', False),
    ("records", b'{"records": [], "records": [{"load": 1.5, "hour": 2}]}', True),
    ("records", b'{"records": [{"load": 1.5, "hour": 2}], "records": []}', False),
    ("records", b'{"records": [{"load": true, "hour": 2}]}', False),
    ("records", b'{"records": [{"load": 1.5, "hour": true}]}', False),
    ("records", b'{"records": [{"load": 1.5, "hour": 2.0}]}', False),
    ("records", b'{"records": [{"load": 1.5, "hour": 2, "holiday": 1}]}', False),
    ("records", b'{"records": [{"load": null, "hour": 2}]}', False),
    ("records", b'{"records": [{"load": NaN, "hour": 2}]}', False),
    ("records", b'{"records": [{"load": Infinity, "hour": 2}]}', False),
    ("records", b'{"records": [{"load": 1e400, "hour": 2}]}', False),
    ("records", b'{"records": [{"load": 1, "hour": 1' + b"0" * 30 + b"}]}", False),  # > 64 bits
    ("records", b'{"records": [{"load": 1, "hour": 1' + b"0" * 400 + b"}]}", False),  # > float64 too
    ("records", b'{"records": [{"load": 1' + b"0" * 30 + b', "hour": 9223372036854775807}]}', True),
    ("records", b'{"records": [{"load": 1, "hour": 18446744073709551615}]}', False),  # uint64, not int64
    ("records", b'{"records": [{"load": 1, "hour": -9223372036854775809}]}', False),
    ("records", b'{"records": [{"load": 1, "hour": 2, "x": 3}]}', False),
    ("records", b'{"records": [{"load": 1}]}', False),
    ("records", b'{"records": [{}, {}, {}, {}]}', False),
    ("records", b'{"records": []}', False),
    ("records", b'{"records": [[1, 2]]}', False),
    ("records", b'{"records": {"load": 1, "hour": 2}}', False),
    ("records", b'{"records": [{"load": 1, "hour": 2}]', False),
    ("records", b"", False),
    ("one-column", b'{"records": [{"x": 0.1}, {"x": 3}]}', True),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, 255]]]}', True),
    ("gray", b'{"images": [[[[0], [1]], [[2], [3]], [[4], [255.0]]]]}', True),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, 255]], [[[0], [1]], [[2], [3]], [[4], [5]]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, 256]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, 9223372036854775808]]]}', False),  # past int64
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, 15e-1]]]}', True),  # an exponent: not an int
    ("gray", b'{"imag\\u0065s": [[[0, 1], [2, 3], [4, 15e-1]]]}', True),  # the same, key escaped
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, -0.5]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, true]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, null]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, "5"]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, [5]]]]}', False),
    ("gray", b'{"images": [[[0, 1], [2, 3], [4, 5]]], "images": [[[0, 1], [2, 3], [4, 6]]]}', False),
    ("rgb", b'{"images": [[[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11.5]]]]}', True),
    ("rgb", b'{"images": [[[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10]]]]}', False),
    ("rgb", b'{"images": ["%s"]}' % _png(np.zeros((2, 2, 3), np.uint8), "RGB").encode(), False),
    ("rgb", b'{"images": ["%s"]}' % _png(np.zeros((3, 3, 3), np.uint8), "RGB").encode(), False),
]


@pytest.mark.parametrize(
    ("name", "body", "fast"), _EXPLICIT, ids=[f"{name}:{body[:70]!r}" for name, body, _ in _EXPLICIT]
)
def test_fast_path_on_named_cases(name: str, body: bytes, fast: bool) -> None:
    decoder = _DECODERS[name]
    assert (decoder._decode_fast(body) is not None) is fast
    assert _outcome(_fast_first(decoder), body) == _outcome(decoder.decode_pydantic, body)
