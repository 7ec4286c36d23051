"""`tick-features`: generate sample ticks, validate raw partitions, roll ticks up into features."""

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from mlops_core.cli_options import fail
from mlops_core.errors import MlopsError
from mlops_core.exit_codes import ExitCode
from mlops_core.logs import configure_logging, get_logger
from tick_features.layout import TickPaths, date_range, default_data_root

app = typer.Typer(help="Tick data: sample generator, validation, and the Spark rollup to 1-minute features.")
log = get_logger("tick_features")

DataRootOpt = Annotated[
    Path | None,
    typer.Option(
        envvar="MLOPS_DATA_ROOT", help="Data root; tick folders default to <root>/ticks/{raw,features,...}."
    ),
]
StartOpt = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First date (UTC), YYYY-MM-DD.")]
EndOpt = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last date, inclusive (default: --start).")
]
RawDirOpt = Annotated[Path | None, typer.Option(help="Raw tick partitions (default <root>/ticks/raw).")]


@app.callback()
def _main() -> None:
    configure_logging()


def _paths(data_root: Path | None, **overrides: Path | None) -> TickPaths:
    base = TickPaths.under(data_root or default_data_root())
    return TickPaths(
        **{name: overrides.get(name) or getattr(base, name) for name in base.__dataclass_fields__}
    )


@app.command()
def generate(
    start: StartOpt,
    out: Annotated[
        Path | None, typer.Option(help="Raw tick folder to write (default <root>/ticks/raw).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Consecutive days to write.")] = 3,
    symbols: Annotated[int, typer.Option(min=1, help="Number of symbols.")] = 20,
    ticks_per_day: Annotated[int, typer.Option(min=1, help="Trades per day across all symbols.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    defects_per_kind: Annotated[
        int, typer.Option(min=0, help="Bad ticks to plant per day for every quarantine reason (demo data).")
    ] = 0,
    data_root: DataRootOpt = None,
) -> None:
    """Write sample trades as `date=YYYY-MM-DD/part-00000.parquet` in the raw tick format."""
    from tick_features.defects import plant_defects
    from tick_features.generate import GeneratorConfig, generate_days, write_partition

    raw_dir = out or _paths(data_root).raw
    config = GeneratorConfig(symbols=symbols, ticks_per_day=ticks_per_day, seed=seed)
    total = 0
    for offset, (day, table) in enumerate(generate_days(start.date(), days, config)):
        if defects_per_kind:
            table, planted = plant_defects(table, defects_per_kind, seed=seed + offset)
            log.info("planted bad ticks", date=str(day), count=len(planted))
        path = write_partition(raw_dir, day, table)
        total += table.num_rows
        log.info("wrote raw partition", date=str(day), rows=table.num_rows, path=str(path))
    typer.echo(json.dumps({"raw_dir": str(raw_dir), "days": days, "ticks": total}))


@app.command()
def validate(
    start: StartOpt,
    end: EndOpt = None,
    raw_dir: RawDirOpt = None,
    data_root: DataRootOpt = None,
) -> None:
    """Check every raw file of the date range against the tick schema (exit 3 naming file and column)."""
    from tick_features.validation import validate_raw

    paths = _paths(data_root, raw=raw_dir)
    first, last = start.date(), (end or start).date()
    try:
        found = validate_raw(paths.raw, date_range(first, last))
    except MlopsError as exc:
        raise fail(exc) from exc
    summary = {
        "raw_dir": str(paths.raw),
        "files": len(found.files),
        "ticks": sum(found.rows_by_date().values()),
        "dates": [d.isoformat() for d in found.dates],
        "dates_without_raw": [d.isoformat() for d in found.missing_dates],
    }
    typer.echo(json.dumps(summary))
    if not found.files:
        typer.echo(f"error: {paths.raw}: no raw tick partitions for {first}..{last}", err=True)
        raise typer.Exit(int(ExitCode.INVALID_DATA))


@app.command()
def rollup(
    start: StartOpt,
    end: EndOpt = None,
    raw_dir: RawDirOpt = None,
    features_dir: Annotated[
        Path | None, typer.Option(help="Output features (default <root>/ticks/features).")
    ] = None,
    quarantine_dir: Annotated[
        Path | None, typer.Option(help="Output quarantine (default <root>/ticks/quarantine).")
    ] = None,
    manifest_dir: Annotated[
        Path | None, typer.Option(help="Output manifests (default <root>/ticks/manifests).")
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(
            help="Spark master: local[*] (default), k8s://https://<api-server>, ... (env SPARK_MASTER)."
        ),
    ] = None,
    conf: Annotated[list[str] | None, typer.Option(help="Spark setting key=value; repeatable.")] = None,
    data_root: DataRootOpt = None,
) -> None:
    """Roll raw ticks up into 1-minute bars with features; rewrites exactly the dates in the range."""
    from tick_features.rollup import run_rollup
    from tick_features.session import resolve_session_spec, start_session
    from tick_features.validation import validate_range

    paths = _paths(
        data_root, raw=raw_dir, features=features_dir, quarantine=quarantine_dir, manifests=manifest_dir
    )
    first, last = start.date(), (end or start).date()
    if last < first:
        typer.echo(f"error: --end {last} is before --start {first}", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    try:
        spec = resolve_session_spec(master, conf or [])
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(int(ExitCode.USAGE)) from exc
    try:
        validate_range(paths.raw, first, last)  # fail fast, before a JVM starts
        spark = start_session(spec)
        try:
            summary = run_rollup(spark, paths, first, last)
        finally:
            spark.stop()
    except MlopsError as exc:
        raise fail(exc) from exc
    log.info("rollup finished", **json.loads(summary.model_dump_json()))
    typer.echo(summary.model_dump_json())
