"""CLI for the power workload: `train-lgbm power`, `train-lgbm validate power`, `train-lgbm generate power`."""

import os
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from mlops_core.cli_options import ReleaseOpt, TrackingUriOpt, TrainingRunKeyOpt, fail
from mlops_core.errors import MlopsError
from mlops_core.exit_codes import ExitCode
from mlops_core.logs import configure_logging
from training_lgbm.power import schema
from training_lgbm.power.data import OnBadRows, load_household_power, resolve_data_file
from training_lgbm.power.evaluate import DEFAULT_THRESHOLDS
from training_lgbm.power.features import FeatureConfig
from training_lgbm.power.model import ModelConfig
from training_lgbm.power.sample import SampleSpec, write_sample


def _default_data_dir() -> Path:
    return Path(os.environ.get("MLOPS_DATA_ROOT", ".data")) / "power"


DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        help=f"Directory holding {schema.DEFAULT_FILENAME} (or the file). Default: $MLOPS_DATA_ROOT/power."
    ),
]
OnBadRowsOpt = Annotated[
    OnBadRows,
    typer.Option(help="'error' stops at the first malformed row; 'skip' quarantines and counts them."),
]


def train(
    data_dir: DataDirOpt = None,
    run_key: TrainingRunKeyOpt = None,
    tracking_uri: TrackingUriOpt = None,
    release: ReleaseOpt = True,
    frequency: Annotated[
        str, typer.Option(help="Resampling period (pandas offset), e.g. 1h or 15min.")
    ] = "1h",
    min_improvement: Annotated[
        float, typer.Option(help="Relative MAE improvement over the seasonal-naive baseline required.")
    ] = DEFAULT_THRESHOLDS.min_improvement,
    champion_tolerance: Annotated[
        float, typer.Option(help="Relative slack allowed against the champion.")
    ] = 0.0,
    num_boost_round: Annotated[int, typer.Option(help="Upper bound on boosting rounds.")] = 2000,
    learning_rate: Annotated[float, typer.Option()] = 0.05,
    num_leaves: Annotated[int, typer.Option()] = 63,
    seed: Annotated[int, typer.Option()] = 42,
    on_bad_rows: OnBadRowsOpt = OnBadRows.ERROR,
    quarantine: Annotated[
        Path | None, typer.Option(help="CSV receiving skipped rows with line and reason.")
    ] = None,
) -> None:
    """Train the household power forecaster, evaluate it and (by default) gate and register it."""
    configure_logging()
    # Imported here so `validate` and `generate` start without loading mlflow.
    from training_lgbm.power.workflow import PowerTrainingRequest, train_power

    request = PowerTrainingRequest(
        data_file=resolve_data_file(data_dir or _default_data_dir()),
        run_key=run_key,
        tracking_uri=tracking_uri,
        release=release,
        thresholds=DEFAULT_THRESHOLDS.model_copy(
            update={"min_improvement": min_improvement, "champion_tolerance": champion_tolerance}
        ),
        features=FeatureConfig(frequency=frequency),
        model=ModelConfig(
            learning_rate=learning_rate, num_leaves=num_leaves, num_boost_round=num_boost_round, seed=seed
        ),
        on_bad_rows=on_bad_rows,
        quarantine=quarantine,
    )
    try:
        result = train_power(request)
    except MlopsError as exc:
        raise fail(exc, exc.exit_code) from exc
    except ValueError as exc:
        raise fail(exc, ExitCode.USAGE) from exc
    typer.echo(result.summary())
    raise typer.Exit(int(result.exit_code))


def validate(data_dir: DataDirOpt = None, on_bad_rows: OnBadRowsOpt = OnBadRows.ERROR) -> None:
    """Check the power file parses (exit 3 naming file and line when it does not)."""
    configure_logging()
    path = resolve_data_file(data_dir or _default_data_dir())
    try:
        data = load_household_power(path, on_bad_rows)
    except MlopsError as exc:
        raise fail(exc, exc.exit_code) from exc
    frame = data.frame
    typer.echo(
        f"ok {path}: {data.rows_read} rows, {data.missing_rows} missing, {len(data.bad_rows)} malformed, "
        f"{frame.index.min()} .. {frame.index.max()}"
    )


def generate(
    out: Annotated[
        Path | None, typer.Option(help="Output directory (or file). Default: $MLOPS_DATA_ROOT/power.")
    ] = None,
    days: Annotated[
        int, typer.Option(min=8, help="Days of minute readings (>= 8: a week feeds the lags).")
    ] = 400,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day.")] = datetime(
        2006, 12, 16
    ),
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Write sample readings in the exact UCI format."""
    configure_logging()
    target = resolve_data_file(out or _default_data_dir())
    spec = SampleSpec(start=date(start.year, start.month, start.day), days=days, seed=seed)
    typer.echo(f"wrote {write_sample(target, spec)}")
