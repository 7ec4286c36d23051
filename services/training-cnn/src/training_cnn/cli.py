"""`train-cnn`: train the MNIST or CIFAR-10 CNN, log it to MLflow and (by default) release it."""

import os
from pathlib import Path
from typing import Annotated

import typer

from mlops_core.cli_options import ReleaseOpt, TrackingUriOpt, TrainingRunKeyOpt
from mlops_core.errors import MlopsError
from mlops_core.exit_codes import ExitCode
from mlops_core.gate import GateThresholds
from mlops_core.logs import configure_logging
from training_cnn.datasets import DatasetName, dataset_spec
from training_cnn.device import configure_cpu_threads, resolve_device
from training_cnn.pipeline import TrainRequest, run_training
from training_cnn.train import TrainConfig

ENV_DATA_ROOT = "MLOPS_DATA_ROOT"
ENV_CHECKPOINT_DIR = "MLOPS_CHECKPOINT_DIR"

app = typer.Typer(help=__doc__, add_completion=False)


def _data_dir(explicit: Path | None, dataset: DatasetName) -> Path:
    if explicit is not None:
        return explicit
    if root := os.environ.get(ENV_DATA_ROOT):
        return Path(root) / dataset.value
    raise typer.BadParameter(f"pass --data-dir or set {ENV_DATA_ROOT}", param_hint="--data-dir")


@app.command()
def train(
    dataset: Annotated[DatasetName, typer.Option(help="Which workload to train.")],
    data_dir: Annotated[
        Path | None,
        typer.Option(help=f"Dataset directory in the real format (default: ${ENV_DATA_ROOT}/<dataset>)."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Epochs (default: 5 mnist, 10 cifar10).")] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=2, help="Batch size (default: 64 mnist, 512 cifar10).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option(min=0.0, help="Peak learning rate (default: 0.01 mnist, 0.2 cifar10).")
    ] = None,
    width: Annotated[int | None, typer.Option(min=1, help="Base channel width (default: 32 / 64).")] = None,
    augment: Annotated[
        bool | None,
        typer.Option("--augment/--no-augment", help="Random crops and flips (default: cifar10 only)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for initialization, shuffling and augmentation.")] = 0,
    device: Annotated[str, typer.Option(help="auto (cuda when present), cpu or cuda[:N].")] = "auto",
    cpu_threads: Annotated[
        int | None,
        typer.Option(
            min=1, envvar="MLOPS_CPU_THREADS", help="torch CPU threads (default: the cgroup CPU quota)."
        ),
    ] = None,
    compile_model: Annotated[
        bool, typer.Option("--compile/--no-compile", help="torch.compile the training forward pass.")
    ] = False,
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(envvar=ENV_CHECKPOINT_DIR, help="Checkpoint root (default: <data-dir>/../checkpoints)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume/--no-resume", help="Continue from the run key's latest checkpoint.")
    ] = False,
    keep_checkpoints: Annotated[int, typer.Option(min=1, help="How many epoch checkpoints to keep.")] = 2,
    run_key: TrainingRunKeyOpt = None,
    tracking_uri: TrackingUriOpt = None,
    release: ReleaseOpt = True,
    min_accuracy: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Gate: absolute accuracy floor (default: 0.9 / 0.5)."),
    ] = None,
    min_improvement: Annotated[
        float,
        typer.Option(min=0.0, max=0.999, help="Gate: relative margin over the majority-class baseline."),
    ] = 0.0,
    champion_tolerance: Annotated[
        float, typer.Option(min=0.0, help="Gate: relative slack allowed against the champion.")
    ] = 0.0,
) -> None:
    """Train, log to MLflow, and gate + register the ONNX model as `challenger` when it passes."""
    configure_logging()
    configure_cpu_threads(cpu_threads)
    spec = dataset_spec(dataset)
    data_root = _data_dir(data_dir, dataset)
    config = TrainConfig(
        epochs=epochs or spec.epochs,
        batch_size=batch_size or spec.batch_size,
        lr=lr or spec.lr,
        width=width or spec.width,
        augment=spec.augment if augment is None else augment,
        label_smoothing=spec.label_smoothing,
        seed=seed,
        compile=compile_model,
    )
    request = TrainRequest(
        dataset=dataset,
        data_dir=data_root,
        config=config,
        device=resolve_device(device),
        checkpoint_root=checkpoint_dir or data_root.resolve().parent / "checkpoints",
        thresholds=GateThresholds(
            metric="accuracy",
            greater_is_better=True,
            min_improvement=min_improvement,
            min_value=spec.min_accuracy if min_accuracy is None else min_accuracy,
            champion_tolerance=champion_tolerance,
        ),
        resume=resume,
        keep_checkpoints=keep_checkpoints,
        run_key=run_key,
        tracking_uri=tracking_uri,
        release=release,
    )
    try:
        summary = run_training(request)
    except MlopsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(int(exc.exit_code)) from exc
    typer.echo(summary.line())
    if summary.gate_reason and summary.exit_code != ExitCode.OK:
        typer.echo(f"gate refused: {summary.gate_reason}", err=True)
    raise typer.Exit(summary.exit_code)


def main() -> None:  # pragma: no cover - console entry point
    app()
