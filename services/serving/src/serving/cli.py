"""`mlops-serve`: start the HTTP server (uvicorn) for the configured models' champions."""

import os
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from mlops_core.exit_codes import ExitCode
from mlops_core.logs import configure_logging
from mlops_core.tracking import connect
from serving.app import create_app
from serving.settings import ServingSettings

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def serve(
    models: Annotated[
        str | None, typer.Option(help="Comma-separated registered model names [env SERVING_MODELS].")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Bind address [env SERVING_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [env SERVING_PORT].")] = None,
    poll_interval_s: Annotated[
        float | None, typer.Option(help="Registry poll interval, seconds [env SERVING_POLL_INTERVAL_S].")
    ] = None,
    max_batch_size: Annotated[
        int | None, typer.Option(help="Rows per micro-batch [env SERVING_MAX_BATCH_SIZE].")
    ] = None,
    max_wait_ms: Annotated[
        float | None, typer.Option(help="Max wait to fill a micro-batch, ms [env SERVING_MAX_WAIT_MS].")
    ] = None,
    max_rows: Annotated[
        int | None, typer.Option(help="Rows allowed per request [env SERVING_MAX_ROWS].")
    ] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option(help="Request body limit, bytes [env SERVING_MAX_BODY_BYTES].")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes, each with every model [env SERVING_WORKERS].")
    ] = None,
    inference_threads: Annotated[
        int | None, typer.Option(help="Threads per model call [env SERVING_INFERENCE_THREADS].")
    ] = None,
    request_log_dir: Annotated[
        Path | None, typer.Option(help="Directory for sampled requests [env SERVING_REQUEST_LOG_DIR].")
    ] = None,
    request_log_sample_rate: Annotated[
        float | None, typer.Option(help="Fraction of requests sampled [env SERVING_REQUEST_LOG_SAMPLE_RATE].")
    ] = None,
    shadow_models: Annotated[
        str | None,
        typer.Option(help="Comma-separated models whose challenger is shadowed [env SERVING_SHADOW_MODELS]."),
    ] = None,
    shadow_sample_rate: Annotated[
        float | None, typer.Option(help="Fraction of requests mirrored [env SERVING_SHADOW_SAMPLE_RATE].")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(envvar="MLFLOW_TRACKING_URI", help="MLflow tracking/registry server URI.")
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request (uvicorn access log).")] = False,
) -> None:
    """Serve the `champion` version of each configured model; hot-swap when the alias moves."""
    configure_logging()
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "models": models,
            "host": host,
            "port": port,
            "poll_interval_s": poll_interval_s,
            "max_batch_size": max_batch_size,
            "max_wait_ms": max_wait_ms,
            "max_rows": max_rows,
            "max_body_bytes": max_body_bytes,
            "inference_threads": inference_threads,
            "workers": workers,
            "request_log_dir": request_log_dir,
            "request_log_sample_rate": request_log_sample_rate,
            "shadow_models": shadow_models,
            "shadow_sample_rate": shadow_sample_rate,
        }.items()
        if value is not None
    }
    try:
        settings = ServingSettings(**overrides)
    except ValidationError as exc:
        typer.echo(f"error: invalid serving settings (options or SERVING_* env):\n{exc}", err=True)
        raise typer.Exit(int(ExitCode.USAGE)) from None
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": access_log,
        "timeout_graceful_shutdown": int(settings.graceful_shutdown_s),
        "server_header": False,
        "log_config": None,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings, connect(tracking_uri)), **options)
        return
    # Worker processes build their own app from the environment: hand them the options as SERVING_* vars.
    for key, value in overrides.items():
        os.environ[f"SERVING_{key.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    uvicorn.run("serving.cli:app_from_env", factory=True, workers=settings.workers, **options)


def app_from_env() -> FastAPI:
    """One worker's app, configured from SERVING_* variables and MLFLOW_TRACKING_URI (`--workers` > 1)."""
    configure_logging()
    return create_app(ServingSettings(), connect(None))


def main() -> None:  # pragma: no cover - console entry point
    app()
