"""Load one registered model version: download, pick the runtime from its flavors, warm it up."""

import base64
import io
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import orjson
import yaml
from mlflow.entities.model_registry import ModelVersion
from mlflow.types.schema import Schema
from PIL import Image

from mlops_core.logs import get_logger
from serving.contracts import ColumnKind, ImageContract, TabularContract, image_contract, tabular_contract
from serving.decoding import Decoder, ImagesDecoder, RecordsDecoder
from serving.errors import ModelLoadError, RequestRejected
from serving.runtimes import LightgbmPredictor, OnnxImageClassifier, Predictor
from serving.v2.codec import Codec, codec_for

log = get_logger(__name__)

_ONNX, _LIGHTGBM = "onnx", "lightgbm"


@dataclass(frozen=True)
class ServedModel:
    """One loaded, warmed-up version. Immutable: a new version is a new object swapped in whole."""

    name: str
    version: str
    run_id: str | None
    source: str
    predictor: Predictor
    decoder: Decoder
    v2: Codec  # the same model in Open Inference Protocol (V2) terms
    example_request: dict[str, Any]
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "run_id": self.run_id,
            "source": self.source,
            "runtime": self.predictor.runtime,
            "task": self.predictor.task.value,
            "loaded_at": self.loaded_at.isoformat(timespec="seconds"),
            "input": self.decoder.contract.describe(),
            "example_request": self.example_request,
        }


@dataclass(frozen=True)
class MLmodelFile:
    """The parts of a logged model's `MLmodel` file serving needs (read without pandas or mlflow.models)."""

    flavors: dict[str, dict[str, Any]]
    inputs: Schema | None
    input_example: dict[str, Any]

    @classmethod
    def read(cls, model_dir: Path) -> "MLmodelFile":
        raw = yaml.safe_load((model_dir / "MLmodel").read_text())
        if not isinstance(raw, dict) or not isinstance(raw.get("flavors"), dict):
            raise ModelLoadError("MLmodel file has no flavors")
        signature = raw.get("signature") or {}
        inputs = Schema.from_json(signature["inputs"]) if signature.get("inputs") else None
        return cls(raw["flavors"], inputs, raw.get("saved_input_example_info") or {})


def _example_record(model_dir: Path, mlmodel: MLmodelFile, contract: TabularContract) -> dict[str, Any]:
    """The first row of the logged input example (split orient), else zeros; cast to the column types."""
    values: dict[str, Any] = {}
    info = mlmodel.input_example
    example_file = model_dir / str(info.get("artifact_path", "input_example.json"))
    try:
        example = json.loads(example_file.read_text())
        example = example.get("dataframe_split", example)
        values = dict(zip(example["columns"], example["data"][0], strict=True))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        values = {}
    record: dict[str, Any] = {}
    for column in contract.columns:
        raw = values.get(column.name)
        raw = 0 if raw is None or (isinstance(raw, float) and not np.isfinite(raw)) else raw
        if column.kind is ColumnKind.BOOL:
            record[column.name] = bool(raw)
        elif column.kind is ColumnKind.INT:
            record[column.name] = int(raw)
        else:
            record[column.name] = float(raw)
    return record


def _gray_png(contract: ImageContract) -> str:
    mode = "L" if contract.channels == 1 else "RGB"
    color = 128 if contract.channels == 1 else (128, 128, 128)
    buffer = io.BytesIO()
    Image.new(mode, (contract.width, contract.height), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _build(
    model_dir: Path, mlmodel: MLmodelFile, threads: int, max_rows: int
) -> tuple[Predictor, Decoder, dict]:
    flavors, schema = mlmodel.flavors, mlmodel.inputs
    if _ONNX in flavors:
        onnx_model = OnnxImageClassifier(model_dir / flavors[_ONNX].get("data", "model.onnx"), threads)
        contract = image_contract(schema, (onnx_model.input_name, onnx_model.input_shape))
        images = ImagesDecoder(contract, max_rows)
        return onnx_model, images, images.example(_gray_png(contract))
    if _LIGHTGBM in flavors:
        conf = flavors[_LIGHTGBM]
        data = str(conf.get("data", "model.lgb"))
        if not data.endswith(".lgb"):
            raise ModelLoadError(
                f"LightGBM model stored as {data} ({conf.get('model_class')}); serving loads native boosters "
                "(log `model.booster_` or a lightgbm.Booster with mlflow.lightgbm.log_model)"
            )
        booster = LightgbmPredictor(model_dir / data, threads)
        tabular = tabular_contract(schema, booster.feature_names)
        records = RecordsDecoder(tabular, max_rows)
        return booster, records, records.example(_example_record(model_dir, mlmodel, tabular))
    raise ModelLoadError(
        f"model flavors {sorted(flavors)} not servable; serving runs 'onnx' (CNNs) and 'lightgbm' models"
    )


def _warm_up(predictor: Predictor, decoder: Decoder, example: dict[str, Any], batch_rows: int) -> np.ndarray:
    """A smoke prediction on the example (one row, then a full batch): a version that fails is not served.

    Returns the example's outputs (their width is the number of classes).
    """
    try:
        decoded = decoder.decode(orjson.dumps(example))
    except RequestRejected as exc:
        raise ModelLoadError(f"example request does not fit the model's own contract: {exc.detail}") from exc
    for inputs in (decoded.inputs, np.repeat(decoded.inputs, batch_rows, axis=0)):
        try:
            outputs = predictor.predict(inputs)
        except Exception as exc:  # runtime errors surface as load failures, never as served 500s
            raise ModelLoadError(f"warm-up prediction failed: {exc}") from exc
        if len(outputs) != len(inputs) or not np.all(np.isfinite(outputs)):
            raise ModelLoadError(f"warm-up prediction returned {len(outputs)} rows or non-finite values")
        predictor.to_json(outputs[:1])
    return outputs[:1]


def load_version(
    version: ModelVersion, *, threads: int, max_rows: int, batch_rows: int, download_dir: Path | None
) -> ServedModel:
    """Download `models:/<name>/<version>` (registry URI already configured), build and warm it."""
    name = version.name
    if download_dir is not None:
        # A fresh emptyDir (or tmpfs) holds no sub-folder yet: /tmp/models must be made, not assumed.
        download_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}-v{version.version}-", dir=download_dir) as tmp:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(f"models:/{name}/{version.version}", dst_path=tmp)
            )
            mlmodel = MLmodelFile.read(local)
        except Exception as exc:  # missing artifacts, unreachable store, unreadable MLmodel
            raise ModelLoadError(f"cannot download or read {name} v{version.version}: {exc}") from exc
        predictor, decoder, example = _build(local, mlmodel, threads, max_rows)
    outputs = _warm_up(predictor, decoder, example, batch_rows)
    classes = outputs.shape[1] if outputs.ndim == 2 else 1
    log.info("model version loaded", model=name, version=version.version, runtime=predictor.runtime)
    return ServedModel(
        name=name,
        version=str(version.version),
        run_id=version.run_id,
        source=str(version.source),
        predictor=predictor,
        decoder=decoder,
        v2=codec_for(decoder.contract, predictor.task, classes, max_rows),
        example_request=example,
    )
