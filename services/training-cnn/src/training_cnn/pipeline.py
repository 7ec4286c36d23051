"""One training command end to end: data -> keyed MLflow run -> fit -> evaluate -> log -> release."""

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow.tracking import MlflowClient

from mlops_core.data_version import content_hash
from mlops_core.gate import GateThresholds, baseline_metric, candidate_metric
from mlops_core.logs import get_logger
from mlops_core.naming import CHALLENGER, Tag, TrackingNames, tracking_names
from mlops_core.release import GateInputs, record_gate_inputs, release
from mlops_core.run_context import collect_run_context
from mlops_core.tracking import KeyedRun, connect, mark_training_complete, open_keyed_run, resolve_run_key
from training_cnn import run_logging
from training_cnn.champion import evaluate_champion
from training_cnn.checkpoints import CheckpointStore
from training_cnn.data import ImageSplits, load_splits
from training_cnn.datasets import DatasetName
from training_cnn.evaluate import accuracy, confusion_matrix, majority_baseline_accuracy, predict_logits
from training_cnn.export import OnnxClassifier, export_onnx
from training_cnn.train import EpochCallback, EpochResult, TrainConfig, Trainer, fit, new_model

log = get_logger(__name__)

DISTRIBUTION = "training-cnn"


@dataclass(frozen=True)
class TrainRequest:
    dataset: DatasetName
    data_dir: Path
    config: TrainConfig
    device: torch.device
    checkpoint_root: Path
    thresholds: GateThresholds
    resume: bool = False
    keep_checkpoints: int = 2
    run_key: str | None = None
    tracking_uri: str | None = None
    release: bool = True


@dataclass(frozen=True)
class TrainSummary:
    dataset: str
    run_id: str
    run_key: str
    reused: bool
    test_accuracy: float
    baseline_accuracy: float
    gate_verdict: str | None
    gate_reason: str | None
    registered_model: str
    registered_version: str | None
    newly_registered: bool
    exit_code: int

    def line(self) -> str:
        gate = self.gate_verdict or "deferred (--no-release)"
        if self.registered_version is None:
            registered = "none"
        else:
            how = "" if self.newly_registered else ", already registered"
            registered = f"{self.registered_model} v{self.registered_version} ({CHALLENGER}{how})"
        trained = "reused completed run" if self.reused else "trained"
        return (
            f"{self.dataset}: {trained}; test_accuracy={self.test_accuracy:.4f} "
            f"baseline={self.baseline_accuracy:.4f} gate={gate} registered={registered} "
            f"run_key={self.run_key} run_id={self.run_id}"
        )


@dataclass(frozen=True)
class _Evaluation:
    onnx_accuracy: float
    torch_accuracy: float
    agreement: float
    matrix: np.ndarray


def _evaluate(trainer: Trainer, onnx_classifier: OnnxClassifier, splits: ImageSplits) -> _Evaluation:
    """The gate's number is the served artifact's (ONNX) accuracy; the torch model's is logged beside it."""
    labels = splits.test_labels
    onnx_predicted = onnx_classifier.predict(splits.test_images)
    torch_logits = predict_logits(trainer.model, trainer.test_images, trainer.device)
    torch_predicted = torch_logits.argmax(1).numpy()
    return _Evaluation(
        onnx_accuracy=accuracy(onnx_predicted, labels),
        torch_accuracy=accuracy(torch_predicted, labels),
        agreement=float(np.mean(onnx_predicted == torch_predicted)),
        matrix=confusion_matrix(labels, onnx_predicted, splits.spec.num_classes),
    )


def _train_and_log(
    request: TrainRequest,
    splits: ImageSplits,
    data_version: str,
    client: MlflowClient,
    names: TrackingNames,
    keyed: KeyedRun,
    on_epoch_end: EpochCallback | None,
) -> None:
    config = request.config
    store = CheckpointStore.for_run(
        request.checkpoint_root, splits.spec.name.value, keyed.run_key, request.keep_checkpoints
    )
    trainer = Trainer(new_model(splits, config), splits, config, request.device)

    def after_epoch(result: EpochResult, replayed: bool) -> None:
        run_logging.log_epoch(result)  # replayed epochs carry the values measured when they ran
        if on_epoch_end:
            on_epoch_end(result, replayed)

    with mlflow.start_run(run_id=keyed.run_id):
        mlflow.set_tag(Tag.WORKLOAD, splits.spec.workload.value)
        mean, std = (stat.flatten().tolist() for stat in (trainer.model.mean, trainer.model.std))
        run_logging.log_inputs(
            splits,
            request.data_dir,
            {
                **config.model_dump(),
                "device": str(request.device),
                "checkpoint_dir": str(store.directory),
                "normalize_mean": ",".join(f"{m:.6f}" for m in mean),
                "normalize_std": ",".join(f"{s:.6f}" for s in std),
            },
        )
        fitted = fit(trainer, data_version, store, request.resume, after_epoch)
        mlflow.set_tag("mlops.resumed_from_epoch", str(fitted.resumed_from_epoch))

        onnx_model = export_onnx(trainer.model, splits.spec.input_shape)
        evaluation = _evaluate(trainer, OnnxClassifier(onnx_model), splits)
        baseline = majority_baseline_accuracy(splits.train_labels, splits.test_labels)
        champion = evaluate_champion(client, names, splits.test_images, splits.test_labels)
        mlflow.log_metrics(
            {"torch_test_accuracy": evaluation.torch_accuracy, "onnx_torch_agreement": evaluation.agreement}
        )
        record_gate_inputs(
            client,
            keyed.run_id,
            request.thresholds,
            GateInputs(
                candidate=evaluation.onnx_accuracy,
                baseline=baseline,
                champion=champion.accuracy if champion else None,
                champion_version=champion.version if champion else None,
            ),
        )
        run_logging.log_evaluation(evaluation.matrix, splits.class_names, evaluation.onnx_accuracy)
        run_logging.log_models(trainer.model, onnx_model, splits)
        mark_training_complete(client, keyed.run_id)


def run_training(request: TrainRequest, on_epoch_end: EpochCallback | None = None) -> TrainSummary:
    """Train (or reuse the completed run for the run key), then release unless told not to."""
    splits = load_splits(request.dataset, request.data_dir)
    log.info("loaded data", summary=splits.describe())
    data_version = content_hash(splits.files)
    context = collect_run_context(data_version, distribution=DISTRIBUTION)
    client = connect(request.tracking_uri)
    names = tracking_names(splits.spec.workload)
    run_key = resolve_run_key(request.run_key, context)
    keyed = open_keyed_run(client, names, run_key, context, run_name=f"{request.dataset}-{run_key}")
    if not keyed.reused:
        _train_and_log(request, splits, data_version, client, names, keyed, on_epoch_end)

    metrics = client.get_run(keyed.run_id).data.metrics
    metric = request.thresholds.metric
    verdict = reason = version = None
    newly_registered = False
    exit_code = 0
    if request.release:
        outcome = release(client, names, keyed.run_id)
        verdict, reason, exit_code = (
            outcome.decision.verdict.value,
            outcome.decision.reason,
            int(outcome.decision.exit_code),
        )
        if outcome.version is not None:
            version, newly_registered = outcome.version.version, outcome.newly_registered
    return TrainSummary(
        dataset=request.dataset.value,
        run_id=keyed.run_id,
        run_key=run_key,
        reused=keyed.reused,
        test_accuracy=metrics[candidate_metric(metric)],
        baseline_accuracy=metrics[baseline_metric(metric)],
        gate_verdict=verdict,
        gate_reason=reason,
        registered_model=names.registered_model,
        registered_version=version,
        newly_registered=newly_registered,
        exit_code=exit_code,
    )
