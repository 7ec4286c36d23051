"""Command-line options and error exits every platform CLI shares, so each flag means one thing everywhere.

No MLflow import: workload CLIs import these at start-up.
"""

from typing import Annotated

import typer

from mlops_core.errors import MlopsError
from mlops_core.exit_codes import ExitCode

TrackingUriOpt = Annotated[
    str | None, typer.Option(envvar="MLFLOW_TRACKING_URI", help="MLflow tracking server URI.")
]
TrainingRunKeyOpt = Annotated[
    str | None,
    typer.Option(help="Idempotency key (default: the Airflow DAG run, else a unique ad-hoc key)."),
]
ReleaseOpt = Annotated[
    bool,
    typer.Option("--release/--no-release", help="Gate and register in-process (the DAG gates separately)."),
]


def fail(exc: Exception, code: ExitCode | None = None) -> typer.Exit:
    """Print `error: <exc>` to stderr; exit with `code`, or the error's own code for an MlopsError."""
    typer.echo(f"error: {exc}", err=True)
    if code is None:
        code = exc.exit_code if isinstance(exc, MlopsError) else ExitCode.FAILURE
    return typer.Exit(int(code))
