"""`train-cnn` end to end against a real MLflow server: train, log, gate, register, reuse, refuse."""

import re
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.onnx
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from mlops_core.exit_codes import ExitCode
from mlops_core.logs import configure_logging
from mlops_core.naming import CHALLENGER, Tag, tracking_names
from mlops_core.registry import promote, version_for_alias
from training_cnn.cli import app
from training_cnn.data import ImageSplits
from training_cnn.export import OnnxClassifier

NAMES = tracking_names("mnist")


@dataclass(frozen=True)
class Release:
    run_id: str
    version: str
    stdout: str


def _train(mnist_dir: Path, checkpoints: Path, run_key: str, *extra: str) -> tuple[int, str, str]:
    args = ["--dataset", "mnist", "--data-dir", str(mnist_dir), "--checkpoint-dir", str(checkpoints)]
    args += ["--batch-size", "32", "--width", "8", "--device", "cpu", "--run-key", run_key, *extra]
    result = CliRunner().invoke(app, args)
    configure_logging()  # the command bound the log output to the runner's (now closed) stderr
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def client(mlflow_server) -> MlflowClient:  # type: ignore[no-untyped-def]
    mlflow.set_tracking_uri(mlflow_server.uri)
    mlflow.set_registry_uri(mlflow_server.uri)
    return MlflowClient(mlflow_server.uri, mlflow_server.uri)


@pytest.fixture(scope="module")
def first_release(
    mlflow_server, mnist_dir: Path, client: MlflowClient, tmp_path_factory: pytest.TempPathFactory
) -> Release:  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
        code, stdout, stderr = _train(
            mnist_dir,
            tmp_path_factory.mktemp("ckpt"),
            "cli-release-1",
            "--epochs",
            "3",
            "--min-accuracy",
            "0.5",
        )
    assert code == 0, stderr
    challenger = version_for_alias(client, NAMES.registered_model, CHALLENGER)
    assert challenger is not None
    return Release(run_id=challenger.run_id, version=challenger.version, stdout=stdout)


def test_short_run_beats_chance_and_registers_onnx_challenger(
    first_release: Release, client: MlflowClient, mnist_splits: ImageSplits
) -> None:
    assert "gate=passed" in first_release.stdout
    assert (
        f"registered={NAMES.registered_model} v{first_release.version} ({CHALLENGER})" in first_release.stdout
    )
    run = client.get_run(first_release.run_id)
    assert run.data.metrics["test_accuracy"] >= 0.6  # chance is 0.1
    assert run.data.metrics["test_accuracy"] > run.data.metrics["baseline_test_accuracy"]
    assert run.data.tags[Tag.TRAINING_COMPLETE] == "true" and run.data.tags[Tag.WORKLOAD] == "mnist"
    assert run.data.params["class_names"] == "0,1,2,3,4,5,6,7,8,9"
    assert run.data.params["gate.min_value"] == "0.5"
    history = client.get_metric_history(first_release.run_id, "epoch_test_accuracy")
    assert sorted(m.step for m in history) == [1, 2, 3]
    artifacts = {a.path for a in client.list_artifacts(first_release.run_id)}
    assert {"confusion_matrix.png", "confusion_matrix.json", "class_names.json"} <= artifacts
    logged = client.search_logged_models([run.info.experiment_id])
    assert {m.name for m in logged if m.source_run_id == first_release.run_id} == {"model", "pytorch-model"}

    # The registered version is the ONNX graph serving expects, and it scores what the run recorded.
    uri = f"models:/{NAMES.registered_model}/{first_release.version}"
    signature = mlflow.models.get_model_info(uri).signature
    (images,), (logits,) = signature.inputs.inputs, signature.outputs.inputs
    assert (images.name, images.type, images.shape) == ("images", np.dtype(np.float32), (-1, 1, 28, 28))
    assert (logits.name, logits.type, logits.shape) == ("logits", np.dtype(np.float32), (-1, 10))
    served = OnnxClassifier(mlflow.onnx.load_model(uri))
    served_accuracy = float(np.mean(served.predict(mnist_splits.test_images) == mnist_splits.test_labels))
    assert served_accuracy == pytest.approx(run.data.metrics["test_accuracy"])


def test_same_run_key_reuses_the_run_and_registers_nothing_new(
    first_release: Release, mnist_dir: Path, client: MlflowClient, tracking_uri: str, tmp_path: Path
) -> None:
    code, stdout, stderr = _train(
        mnist_dir, tmp_path, "cli-release-1", "--epochs", "3", "--min-accuracy", "0.5"
    )
    assert code == 0, stderr
    assert "reused completed run" in stdout and "already registered" in stdout
    assert f"run_id={first_release.run_id}" in stdout
    versions = client.search_model_versions(f"name = '{NAMES.registered_model}'")
    assert [v.version for v in versions] == [first_release.version]


def test_worse_than_champion_on_the_same_test_set_is_refused(
    first_release: Release, mnist_dir: Path, client: MlflowClient, tracking_uri: str, tmp_path: Path
) -> None:
    promote(client, NAMES.registered_model, first_release.version, actor="test", reason="baseline champion")
    code, stdout, stderr = _train(mnist_dir, tmp_path, "cli-weak-1", "--epochs", "1", "--min-accuracy", "0.0")
    assert code == ExitCode.GATE_WORSE_THAN_CHAMPION, stderr
    assert "gate=worse_than_champion registered=none" in stdout
    assert f"worse than champion v{first_release.version}" in stderr
    weak_run = client.search_runs(
        [client.get_run(first_release.run_id).info.experiment_id],
        filter_string=f"tags.`{Tag.RUN_KEY}` = 'cli-weak-1'",
    )[0]
    champion_score = weak_run.data.metrics["champion_test_accuracy"]
    assert champion_score == pytest.approx(client.get_run(first_release.run_id).data.metrics["test_accuracy"])
    assert len(client.search_model_versions(f"name = '{NAMES.registered_model}'")) == 1


def test_invalid_data_exits_3_before_touching_mlflow(mnist_dir: Path, tmp_path: Path) -> None:
    for path in mnist_dir.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    broken = tmp_path / "t10k-labels-idx1-ubyte.gz"
    broken.write_bytes(b"\x00\x00\x08\x03" + bytes(12))
    args = ["--dataset", "mnist", "--data-dir", str(tmp_path), "--tracking-uri", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, args)
    configure_logging()
    assert result.exit_code == ExitCode.INVALID_DATA
    assert f"error: {broken}: offset 0: wrong magic number 0x00000803" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_a_usage_error(mnist_dir: Path) -> None:
    result = CliRunner().invoke(app, ["--dataset", "mnist", "--data-dir", str(mnist_dir), "--device", "cuda"])
    configure_logging()
    assert result.exit_code == ExitCode.USAGE
    message = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stderr).split())  # typer draws a box around it
    assert "Invalid value for --device: 'cuda' requested but torch" in message
    assert "sees no CUDA device" in message
