"""Model-management CLI pieces: `mlops hygiene`, and the options every workload's `report` command shares.

Report commands live in each workload's image (they need its data loaders and model runtime) but take
the same policy options, end the same way (summary line, exit 0 = retrain requested, 20 = not) and map
errors to the same exit codes; that part is here so the contract with the DAG has one home.
MLflow is imported only when a command runs, so workload CLIs that import these options start fast.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_core.cli_options import TrackingUriOpt
from mlops_core.errors import MlopsError
from mlops_core.logs import configure_logging
from mlops_core.naming import Workload, tracking_names

if TYPE_CHECKING:
    from mlops_core.monitoring import ReportOutcome
    from mlops_core.retrain_policy import RetrainPolicy

# --- options shared by every `report` command ---------------------------------------------------
MaxDegradationOpt = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Relative worsening of the gate metric vs the champion's training-time test value that triggers "
        "retraining (0.1 = 10 %).",
    ),
]
MaxPsiOpt = Annotated[
    float, typer.Option(min=0.0, help="Population stability index of any feature that triggers retraining.")
]
CooldownOpt = Annotated[
    str, typer.Option(help="No new retrain request this soon after the last one: 30m, 6h, 1d, 43200s.")
]
DailyBudgetOpt = Annotated[int, typer.Option(min=0, help="Retrain requests allowed in any 24 hours.")]
MinDriftRowsOpt = Annotated[
    int, typer.Option(min=1, help="Drift counts only when both samples have at least this many values.")
]
RequestLogDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Served-request samples (the serving service's layout). Default: $MLOPS_DATA_ROOT/request-logs."
    ),
]
RequestLogDaysOpt = Annotated[int, typer.Option(min=1, help="Days of served-request samples to compare.")]


def data_root() -> Path:
    return Path(os.environ.get("MLOPS_DATA_ROOT", ".data"))


def default_request_log_dir(explicit: Path | None) -> Path:
    return explicit or data_root() / "request-logs"


def retrain_policy(
    max_degradation: float, max_psi: float, cooldown: str, daily_budget: int, min_drift_rows: int
) -> "RetrainPolicy":
    """The policy from the shared options; a bad value is a usage error (exit 2)."""
    from mlops_core.retrain_policy import RetrainPolicy, parse_duration

    try:
        return RetrainPolicy(
            max_degradation=max_degradation,
            max_psi=max_psi,
            cooldown=parse_duration(cooldown),
            daily_budget=daily_budget,
            min_drift_rows=min_drift_rows,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def run_report_command(build: Callable[[], "ReportOutcome"]) -> None:
    """Run a report, print its one-line summary last, exit with its code (3 bad data, 1 other errors)."""
    try:
        outcome = build()
    except MlopsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(int(exc.exit_code)) from exc
    typer.echo(outcome.summary())
    raise typer.Exit(int(outcome.exit_code))


# --- mlops hygiene --------------------------------------------------------------------------------
def hygiene(
    workload: Annotated[Workload, typer.Option(help="Workload whose registered model to tidy.")],
    max_age_days: Annotated[
        float, typer.Option(min=0.0, help="Archive versions older than this many days.")
    ] = 30.0,
    keep_last: Annotated[int, typer.Option(min=0, help="Never archive the newest N versions.")] = 3,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would change; change nothing.")
    ] = False,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Archive (tag, never delete) old versions that are neither `champion` nor `challenger` nor the newest."""
    from mlops_core.hygiene import run_hygiene
    from mlops_core.tracking import connect

    configure_logging()
    model = tracking_names(workload).registered_model
    result = run_hygiene(connect(tracking_uri), model, max_age_days, keep_last, dry_run)
    if result is None:
        typer.echo(f"{model}: not registered yet; nothing to do")
        return
    for line in result.lines():
        typer.echo(line)
