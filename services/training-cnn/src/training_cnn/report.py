"""`cnn-data report`: the image champion (its ONNX model, run as serving runs it) on a held-out labelled
batch, against its test accuracy at training time, plus drift of per-image statistics.

The batch is the data dir's test split, or the test files of `--batch-dir` in the same format (MNIST
`t10k-*` IDX files; CIFAR-10 `test_batch.bin`). Drift compares per-image pixel statistics on the 0..255
scale (mean and standard deviation over all pixels, as serving logs them, and per channel for colour
images) of the training split against the batch and against served requests. No image is logged.
Torch and MLflow are imported when a report runs.
"""

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from mlops_core.cli_management import (
    CooldownOpt,
    DailyBudgetOpt,
    MaxDegradationOpt,
    MaxPsiOpt,
    MinDriftRowsOpt,
    RequestLogDaysOpt,
    RequestLogDirOpt,
    TrackingUriOpt,
    data_root,
    default_request_log_dir,
    retrain_policy,
    run_report_command,
)
from mlops_core.data_version import content_hash
from mlops_core.drift import compare_features
from mlops_core.errors import DataValidationError, MlopsError
from mlops_core.logs import get_logger, stage
from mlops_core.naming import Tag
from mlops_core.quality import DriftComparison, PerformanceComparison, QualityReport
from mlops_core.served_requests import IMAGE_STATS_FIELD, served_drift
from training_cnn import cifar_format, idx_format
from training_cnn.data import CIFAR_TEST, MNIST_FILES, ImageSplits, cifar_batches_dir, load_splits
from training_cnn.datasets import DatasetName, DatasetSpec, dataset_spec

if TYPE_CHECKING:
    from mlops_core.monitoring import ChampionUnderReview, ReportOutcome
    from mlops_core.retrain_policy import RetrainPolicy

log = get_logger(__name__)
DISTRIBUTION = "training-cnn"
# The statistics serving logs per image (`image_stats`), in the same definitions.
SERVED_STATISTICS = ("mean", "std")


def image_statistics(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image mean and std over all pixels (0..255), and per channel when there is more than one."""
    count, channels = images.shape[:2]
    pixels = images.reshape(count, channels, -1).astype(np.float64)
    stats = {"mean": pixels.reshape(count, -1).mean(1), "std": pixels.reshape(count, -1).std(1)}
    if channels > 1:
        for channel in range(channels):
            stats[f"mean_ch{channel}"] = pixels[:, channel].mean(1)
            stats[f"std_ch{channel}"] = pixels[:, channel].std(1)
    return stats


def _mnist_test_file(batch_dir: Path, stem: str) -> Path:
    for candidate in (batch_dir / stem, batch_dir / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataValidationError(f"{batch_dir}: missing MNIST test file {stem} (or {stem}.gz)")


def load_labelled_batch(spec: DatasetSpec, batch_dir: Path) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """`(images (n, C, H, W) uint8, labels, files)` from the test files of a dataset-format directory."""
    if not batch_dir.is_dir():
        raise DataValidationError(f"{batch_dir}: batch directory does not exist")
    if spec.name is DatasetName.MNIST:
        images_path = _mnist_test_file(batch_dir, MNIST_FILES["test_images"])
        labels_path = _mnist_test_file(batch_dir, MNIST_FILES["test_labels"])
        images = idx_format.read_images(images_path, rows=spec.side, cols=spec.side)[:, None, :, :]
        labels = idx_format.read_labels(labels_path, num_classes=spec.num_classes)
        files = [images_path, labels_path]
    else:
        path = cifar_batches_dir(batch_dir) / CIFAR_TEST
        if not path.is_file():
            raise DataValidationError(f"{path.parent}: missing CIFAR-10 test batch {CIFAR_TEST}")
        images, labels = cifar_format.read_batch(path, spec.num_classes)
        files = [path]
    if len(images) != len(labels):
        raise DataValidationError(f"{files[-1]}: holds {len(labels)} labels for {len(images)} images")
    if len(images) == 0:
        raise DataValidationError(f"{files[0]}: holds no images")
    return images, labels.astype(np.int64), files


def _accuracy_now(champion: "ChampionUnderReview", images: np.ndarray, labels: np.ndarray) -> float:
    import mlflow.onnx

    from training_cnn.evaluate import accuracy
    from training_cnn.export import OnnxClassifier

    try:
        classifier = OnnxClassifier(mlflow.onnx.load_model(champion.uri))
        return accuracy(classifier.predict(images), labels)
    except Exception as exc:  # an unreadable or incompatible champion: say which and why
        raise MlopsError(f"could not evaluate champion {champion.uri} on the batch: {exc}") from exc


def build_cnn_report(
    champion: "ChampionUnderReview",
    splits: ImageSplits,
    batch_dir: Path | None,
    request_log_dir: Path,
    request_log_days: int,
    now: datetime,
) -> QualityReport:
    spec = splits.spec
    notes: list[str] = []
    if batch_dir is None:
        images, labels, files = splits.test_images, splits.test_labels, list(splits.files)
        batch = f"test split of the training data ({len(labels)} images)"
    else:
        images, labels, files = load_labelled_batch(spec, batch_dir)
        batch = f"labelled batch {batch_dir} ({len(labels)} images)"
    if content_hash(splits.files) != champion.run.data.tags.get(Tag.DATA_VERSION):
        notes.append("the data dir is not the data the champion was trained on (data version differs)")
    metric = champion.thresholds.metric
    at_training = champion.metric_at_training
    if metric != "accuracy" or at_training is None:
        raise MlopsError(f"champion run {champion.run.info.run_id} has no test_accuracy gate metric")
    with stage(log, "score", images=len(labels)):
        current = _accuracy_now(champion, images, labels)
    performance = PerformanceComparison(
        metric=metric,
        greater_is_better=champion.thresholds.greater_is_better,
        at_training=at_training,
        current=current,
        rows=len(labels),
        data=batch,
    )
    reference = image_statistics(splits.train_images)
    training = f"training split ({len(splits.train_labels)} images)"
    drift = [
        DriftComparison(
            name="held-out batch",
            key="batch",
            reference=training,
            current=batch,
            features=compare_features(reference, image_statistics(images)),
        )
    ]
    served, served_notes = served_drift(
        champion,
        request_log_dir,
        IMAGE_STATS_FIELD,
        request_log_days,
        now.date(),
        reference={k: reference[k] for k in SERVED_STATISTICS},
        reference_label=training,
    )
    notes += served_notes
    if served is not None:
        drift.append(served)
    return champion.quality_report(spec.workload.value, now, content_hash(files), performance, drift, notes)


def report_cnn_quality(
    dataset: DatasetName,
    data_dir: Path,
    batch_dir: Path | None,
    request_log_dir: Path,
    request_log_days: int,
    policy: "RetrainPolicy",
    tracking_uri: str | None,
) -> "ReportOutcome":
    from mlops_core.monitoring import review_champion

    return review_champion(
        tracking_uri,
        dataset_spec(dataset).workload,
        # Data is loaded only once there is a champion to score.
        lambda champion, now: build_cnn_report(
            champion, load_splits(dataset, data_dir), batch_dir, request_log_dir, request_log_days, now
        ),
        policy,
        DISTRIBUTION,
    )


def report(
    dataset: Annotated[
        DatasetName, typer.Option(help="Dataset (and so workload) whose champion to report on.")
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Training data (train split = drift reference). Default: $MLOPS_DATA_ROOT/<dataset>."
        ),
    ] = None,
    batch_dir: Annotated[
        Path | None,
        typer.Option(
            help="Held-out labelled batch in the same format (its test files). Default: the test split."
        ),
    ] = None,
    request_log_dir: RequestLogDirOpt = None,
    request_log_days: RequestLogDaysOpt = 7,
    max_degradation: MaxDegradationOpt = 0.05,
    max_psi: MaxPsiOpt = 0.25,
    cooldown: CooldownOpt = "1d",
    daily_budget: DailyBudgetOpt = 1,
    min_drift_rows: MinDriftRowsOpt = 100,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Quality report of the dataset's champion; exit 0 = retrain requested, 20 = not (the output says why)."""
    policy = retrain_policy(max_degradation, max_psi, cooldown, daily_budget, min_drift_rows)
    data = data_dir or data_root() / dataset.value
    logs = default_request_log_dir(request_log_dir)
    run_report_command(
        lambda: report_cnn_quality(dataset, data, batch_dir, logs, request_log_days, policy, tracking_uri)
    )
