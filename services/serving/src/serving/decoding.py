"""Request bodies -> model inputs, validated against the model's contract with pydantic.

Every way a body can be wrong ends in `RequestRejected` with a reason a person can act on:
400 for bodies that are not JSON, 422 for JSON that does not fit the contract.

Well-formed bodies take a fast path first: orjson, then exact type and shape checks in C-level loops
and numpy. It only ever accepts; whenever it is not certain a body fits, the body goes through the
pydantic path, the single source of rejections. Both paths give bit-identical inputs and records
(tests/test_decoding.py checks that on generated bodies, valid and not).
"""

import base64
import binascii
import io
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Annotated, Any, NotRequired, Required, Union

import numpy as np
import orjson
from PIL import Image, UnidentifiedImageError
from pydantic import ConfigDict, Discriminator, Field, Strict, Tag, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from serving.contracts import Column, ColumnKind, Contract, ImageContract, TabularContract
from serving.errors import RequestRejected

_MAX_ERRORS = 10
# Records bodies smaller than this go straight to pydantic: its fixed cost per body is lower, and the
# fast path only wins from a few rows on (a power row is about 600 bytes; bench/bench_decoding.py).
_FAST_RECORDS_MIN_BYTES = 4096
_SHOWN_IN_DETAIL = 3
_FORBID_EXTRA = ConfigDict(extra="forbid")
# Pydantic messages that would name internals, by error type.
_MESSAGES = {
    "union_tag_invalid": "not an image of this model's kind (wrong array depth, or not an array/string)"
}

FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# INT columns are MLflow `long`/`integer` features: a value beyond int64 is no such integer (and one
# beyond float range would fail the float64 conversion after validation).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
StrictInt = Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX)]
StrictBool = Annotated[bool, Strict()]
Pixel = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=255)]

_KIND_TYPES: dict[ColumnKind, Any] = {
    ColumnKind.FLOAT: FiniteNumber,
    ColumnKind.INT: StrictInt,
    ColumnKind.BOOL: StrictBool,
}
# What the fast path accepts for each kind: exact Python types from orjson (bool is not an int here).
_PYTHON_TYPES: dict[ColumnKind, frozenset[type]] = {
    ColumnKind.FLOAT: frozenset({float, int}),
    ColumnKind.INT: frozenset({int}),
    ColumnKind.BOOL: frozenset({bool}),
}


@dataclass(frozen=True)
class DecodedRequest:
    """Model-ready inputs plus what the request log may record about them."""

    inputs: np.ndarray
    rows: int
    records: list[dict[str, Any]] | None = None


def _location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in _DISCRIMINATOR_TAGS:
            text += f".{part}" if text else part
    return text or "body"


def _rejection(exc: ValidationError, hint: str) -> RequestRejected:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    invalid_json = next((e for e in errors if e["type"] == "json_invalid"), None)
    if invalid_json is not None:
        return RequestRejected(
            400, f"request body is not valid JSON: {invalid_json['msg'].removeprefix('Invalid JSON: ')}"
        )
    shown = [
        {"loc": _location(e["loc"]), "msg": _MESSAGES.get(e["type"], e["msg"])} for e in errors[:_MAX_ERRORS]
    ]
    detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in shown[:_SHOWN_IN_DETAIL])
    if len(errors) > _SHOWN_IN_DETAIL:
        detail += f" (and {len(errors) - _SHOWN_IN_DETAIL} more)"
    return RequestRejected(422, f"{detail}. {hint}", shown)


# --- feature records -----------------------------------------------------------------------------


def _row_type(columns: Sequence[Column]) -> Any:
    fields: dict[str, Any] = {}
    for column in columns:
        kind = _KIND_TYPES[column.kind]
        fields[column.name] = Required[kind] if column.required else NotRequired[kind | None]
    row = TypedDict("Record", fields)  # type: ignore[operator]
    row.__pydantic_config__ = _FORBID_EXTRA  # type: ignore[attr-defined]
    return row


class RecordsDecoder:
    """`{"records": [{"<feature>": <number>, ...}, ...]}` -> float64 matrix in the booster's column order."""

    def __init__(self, contract: TabularContract, max_rows: int) -> None:
        self.contract = contract
        self._max_rows = max_rows
        self._names = contract.names
        self._order = tuple(self._names)
        self._allowed = frozenset(self._names)
        self._required = frozenset(c.name for c in contract.columns if c.required)
        self._float_names = [c.name for c in contract.columns if c.kind is ColumnKind.FLOAT]
        self._int_indices = [i for i, c in enumerate(contract.columns) if c.kind is ColumnKind.INT]
        self._all_required = all(column.required for column in contract.columns)
        getter = operator.itemgetter(*self._names)
        # Always a tuple per row, also for a single column.
        self._getter = getter if len(self._names) > 1 else lambda row: (getter(row),)
        # Column indices by the Python types their values may have (None where a column is optional).
        groups: dict[frozenset[type], list[int]] = {}
        for index, column in enumerate(contract.columns):
            types = _PYTHON_TYPES[column.kind] | (set() if column.required else {type(None)})
            groups.setdefault(types, []).append(index)
        self._type_groups = list(groups.items())
        rows = Annotated[list[_row_type(contract.columns)], Field(min_length=1, max_length=max_rows)]
        request = TypedDict("RecordsRequest", {"records": rows})  # type: ignore[operator]  # noqa: UP013
        request.__pydantic_config__ = _FORBID_EXTRA
        self._adapter = TypeAdapter(request)
        required = [c.name for c in contract.columns if c.required]
        self._hint = (
            f'Expected {{"records": [{{...}}, ...]}} with 1..{max_rows} rows, each with the numeric '
            f"features {', '.join(self._names[:8])}{', ...' if len(self._names) > 8 else ''} "
            f"({len(required)} required; finite numbers, no strings)"
        )

    def decode(self, body: bytes) -> DecodedRequest:
        decoded = self._decode_fast(body) if len(body) >= _FAST_RECORDS_MIN_BYTES else None
        return decoded if decoded is not None else self.decode_pydantic(body)

    def decode_pydantic(self, body: bytes) -> DecodedRequest:
        """The reference path: every body, and every rejection's status and message."""
        try:
            records = self._adapter.validate_json(body)["records"]
        except ValidationError as exc:
            raise _rejection(exc, self._hint) from None
        return self._decoded(records, self._values(records))

    def _decode_fast(self, body: bytes) -> DecodedRequest | None:
        """The same result as `decode_pydantic` for a body that surely fits the contract, else None."""
        try:
            parsed = orjson.loads(body)  # duplicate keys: the last wins, as in pydantic
        except orjson.JSONDecodeError:
            return None
        records = parsed.get("records") if type(parsed) is dict and len(parsed) == 1 else None
        if type(records) is not list or not 0 < len(records) <= self._max_rows:
            return None
        if set(map(type, records)) != {dict}:
            return None
        if set(map(tuple, records)) == {self._order}:  # every row: every column, in contract order
            values = list(map(tuple, map(dict.values, records)))  # what `_values` gives, sooner
        else:
            if not all(self._required <= row.keys() <= self._allowed for row in records):
                return None
            # Pydantic's records list the columns in contract order; absent optional ones stay absent.
            records = [{name: row[name] for name in self._names if name in row} for row in records]
            values = self._values(records)
        columns = list(zip(*values, strict=True))
        ints_as_floats = False
        for allowed, indices in self._type_groups:
            found = set(map(type, chain.from_iterable(map(columns.__getitem__, indices))))
            if not found <= allowed:
                return None
            ints_as_floats |= float in allowed and int in found
        for index in self._int_indices:
            ints = [value for value in columns[index] if value is not None]
            if ints and (min(ints) < INT64_MIN or max(ints) > INT64_MAX):
                return None  # pydantic words the rejection
        if ints_as_floats:  # pydantic gives FLOAT columns floats; so must the request log
            for row in records:
                for name in self._float_names:
                    if type(row.get(name)) is int:
                        row[name] = float(row[name])
            values = self._values(records)
        decoded = self._decoded(records, values)
        return None if np.isinf(decoded.inputs).any() else decoded  # orjson gives none; never accept one

    def _values(self, records: list[dict[str, Any]]) -> list[Any]:
        if self._all_required:  # every key is there (validated): one C-level lookup per row
            return list(map(self._getter, records))
        names = self._names
        return [[row.get(name) for name in names] for row in records]

    def _decoded(self, records: list[dict[str, Any]], values: list[Any]) -> DecodedRequest:
        return DecodedRequest(np.array(values, dtype=np.float64), len(records), records)

    def example(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"records": [record]}


# --- images --------------------------------------------------------------------------------------

_PNG, _ARRAY_HW, _ARRAY_HWC, _NEITHER = "png", "array_hw", "array_hwc", "neither"
_DISCRIMINATOR_TAGS = {_PNG, _ARRAY_HW, _ARRAY_HWC}


def _image_form(value: Any) -> str:
    if isinstance(value, str):
        return _PNG
    if isinstance(value, list) and value and isinstance(value[0], list) and value[0]:
        return _ARRAY_HWC if isinstance(value[0][0], list) else _ARRAY_HW
    return _ARRAY_HWC if isinstance(value, list) else _NEITHER


def _exactly(item: Any, length: int) -> Any:
    return Annotated[list[item], Field(min_length=length, max_length=length)]


class ImagesDecoder:
    """`{"images": [<H×W[×C] array of 0..255> | <base64 PNG>, ...]}` -> float32 N×C×H×W in [0, 1]."""

    def __init__(self, contract: ImageContract, max_rows: int) -> None:
        self.contract = contract
        c, h, w = contract.channels, contract.height, contract.width
        max_png_chars = 8 * (c * h * w + 4096)
        forms: list[Any] = [
            Annotated[Annotated[str, Field(min_length=1, max_length=max_png_chars)], Tag(_PNG)],
            Annotated[_exactly(_exactly(_exactly(Pixel, c), w), h), Tag(_ARRAY_HWC)],
        ]
        if c == 1:
            forms.append(Annotated[_exactly(_exactly(Pixel, w), h), Tag(_ARRAY_HW)])
        image = Annotated[Union[tuple(forms)], Discriminator(_image_form)]  # noqa: UP007
        images = Annotated[list[image], Field(min_length=1, max_length=max_rows)]
        request = TypedDict("ImagesRequest", {"images": images})  # type: ignore[operator]  # noqa: UP013
        request.__pydantic_config__ = _FORBID_EXTRA
        self._adapter = TypeAdapter(request)
        self._max_rows = max_rows
        self._hint = (
            f'Expected {{"images": [...]}} with 1..{max_rows} images, each a {contract.shape_text} array of '
            "pixel values 0..255 or a base64-encoded PNG of that size"
        )

    def _png(self, index: int, text: str) -> np.ndarray:
        contract = self.contract
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RequestRejected(422, f"images[{index}]: not valid base64 ({exc}). {self._hint}") from None
        try:
            with Image.open(io.BytesIO(raw), formats=["PNG"]) as picture:
                if picture.size != (contract.width, contract.height):
                    width, height = picture.size
                    raise RequestRejected(
                        422, f"images[{index}]: PNG is {height}×{width}, expected {contract.shape_text}"
                    )
                converted = picture.convert("L" if contract.channels == 1 else "RGB")
                pixels = np.asarray(converted, dtype=np.float32)
        except RequestRejected:
            raise
        except Exception as exc:  # any decoder failure on untrusted bytes is the client's problem
            # PIL's own message for bytes of no known format names a Python object; say it plainly.
            reason = "no PNG signature" if isinstance(exc, UnidentifiedImageError) else str(exc)
            raise RequestRejected(
                422, f"images[{index}]: not a readable PNG ({reason}). {self._hint}"
            ) from None
        return pixels.reshape(contract.height, contract.width, contract.channels)

    def decode(self, body: bytes) -> DecodedRequest:
        decoded = self._decode_fast(body)
        return decoded if decoded is not None else self.decode_pydantic(body)

    def decode_pydantic(self, body: bytes) -> DecodedRequest:
        """The reference path: every body (PNGs included), and every rejection's status and message."""
        try:
            images = self._adapter.validate_json(body)["images"]
        except ValidationError as exc:
            raise _rejection(exc, self._hint) from None
        contract = self.contract
        hwc = (contract.height, contract.width, contract.channels)
        batch = np.empty((len(images), *hwc), dtype=np.float32)
        for index, image in enumerate(images):
            batch[index] = (
                self._png(index, image) if isinstance(image, str) else np.asarray(image).reshape(hwc)
            )
        return _nchw(batch)

    def _decode_fast(self, body: bytes) -> DecodedRequest | None:
        """The same result as `decode_pydantic` for arrays that surely fit the contract, else None."""
        # The key is the body's only string (no PNGs, no duplicate keys), and there is no true, false
        # or null: every leaf orjson gives is then an int or a float (numpy would take a bool for 1).
        if body.count(b'"') != 2 or any(letter in body for letter in (b"t", b"f", b"n")):
            return None
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        images = parsed.get("images") if type(parsed) is dict and len(parsed) == 1 else None
        if type(images) is not list or not 0 < len(images) <= self._max_rows:
            return None
        c, h, w = self.contract.channels, self.contract.height, self.contract.width
        depth, first = 0, images[0]
        while type(first) is list and first:
            depth, first = depth + 1, first[0]
        shape = (h, w) if c == 1 and depth == 2 else (h, w, c)  # H×W arrays, or H×W×C ones
        # No ".", "E", or "e" but the key's: every number is an int, and int64 is quicker to fill.
        ints = body.count(b"e") == 1 and b'"images"' in body and b"." not in body and b"E" not in body
        try:
            pixels = _flat_numbers(images, shape, np.int64 if ints else np.float64)
        except (TypeError, ValueError, OverflowError):  # another shape or depth, a list as a leaf, ...
            return None
        if not (pixels.min() >= 0 and pixels.max() <= 255):
            return None
        return _nchw(pixels.astype(np.float32).reshape(len(images), h, w, c))

    def example(self, png_base64: str) -> dict[str, Any]:
        return {"images": [png_base64]}


def _flat_numbers(items: list[Any], shape: tuple[int, ...], dtype: type[np.number]) -> np.ndarray:
    """Nested lists, each level exactly `shape`, flattened; TypeError/ValueError/OverflowError if not."""
    level = items
    for depth, length in enumerate(shape):
        if set(map(len, level)) != {length}:
            raise ValueError(f"not {length} items at depth {depth}")
        if depth < len(shape) - 1:
            level = list(chain.from_iterable(level))
    return np.fromiter(chain.from_iterable(level), dtype=dtype, count=len(level) * shape[-1])


def _nchw(batch: np.ndarray) -> DecodedRequest:
    """N×H×W×C pixels 0..255 (float32) -> the model's N×C×H×W input in [0, 1]."""
    batch *= np.float32(1.0 / 255.0)
    return DecodedRequest(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)), len(batch))


Decoder = RecordsDecoder | ImagesDecoder


def decoder_for(contract: Contract, max_rows: int) -> Decoder:
    if isinstance(contract, TabularContract):
        return RecordsDecoder(contract, max_rows)
    return ImagesDecoder(contract, max_rows)
