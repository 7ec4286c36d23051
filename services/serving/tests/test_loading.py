"""Loading registered versions: what is refused and why, and that serving needs no pandas/onnx/torch."""

import subprocess
import sys
from pathlib import Path

import mlflow
import orjson
import pytest
import yaml
from conftest import Champions

from mlops_core.testing import MlflowServer
from serving.errors import ModelLoadError
from serving.loading import MLmodelFile, _build, load_version
from serving.testing.models import cnn_onnx, image_signature, tabular_signature, train_booster


def _write_mlmodel(path: Path, flavors: dict) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors}))
    return path


def test_sklearn_pickled_lightgbm_is_refused_with_a_hint(tmp_path: Path) -> None:
    model = _write_mlmodel(
        tmp_path, {"lightgbm": {"data": "model.pkl", "model_class": "lightgbm.sklearn.LGBMRegressor"}}
    )
    with pytest.raises(ModelLoadError, match=r"native boosters \(log `model.booster_`"):
        _build(model, MLmodelFile.read(model), threads=1, max_rows=4)


def test_unsupported_flavor_is_refused(tmp_path: Path) -> None:
    model = _write_mlmodel(tmp_path, {"sklearn": {"pickled_model": "model.pkl"}})
    with pytest.raises(ModelLoadError, match="serving runs 'onnx'"):
        _build(model, MLmodelFile.read(model), threads=1, max_rows=4)


def test_signature_must_match_the_booster(tmp_path: Path) -> None:
    model = train_booster("regression")
    wrong = tabular_signature([*model.features[:-1], "minute"])
    mlflow.lightgbm.save_model(model.booster, tmp_path / "m", signature=wrong, pip_requirements=["lightgbm"])
    with pytest.raises(ModelLoadError, match=r"missing \['hour'\], unknown \['minute'\]"):
        _build(tmp_path / "m", MLmodelFile.read(tmp_path / "m"), threads=1, max_rows=4)


def test_cnn_signature_decides_the_image_size(tmp_path: Path) -> None:
    mlflow.onnx.save_model(
        cnn_onnx(3, 32), tmp_path / "m", signature=image_signature(3, 32), pip_requirements=["x"]
    )
    predictor, decoder, example = _build(
        tmp_path / "m", MLmodelFile.read(tmp_path / "m"), threads=1, max_rows=4
    )
    assert predictor.runtime == "onnxruntime"
    assert decoder.contract.describe()["shape"] == [32, 32, 3]
    assert decoder.decode(orjson.dumps(example)).inputs.shape == (
        1,
        3,
        32,
        32,
    )


_LOAD_WITHOUT_EXTRAS = """
import sys
for blocked in ("pandas", "onnx", "torch", "sklearn", "pyarrow"):
    sys.modules[blocked] = None  # importing any of them now fails
from mlops_core.tracking import connect
from serving.loading import load_version
client = connect(sys.argv[1])
for name in ("power_lgbm", "mnist_cnn"):
    served = load_version(client.get_model_version(name, "1"), threads=1, max_rows=8, batch_rows=4, download_dir=None)
    print(name, served.version, served.predictor.runtime)
"""


def test_registered_versions_load_without_pandas_onnx_or_torch(
    mlflow_server: MlflowServer, champions: Champions
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_WITHOUT_EXTRAS, mlflow_server.uri],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout.splitlines()
    assert "power_lgbm 1 lightgbm" in printed and "mnist_cnn 1 onnxruntime" in printed


def test_a_download_dir_that_does_not_exist_yet_is_created(
    mlflow_server: MlflowServer, champions: Champions, tmp_path: Path
) -> None:
    # As in the pod: SERVING_DOWNLOAD_DIR=/tmp/models on an empty /tmp volume.
    from mlops_core.tracking import connect

    download_dir = tmp_path / "tmp" / "models"
    client = connect(mlflow_server.uri)
    served = load_version(
        client.get_model_version("power_lgbm", "1"),
        threads=1,
        max_rows=8,
        batch_rows=4,
        download_dir=download_dir,
    )
    assert served.version == "1" and download_dir.is_dir()
    assert list(download_dir.iterdir()) == []  # the download itself is gone after loading
