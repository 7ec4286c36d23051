"""CLI for the tick workload: `train-lgbm tick` and `train-lgbm validate tick`."""

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from mlops_core.cli_options import ReleaseOpt, TrackingUriOpt, TrainingRunKeyOpt, fail
from mlops_core.errors import MlopsError
from mlops_core.exit_codes import ExitCode
from mlops_core.logs import configure_logging
from training_lgbm.tick.data import load_window
from training_lgbm.tick.evaluate import DEFAULT_THRESHOLDS
from training_lgbm.tick.model import ModelConfig


def tick_folders(
    data_dir: Path | None, features_dir: Path | None, manifest_dir: Path | None
) -> tuple[Path, Path]:
    """Features and manifests: explicit, else beside each other (the rollup's layout) under the tick folder."""
    ticks = data_dir or Path(os.environ.get("MLOPS_DATA_ROOT", ".data")) / "ticks"
    features = features_dir or ticks / "features"
    return features, manifest_dir or features.parent / "manifests"


DataDirOpt = Annotated[
    Path | None,
    typer.Option(help="Tick data folder holding features/ and manifests/. Default: $MLOPS_DATA_ROOT/ticks."),
]
FeaturesDirOpt = Annotated[
    Path | None, typer.Option(help="Feature partitions (date=YYYY-MM-DD). Default: <data-dir>/features.")
]
ManifestDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Partition manifests (date=YYYY-MM-DD.json). Default: 'manifests' beside the features."
    ),
]
EndDateOpt = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Last partition of the window (default: the latest one)."),
]
WindowDaysOpt = Annotated[int, typer.Option(min=1, help="Calendar days of partitions, ending at --end-date.")]


def train(
    data_dir: DataDirOpt = None,
    features_dir: FeaturesDirOpt = None,
    manifest_dir: ManifestDirOpt = None,
    end_date: EndDateOpt = None,
    window_days: WindowDaysOpt = 5,
    run_key: TrainingRunKeyOpt = None,
    tracking_uri: TrackingUriOpt = None,
    release: ReleaseOpt = True,
    min_improvement: Annotated[
        float, typer.Option(help="Relative AUC margin over the majority-class baseline (AUC 0.5) required.")
    ] = DEFAULT_THRESHOLDS.min_improvement,
    min_auc: Annotated[float | None, typer.Option(help="Absolute AUC floor, if any.")] = None,
    champion_tolerance: Annotated[
        float, typer.Option(help="Relative AUC slack allowed against the champion.")
    ] = 0.0,
    num_boost_round: Annotated[int, typer.Option(help="Upper bound on boosting rounds.")] = 500,
    learning_rate: Annotated[float, typer.Option()] = 0.05,
    num_leaves: Annotated[int, typer.Option()] = 15,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Train the next-bar direction classifier, evaluate it and (by default) gate and register it."""
    configure_logging()
    # Imported here so `validate` starts without loading mlflow.
    from training_lgbm.tick.train import TickTrainingRequest, train_tick

    features, manifests = tick_folders(data_dir, features_dir, manifest_dir)
    request = TickTrainingRequest(
        features_dir=features,
        manifest_dir=manifests,
        end_date=end_date.date() if end_date else None,
        window_days=window_days,
        run_key=run_key,
        tracking_uri=tracking_uri,
        release=release,
        thresholds=DEFAULT_THRESHOLDS.model_copy(
            update={
                "min_improvement": min_improvement,
                "min_value": min_auc,
                "champion_tolerance": champion_tolerance,
            }
        ),
        model=ModelConfig(
            learning_rate=learning_rate, num_leaves=num_leaves, num_boost_round=num_boost_round, seed=seed
        ),
    )
    try:
        result = train_tick(request)
    except MlopsError as exc:
        raise fail(exc, exc.exit_code) from exc
    except ValueError as exc:
        raise fail(exc, ExitCode.USAGE) from exc
    typer.echo(result.summary())
    raise typer.Exit(int(result.exit_code))


def validate(
    data_dir: DataDirOpt = None,
    features_dir: FeaturesDirOpt = None,
    manifest_dir: ManifestDirOpt = None,
    end_date: EndDateOpt = None,
    window_days: WindowDaysOpt = 5,
) -> None:
    """Check the window's partitions against their manifests and the feature schema (exit 3 when not)."""
    configure_logging()
    features, manifests = tick_folders(data_dir, features_dir, manifest_dir)
    try:
        window = load_window(features, manifests, end_date.date() if end_date else None, window_days)
    except MlopsError as exc:
        raise fail(exc, exc.exit_code) from exc
    frame = window.frame
    typer.echo(
        f"ok {len(window.dates)} partitions {window.dates[0]}..{window.dates[-1]}: {len(frame)} labelled bars, "
        f"{frame['symbol'].nunique()} symbols, up-rate {frame['up'].mean():.3f}, data version {window.data_version}"
    )
