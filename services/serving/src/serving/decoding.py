"""Request bodies -> model inputs, validated against the model's contract with pydantic.

Every way a body can be wrong ends in `RequestRejected` with a reason a person can act on:
400 for bodies that are not JSON, 422 for JSON that does not fit the contract.
"""

import base64
import binascii
import io
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, Required, Union

import numpy as np
from PIL import Image
from pydantic import ConfigDict, Discriminator, Field, Strict, Tag, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from serving.contracts import Column, ColumnKind, Contract, ImageContract, TabularContract
from serving.errors import RequestRejected

_MAX_ERRORS = 10
_SHOWN_IN_DETAIL = 3
_FORBID_EXTRA = ConfigDict(extra="forbid")
# Pydantic messages that would name internals, by error type.
_MESSAGES = {
    "union_tag_invalid": "not an image of this model's kind (wrong array depth, or not an array/string)"
}

FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]
StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
Pixel = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=255)]

_KIND_TYPES: dict[ColumnKind, Any] = {
    ColumnKind.FLOAT: FiniteNumber,
    ColumnKind.INT: StrictInt,
    ColumnKind.BOOL: StrictBool,
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
        self._names = contract.names
        self._all_required = all(column.required for column in contract.columns)
        self._getter = operator.itemgetter(*self._names)
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
        try:
            records = self._adapter.validate_json(body)["records"]
        except ValidationError as exc:
            raise _rejection(exc, self._hint) from None
        if self._all_required:  # every key is there (validated): one C-level lookup per row
            matrix = np.array([self._getter(row) for row in records], dtype=np.float64).reshape(
                len(records), -1
            )
        else:
            names = self._names
            matrix = np.array([[row.get(name) for name in names] for row in records], dtype=np.float64)
        return DecodedRequest(matrix, len(records), records)

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
            raise RequestRejected(422, f"images[{index}]: not a readable PNG ({exc}). {self._hint}") from None
        return pixels.reshape(contract.height, contract.width, contract.channels)

    def decode(self, body: bytes) -> DecodedRequest:
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
        batch *= np.float32(1.0 / 255.0)
        return DecodedRequest(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)), len(images))

    def example(self, png_base64: str) -> dict[str, Any]:
        return {"images": [png_base64]}


Decoder = RecordsDecoder | ImagesDecoder


def decoder_for(contract: Contract, max_rows: int) -> Decoder:
    if isinstance(contract, TabularContract):
        return RecordsDecoder(contract, max_rows)
    return ImagesDecoder(contract, max_rows)
