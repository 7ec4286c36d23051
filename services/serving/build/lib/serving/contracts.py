"""What a served model accepts, derived from its MLflow signature: named feature columns, or images."""

from dataclasses import dataclass
from enum import StrEnum

from mlflow.types.schema import ColSpec, DataType, Schema, TensorSpec

from serving.errors import ModelLoadError


class ColumnKind(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"


_COLUMN_KINDS = {
    DataType.double: ColumnKind.FLOAT,
    DataType.float: ColumnKind.FLOAT,
    DataType.long: ColumnKind.INT,
    DataType.integer: ColumnKind.INT,
    DataType.boolean: ColumnKind.BOOL,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = True


@dataclass(frozen=True)
class TabularContract:
    """Feature records: one JSON object per row, exactly these columns (optional ones may be null)."""

    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def describe(self) -> dict[str, object]:
        return {
            "kind": "records",
            "columns": [{"name": c.name, "type": c.kind.value, "required": c.required} for c in self.columns],
        }


@dataclass(frozen=True)
class ImageContract:
    """Images of one size: H×W (grayscale) or H×W×C arrays of 0..255 values, or base64 PNG."""

    input_name: str
    channels: int
    height: int
    width: int

    @property
    def shape_text(self) -> str:
        if self.channels == 1:
            return f"{self.height}×{self.width} (or {self.height}×{self.width}×1)"
        return f"{self.height}×{self.width}×{self.channels}"

    def describe(self) -> dict[str, object]:
        return {
            "kind": "images",
            "shape": [self.height, self.width, self.channels],
            "pixel_range": [0, 255],
            "formats": ["array", "base64 PNG"],
        }


Contract = TabularContract | ImageContract


def tabular_contract(schema: Schema | None, feature_names: list[str]) -> TabularContract:
    """Columns from the signature, checked against the features the booster was trained on."""
    if schema is None:
        # No signature logged: the booster's own feature names, all numeric and required.
        return TabularContract(tuple(Column(name, ColumnKind.FLOAT) for name in feature_names))
    if schema.is_tensor_spec():
        raise ModelLoadError("LightGBM model has a tensor signature; serving expects named feature columns")
    columns: list[Column] = []
    for spec in schema.inputs:
        if not isinstance(spec, ColSpec) or spec.name is None:
            raise ModelLoadError(f"signature input {spec} is not a named column")
        kind = _COLUMN_KINDS.get(spec.type) if isinstance(spec.type, DataType) else None
        if kind is None:
            raise ModelLoadError(
                f"column {spec.name!r} has type {spec.type}; serving supports numeric columns"
            )
        columns.append(Column(spec.name, kind, required=spec.required))
    by_name = {column.name: column for column in columns}
    if set(by_name) != set(feature_names) or len(by_name) != len(columns):
        missing = sorted(set(feature_names) - set(by_name))
        unknown = sorted(set(by_name) - set(feature_names))
        raise ModelLoadError(
            f"signature columns do not match the booster's features (missing {missing}, unknown {unknown})"
        )
    # The booster's order is what prediction needs; the signature's order is only documentation.
    return TabularContract(tuple(by_name[name] for name in feature_names))


def image_contract(schema: Schema | None, session_input: tuple[str, list[object]]) -> ImageContract:
    """(-1, C, H, W) float32 input named in the signature (or, without one, by the ONNX graph)."""
    name, shape = session_input
    if schema is not None:
        if not schema.is_tensor_spec() or len(schema.inputs) != 1:
            raise ModelLoadError("CNN signature must have exactly one tensor input (images, N×C×H×W)")
        spec = schema.inputs[0]
        assert isinstance(spec, TensorSpec)
        if spec.name and spec.name != name:
            raise ModelLoadError(f"signature input {spec.name!r} is not the ONNX graph's input {name!r}")
        shape = list(spec.shape)
    if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
        raise ModelLoadError(f"image input {name!r} has shape {shape}; expected (-1, C, H, W)")
    channels, height, width = (int(d) for d in shape[1:])  # type: ignore[call-overload]
    if channels not in (1, 3):
        raise ModelLoadError(f"image input {name!r} has {channels} channels; expected 1 or 3")
    return ImageContract(name, channels, height, width)
