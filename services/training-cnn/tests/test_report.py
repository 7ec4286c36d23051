"""`cnn-data report` against a real MLflow server, for both image workloads: the ONNX champion on a held-out
batch, per-image statistics drift (planted by inverting the batch), the cool-down, served image stats.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from mlops_core.cli import app as mlops_app
from mlops_core.exit_codes import ExitCode
from mlops_core.naming import tracking_names
from mlops_core.retrain_policy import HISTORY_TAG
from mlops_core.testing import MlflowServer
from mlops_core.testing.cli import invoke
from mlops_core.testing.registry import registry_without
from training_cnn import idx_format
from training_cnn.cli import app as train_app
from training_cnn.data import MNIST_FILES, load_splits
from training_cnn.data_cli import app
from training_cnn.report import image_statistics
from training_cnn.samples import generate_cifar10

MNIST = tracking_names("mnist")
CIFAR10 = tracking_names("cifar10")


@pytest.fixture(scope="module")
def client(mlflow_server: MlflowServer) -> Iterator[MlflowClient]:
    """The session server, both image models forgotten before and after (other modules train them)."""
    with registry_without(mlflow_server.uri, MNIST.registered_model, CIFAR10.registered_model) as client:
        yield client


def _champion(dataset: str, data_dir: Path, checkpoints: Path, *extra: str) -> None:
    args = [
        "--dataset",
        dataset,
        "--data-dir",
        str(data_dir),
        "--checkpoint-dir",
        str(checkpoints),
        "--epochs",
        "2",
    ]
    code, output = invoke(
        train_app, [*args, "--width", "8", "--device", "cpu", "--run-key", "report-test", *extra]
    )
    assert code == 0 and "gate=passed" in output, output
    code, output = invoke(
        mlops_app,
        ["promote", "--workload", dataset, "--version", "1", "--by", "pytest", "--reason", "report tests"],
    )
    assert code == 0, output


@pytest.fixture(scope="module")
def mnist_champion(client: MlflowClient, mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _champion(
        "mnist", mnist_dir, tmp_path_factory.mktemp("ckpt"), "--batch-size", "32", "--min-accuracy", "0.5"
    )
    return mnist_dir


@pytest.fixture(scope="module")
def inverted_batch(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test digits, white on black turned black on white: same labels, another population."""
    splits = load_splits("mnist", mnist_dir)
    out = tmp_path_factory.mktemp("inverted")
    idx_format.write_images(out / MNIST_FILES["test_images"], 255 - splits.test_images[:, 0])
    idx_format.write_labels(out / MNIST_FILES["test_labels"], splits.test_labels.astype(np.uint8))
    return out


def _report(dataset: str, data_dir: Path, logs: Path, *extra: str) -> tuple[int, str]:
    args = ["report", "--dataset", dataset, "--data-dir", str(data_dir), "--request-log-dir", str(logs)]
    return invoke(app, [*args, *extra])


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def _served_image_stats(logs: Path, images: np.ndarray) -> None:
    """What serving logs per sampled request: `image_stats`, never the pixels."""
    stats = image_statistics(images)
    folder = logs / MNIST.registered_model / f"date={datetime.now(UTC):%Y-%m-%d}"
    folder.mkdir(parents=True)
    records = [
        {"model": MNIST.registered_model, "version": "1", "rows": 1, "image_stats": [{"mean": m, "std": s}]}
        for m, s in zip(stats["mean"].tolist(), stats["std"].tolist(), strict=True)
    ]
    (folder / "part-pod-1.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")


def test_mnist_same_data_reports_and_requests_nothing(
    client: MlflowClient, mnist_champion: Path, tmp_path: Path
) -> None:
    _served_image_stats(tmp_path, load_splits("mnist", mnist_champion).test_images)
    code, output = _report("mnist", mnist_champion, tmp_path)
    assert code == ExitCode.NO_RETRAIN, output
    summary = _last_line(output)
    # The test split is what training scored: the same ONNX model gives the same accuracy.
    assert "degradation +0.0%, 200 rows" in summary and "retrain no_signal" in summary
    run_id = client.get_model_version(MNIST.registered_model, "1").tags["mlops.quality.last_report_run"]
    report = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/quality/report.json"))
    assert report["performance"]["current"] == pytest.approx(report["performance"]["at_training"])
    assert [c["key"] for c in report["drift"]] == ["batch", "served"]
    assert [f["feature"] for f in report["drift"][0]["features"]] == ["mean", "std"]
    assert [f["current_n"] for f in report["drift"][1]["features"]] == [200, 200]
    assert all(f["psi"] < 0.25 for c in report["drift"] for f in c["features"])
    logged = {a.path for a in client.list_artifacts(run_id, "quality")}
    assert logged == {
        f"quality/{name}" for name in ("decision.json", "plots", "report.html", "report.json", "report.md")
    }


def test_mnist_planted_drift_requests_retraining_once_then_the_cool_down_holds(
    client: MlflowClient, mnist_champion: Path, inverted_batch: Path, tmp_path: Path
) -> None:
    code, output = _report("mnist", mnist_champion, tmp_path, "--batch-dir", str(inverted_batch))
    assert code == ExitCode.OK, output
    summary = _last_line(output)
    assert "retrain requested: accuracy degraded" in summary and "drift in held-out batch" in summary
    history = json.loads(client.get_registered_model(MNIST.registered_model).tags[HISTORY_TAG])
    assert len(history) == 1

    code, output = _report("mnist", mnist_champion, tmp_path, "--batch-dir", str(inverted_batch))
    assert code == ExitCode.NO_RETRAIN and "retrain cooldown" in _last_line(output)


def test_missing_batch_files_are_invalid_data(mnist_champion: Path, tmp_path: Path) -> None:
    code, output = _report("mnist", mnist_champion, tmp_path, "--batch-dir", str(tmp_path))
    assert code == ExitCode.INVALID_DATA and "missing MNIST test file t10k-images-idx3-ubyte" in output


def test_cifar10_report_compares_each_colour_channel(
    client: MlflowClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("cifar10")
    generate_cifar10(data, train_size=500, test_size=300, seed=2)
    logs = tmp_path_factory.mktemp("logs")
    code, output = _report("cifar10", data, logs)
    assert code == ExitCode.NO_RETRAIN and "cifar10_cnn: no champion" in _last_line(output)

    _champion("cifar10", data, tmp_path_factory.mktemp("ckpt"), "--batch-size", "50", "--min-accuracy", "0")
    code, output = _report("cifar10", data, logs)
    assert code == ExitCode.NO_RETRAIN and "retrain no_signal" in _last_line(output), output
    run_id = client.get_model_version(CIFAR10.registered_model, "1").tags["mlops.quality.last_report_run"]
    report = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/quality/report.json"))
    features = [f["feature"] for f in report["drift"][0]["features"]]
    assert features == ["mean", "std", "mean_ch0", "std_ch0", "mean_ch1", "std_ch1", "mean_ch2", "std_ch2"]
    assert "no served requests of v1" in report["notes"][-1]
