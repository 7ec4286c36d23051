"""Each served model in V2 terms: its metadata, V2 input tensors -> model inputs, outputs -> V2 tensors.

Tabular (LightGBM) models take one input per feature column (`[N]` or `[N, 1]`, typed as the
signature says), or one `FP32`/`FP64` tensor named `features`, `[N, F]` in the booster's feature order.
CNNs take their ONNX input name, `[N, C, H, W]` or `[N, H, W, C]`, `FP32` in [0, 1] or `UINT8` 0..255.
Everything is checked before a request is queued for the model; a failed check is a 400.
"""

from typing import Any

import numpy as np

from serving.contracts import ColumnKind, ImageContract, TabularContract
from serving.decoding import DecodedRequest
from serving.errors import RequestRejected
from serving.runtimes import Task
from serving.v2.protocol import ModelMetadata, OutputTensor, ParsedRequest, Tensor, TensorMetadata

TENSOR_INPUT = "features"
_FLOATS = ("FP16", "FP32", "FP64")
_INTS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
_ACCEPTED = {ColumnKind.FLOAT: _FLOATS + _INTS, ColumnKind.INT: _INTS, ColumnKind.BOOL: ("BOOL",)}
_DECLARED = {ColumnKind.FLOAT: "FP64", ColumnKind.INT: "INT64", ColumnKind.BOOL: "BOOL"}


def _outputs_metadata(task: Task, classes: int) -> list[TensorMetadata]:
    if task is Task.REGRESSION:
        return [TensorMetadata(name="prediction", datatype="FP64", shape=[-1])]
    if task is Task.BINARY:
        return [
            TensorMetadata(name="probability", datatype="FP64", shape=[-1]),
            TensorMetadata(name="class", datatype="INT64", shape=[-1]),
        ]
    return [
        TensorMetadata(name="probabilities", datatype="FP64", shape=[-1, classes]),
        TensorMetadata(name="class", datatype="INT64", shape=[-1]),
    ]


def output_tensors(task: Task, outputs: np.ndarray) -> list[OutputTensor]:
    """A batch slice of the predictor's outputs as the V2 output tensors the metadata names."""
    if task is Task.REGRESSION:
        return [OutputTensor("prediction", "FP64", outputs)]
    if task is Task.BINARY:
        return [
            OutputTensor("probability", "FP64", outputs),
            OutputTensor("class", "INT64", (outputs >= 0.5).astype(np.int64)),
        ]
    return [
        OutputTensor("probabilities", "FP64", outputs),
        OutputTensor("class", "INT64", outputs.argmax(axis=1).astype(np.int64)),
    ]


class _Codec:
    """What both model kinds share: output names, row limits, the metadata document."""

    def __init__(self, task: Task, classes: int, platform: str, max_rows: int) -> None:
        self.task = task
        self.platform = platform
        self._max_rows = max_rows
        self._outputs = _outputs_metadata(task, classes)
        self._output_names = [output.name for output in self._outputs]

    def _inputs_metadata(self) -> list[TensorMetadata]:
        raise NotImplementedError

    def _parameters(self) -> dict[str, str]:
        raise NotImplementedError

    def metadata(self, name: str, version: str) -> ModelMetadata:
        return ModelMetadata(
            name=name,
            versions=[version],
            platform=self.platform,
            inputs=self._inputs_metadata(),
            outputs=self._outputs,
            parameters=self._parameters(),
        )

    def _check_outputs(self, request: ParsedRequest) -> None:
        for requested in request.outputs or ():
            if requested.name not in self._output_names:
                raise RequestRejected(
                    400, f"unknown output {requested.name!r}; outputs: {', '.join(self._output_names)}"
                )

    def _rows(self, rows: int, where: str) -> int:
        if not 1 <= rows <= self._max_rows:
            raise RequestRejected(400, f"{where}: {rows} rows; a request carries 1..{self._max_rows}")
        return rows

    def outputs(self, outputs: np.ndarray) -> list[OutputTensor]:
        return output_tensors(self.task, outputs)


class TabularCodec(_Codec):
    def __init__(self, contract: TabularContract, task: Task, classes: int, max_rows: int) -> None:
        super().__init__(task, classes, "lightgbm", max_rows)
        self.contract = contract
        self._index = {column.name: i for i, column in enumerate(contract.columns)}
        self._required = [column.name for column in contract.columns if column.required]
        self._tensor_form = TENSOR_INPUT not in self._index
        columns = contract.columns
        self._required_index = np.array([i for i, c in enumerate(columns) if c.required], dtype=np.intp)
        self._whole_index = np.array(
            [i for i, c in enumerate(columns) if c.kind is not ColumnKind.FLOAT], dtype=np.intp
        )
        self._bool_index = np.array(
            [i for i, c in enumerate(columns) if c.kind is ColumnKind.BOOL], dtype=np.intp
        )

    def _inputs_metadata(self) -> list[TensorMetadata]:
        return [
            TensorMetadata(name=column.name, datatype=_DECLARED[column.kind], shape=[-1])
            for column in self.contract.columns
        ]

    def _parameters(self) -> dict[str, str]:
        names = self.contract.names
        parameters = {
            "optional_inputs": ",".join(c.name for c in self.contract.columns if not c.required),
            "input_shapes": "[-1] or [-1, 1] per column",
        }
        if self._tensor_form:
            parameters |= {
                "tensor_input": f"{TENSOR_INPUT}: FP32 or FP64 [-1, {len(names)}] in feature_order",
                "feature_order": ",".join(names),
            }
        return parameters

    def decode(self, request: ParsedRequest, with_records: bool = False) -> DecodedRequest:
        self._check_outputs(request)
        inputs = request.inputs
        if self._tensor_form and len(inputs) == 1 and inputs[0].name == TENSOR_INPUT:
            matrix = self._from_tensor(inputs[0])
        else:
            matrix = self._from_columns(inputs)
        records = self._records(matrix) if with_records else None
        return DecodedRequest(matrix, len(matrix), records)

    def _from_tensor(self, tensor: Tensor) -> np.ndarray:
        where = f"input {TENSOR_INPUT!r}"
        columns = len(self.contract.columns)
        if tensor.datatype not in ("FP32", "FP64"):
            raise RequestRejected(400, f"{where}: datatype {tensor.datatype}; expected FP32 or FP64")
        if tensor.array.ndim != 2 or tensor.array.shape[1] != columns:
            raise RequestRejected(400, f"{where}: shape {list(tensor.array.shape)}; expected [N, {columns}]")
        self._rows(tensor.array.shape[0], where)
        matrix = tensor.array.astype(np.float64)  # a copy: the model never sees the request's buffer
        # As few whole-array operations as the checks allow: on one row each costs more than the data.
        finite = np.isfinite(matrix)
        known = matrix
        if not finite.all():
            if np.isinf(matrix).any() or (~finite[:, self._required_index]).any():
                raise RequestRejected(400, f"{where}: values must be finite (NaN only in optional columns)")
            known = np.where(finite, matrix, 0.0)
        if self._whole_index.size:
            whole = known[:, self._whole_index]
            if (whole != np.trunc(whole)).any() or (
                self._bool_index.size and (np.abs(known[:, self._bool_index] - 0.5) != 0.5).any()
            ):
                raise RequestRejected(
                    400, f"{where}: integer columns need whole numbers, boolean ones 0 or 1"
                )
        return matrix

    def _from_columns(self, inputs: list[Tensor]) -> np.ndarray:
        unknown = [tensor.name for tensor in inputs if tensor.name not in self._index]
        if unknown:
            raise RequestRejected(
                400, f"unknown inputs {unknown}; inputs are the feature columns {', '.join(self.contract.names)}"
                + (f" (or one {TENSOR_INPUT!r} tensor [N, F])" if self._tensor_form else ""),
            )  # fmt: skip
        given = {tensor.name for tensor in inputs}
        missing = [name for name in self._required if name not in given]
        if missing:
            raise RequestRejected(400, f"missing required inputs: {', '.join(missing)}")
        rows: int | None = None
        matrix: np.ndarray | None = None
        for tensor in inputs:
            column = self.contract.columns[self._index[tensor.name]]
            where = f"input {tensor.name!r}"
            if tensor.datatype not in _ACCEPTED[column.kind]:
                raise RequestRejected(
                    400, f"{where}: datatype {tensor.datatype}; this column takes {', '.join(_ACCEPTED[column.kind])}"
                )  # fmt: skip
            shape = tensor.array.shape
            if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
                raise RequestRejected(400, f"{where}: shape {list(shape)}; expected [N] or [N, 1]")
            if rows is None:
                rows = self._rows(shape[0], where)
                matrix = np.full((rows, len(self.contract.columns)), np.nan)
            elif shape[0] != rows:
                raise RequestRejected(400, f"{where}: {shape[0]} rows; other inputs have {rows}")
            values = tensor.array.reshape(rows).astype(np.float64)
            if not np.isfinite(values).all():
                raise RequestRejected(400, f"{where}: values must be finite numbers")
            assert matrix is not None
            matrix[:, self._index[tensor.name]] = values
        assert matrix is not None
        return matrix

    def _records(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        records = []
        for row in matrix.tolist():
            record: dict[str, Any] = {}
            for column, value in zip(self.contract.columns, row, strict=True):
                if value != value:  # NaN: an optional column left out
                    record[column.name] = None
                elif column.kind is ColumnKind.BOOL:
                    record[column.name] = bool(value)
                elif column.kind is ColumnKind.INT:
                    record[column.name] = int(value)
                else:
                    record[column.name] = value
            records.append(record)
        return records


class ImageCodec(_Codec):
    def __init__(self, contract: ImageContract, task: Task, classes: int, max_rows: int) -> None:
        super().__init__(task, classes, "onnxruntime", max_rows)
        self.contract = contract
        c, h, w = contract.channels, contract.height, contract.width
        self._nchw, self._nhwc = (c, h, w), (h, w, c)

    def _inputs_metadata(self) -> list[TensorMetadata]:
        c, h, w = self._nchw
        return [TensorMetadata(name=self.contract.input_name, datatype="FP32", shape=[-1, c, h, w])]

    def _parameters(self) -> dict[str, str]:
        c, h, w = self._nchw
        return {
            "layouts": f"NCHW [-1, {c}, {h}, {w}] or NHWC [-1, {h}, {w}, {c}]",
            "datatypes": "FP32 in [0, 1] or UINT8 in 0..255",
        }

    def decode(self, request: ParsedRequest, with_records: bool = False) -> DecodedRequest:
        self._check_outputs(request)
        name = self.contract.input_name
        if len(request.inputs) != 1 or request.inputs[0].name != name:
            given = [tensor.name for tensor in request.inputs]
            raise RequestRejected(400, f"this model takes one input named {name!r} (got {given})")
        tensor = request.inputs[0]
        where = f"input {name!r}"
        array = tensor.array
        if tensor.datatype not in ("FP32", "UINT8"):
            raise RequestRejected(400, f"{where}: datatype {tensor.datatype}; expected FP32 or UINT8")
        if array.ndim != 4 or array.shape[1:] not in (self._nchw, self._nhwc):
            c, h, w = self._nchw
            raise RequestRejected(
                400, f"{where}: shape {list(array.shape)}; expected [N, {c}, {h}, {w}] or [N, {h}, {w}, {c}]"
            )
        self._rows(array.shape[0], where)
        if tensor.datatype == "UINT8":
            # The same arithmetic as /v1's 0..255 arrays, so both APIs give identical answers.
            images = array.astype(np.float32) * np.float32(1.0 / 255.0)
        else:
            if not (np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
                raise RequestRejected(400, f"{where}: FP32 pixel values must be finite and in [0, 1]")
            images = array.astype(np.float32, copy=False)
        if array.shape[1:] != self._nchw:
            images = images.transpose(0, 3, 1, 2)
        return DecodedRequest(np.ascontiguousarray(images), len(images))


Codec = TabularCodec | ImageCodec


def codec_for(contract: TabularContract | ImageContract, task: Task, classes: int, max_rows: int) -> Codec:
    if isinstance(contract, TabularContract):
        return TabularCodec(contract, task, classes, max_rows)
    return ImageCodec(contract, task, classes, max_rows)
