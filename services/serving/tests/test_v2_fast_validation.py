"""V2's quick way through large JSON bodies must agree with pydantic's reading of every body it takes.

`validate_fast` may only ever accept: on a body pydantic refuses it returns None (so the rejection is
pydantic's), and on a body it takes, the request and every tensor's values (dtype, shape, bytes) equal
what `validate_reference` and numpy give.
"""

import json
from typing import Any

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

from serving.errors import RequestRejected
from serving.v2.protocol import DATATYPES, parse_infer_request, validate_fast, validate_reference

_SETTINGS = hypothesis.settings(deadline=None, derandomize=True, database=None)
_PAD = b" " * 4096  # insignificant whitespace: every generated body is long enough to try the quick way


def _reference_arrays(header: bytes) -> tuple[dict[str, Any], list[np.ndarray]] | None:
    """pydantic's request (without data) and numpy's arrays of its data; None if either refuses."""
    try:
        request = validate_reference(header)
    except RequestRejected:
        return None
    arrays = []
    for tensor in request.inputs:
        try:
            with np.errstate(over="ignore"):
                arrays.append(np.asarray(tensor.data, dtype=DATATYPES[tensor.datatype]))
        except (ValueError, OverflowError):  # ragged: a rejection of its own after pydantic
            return None
    return request.model_dump(exclude={"inputs": {"__all__": {"data"}}}), arrays


def _assert_agrees(header: bytes) -> bool:
    """Checks the quick way against the reference; True if the quick way took the body."""
    fast = validate_fast(header)
    reference = _reference_arrays(header)
    if reference is None:
        assert fast is None, header[:300]
        return False
    if fast is None:
        return False
    request, read = fast
    expected_request, expected_arrays = reference
    assert request.model_dump(exclude={"inputs": {"__all__": {"data"}}}) == expected_request
    assert sorted(read) == list(range(len(expected_arrays)))
    for index, expected in enumerate(expected_arrays):
        got = read[index]
        assert got.dtype == expected.dtype and got.shape == expected.shape, index
        assert got.tobytes() == expected.tobytes(), index
    return True


_NUMERIC = [name for name, dtype in DATATYPES.items() if dtype.kind != "b"]


def _leaf() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(min_value=-300, max_value=300),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.floats(allow_nan=False, allow_infinity=False),
        st.floats(min_value=-1, max_value=1, allow_nan=False),
        st.sampled_from([2**53, -(2**53), 2**53 - 1, 2**60 + 2**36 + 1, 65504.0, 3.5e38, 1e300]),
        st.booleans(),
        st.none(),
        st.text(max_size=3),
    )


def _nest(flat: list[Any], shape: list[int]) -> list[Any]:
    for length in reversed(shape[1:]):
        flat = [flat[i : i + length] for i in range(0, len(flat), length)]
    return flat


@st.composite
def _tensor(draw: st.DrawFn, mixed: bool) -> dict[str, Any]:
    datatype = draw(st.sampled_from([*_NUMERIC, "BOOL"]))
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    if mixed:
        leaves = st.one_of(_leaf(), st.lists(_leaf(), max_size=2))
    elif DATATYPES[datatype].kind in "iu":
        info = np.iinfo(DATATYPES[datatype])
        leaves = st.integers(max(int(info.min), -(2**70)), min(int(info.max), 2**70))
    else:
        leaves = st.one_of(st.integers(-(2**60), 2**60), st.floats(allow_nan=False, allow_infinity=False))
    flat = draw(st.lists(leaves, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    data: Any = flat
    if draw(st.booleans()):  # nested rows instead of row-major
        data = _nest(flat, shape)
    tensor: dict[str, Any] = {"name": draw(st.sampled_from(["x", "images", "hour"])), "shape": shape}
    tensor |= {"datatype": datatype, "data": data}
    if draw(st.integers(0, 9)) == 0:
        tensor["parameters"] = {"content_type": "np"}
    return tensor


@st.composite
def _body(draw: st.DrawFn, mixed: bool) -> bytes:
    document: dict[str, Any] = {"inputs": draw(st.lists(_tensor(mixed), min_size=1, max_size=3))}
    if draw(st.booleans()):
        document["id"] = draw(st.text(max_size=5))
    if draw(st.integers(0, 4)) == 0:
        document["outputs"] = [{"name": "probabilities"}]
    if draw(st.integers(0, 9)) == 0:
        document["extra"] = 1
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    return json.dumps(document, separators=separators).encode() + _PAD


@hypothesis.given(body=_body(mixed=True))
@hypothesis.settings(_SETTINGS, max_examples=1500)
def test_the_quick_way_never_takes_what_pydantic_refuses_and_agrees_on_the_rest(body: bytes) -> None:
    _assert_agrees(body)


@hypothesis.given(body=_body(mixed=False))
@hypothesis.settings(_SETTINGS, max_examples=500)
def test_the_quick_way_agrees_on_well_formed_tensors(body: bytes) -> None:
    _assert_agrees(body)


def _images(datatype: str, layout: list[int]) -> dict[str, Any]:
    values = np.random.default_rng(0).integers(0, 256, size=(32, 28 * 28))
    data = values.tolist() if datatype == "UINT8" else (values / 255).round(6).tolist()
    return {"name": "images", "datatype": datatype, "shape": layout, "data": np.ravel(data).tolist()}


@pytest.mark.parametrize(
    "document",
    [
        {"inputs": [_images("UINT8", [32, 28, 28, 1])]},
        {"inputs": [_images("FP32", [32, 1, 28, 28])], "id": "a", "outputs": [{"name": "probabilities"}]},
        {"inputs": [{"name": "features", "datatype": "FP64", "shape": [64, 24], "data": [0.5, 3] * 768}]},
        {
            "inputs": [
                {"name": f"c{i}", "datatype": "INT64", "shape": [800], "data": [i] * 800} for i in range(3)
            ]
        },
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 600], "data": [[0.25] * 600] * 2}]},
    ],
)
def test_usual_large_bodies_take_the_quick_way(document: dict[str, Any]) -> None:
    assert _assert_agrees(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.__setitem__(0, True), "a bool among UINT8 values"),
        (lambda d: d.__setitem__(0, 1.0), "a float among UINT8 values"),
        (lambda d: d.__setitem__(0, 256), "past UINT8"),
        (lambda d: d.__setitem__(0, -1), "below UINT8"),
        (lambda d: d.__setitem__(0, "7"), "a string"),
        (lambda d: d.__setitem__(0, None), "a null"),
        (lambda d: d.__setitem__(0, [1]), "a list among values"),
    ],
)
def test_hostile_data_is_left_to_pydantic_and_rejected(change: Any, why: str) -> None:
    document = {"inputs": [_images("UINT8", [32, 28, 28, 1])]}
    change(document["inputs"][0]["data"])
    body = json.dumps(document).encode()

    assert validate_fast(body) is None, why
    with pytest.raises(RequestRejected) as rejected:
        parse_infer_request(body, None)
    assert rejected.value.status == 400


@pytest.mark.parametrize("datatype", ["FP16", "FP32", "FP64"])
def test_ints_past_2_53_in_float_tensors_round_as_numpy_rounds_them_from_json(datatype: str) -> None:
    # Read as int64 and then cast, 2**60 + 2**36 + 1 would round once to FP32; numpy rounds it from a
    # double, which ties down to 2**60.
    data = [2**60 + 2**36 + 1, *([0] * 2000)]
    body = json.dumps({"inputs": [{"name": "x", "datatype": datatype, "shape": [2001], "data": data}]})

    _assert_agrees(body.encode())


def test_a_short_data_list_is_still_refused_after_the_quick_way() -> None:
    document = {"inputs": [_images("UINT8", [32, 28, 28, 1])]}
    document["inputs"][0]["data"].pop()
    body = json.dumps(document).encode()

    assert validate_fast(body) is not None
    with pytest.raises(RequestRejected, match="needs 25088 values, data has 25087"):
        parse_infer_request(body, None)
