"""The rollup job: raw ticks of a date range -> quarantine, 1-minute bars with features, manifests.

Outputs are Parquet partitioned by `date=` and written with dynamic partition overwrite, so a run
replaces exactly the dates it covers. Every raw tick ends up either in a bar or in the quarantine;
the job checks that count before writing manifests.
"""

import time
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from mlops_core.errors import MlopsError
from mlops_core.logs import get_logger
from mlops_core.run_context import collect_run_context
from tick_features.bars import minute_bars, with_features
from tick_features.layout import TickPaths, partition_dir
from tick_features.manifest import PartitionManifest, RawFileEntry, write_manifest
from tick_features.partition_stats import feature_partition_stats, quarantine_counts
from tick_features.quality import ARRIVAL, arrival_file_rank, arrival_order, arrival_row, classify
from tick_features.schema import (
    FEATURE_SCHEMA_VERSION,
    PARTITION_COLUMN,
    RAW_COLUMNS,
)
from tick_features.validation import RawPartitions, validate_range

log = get_logger(__name__)
DISTRIBUTION = "tick-features"

RAW_SPARK_SCHEMA = T.StructType(
    [
        T.StructField("ts", T.TimestampType()),
        T.StructField("symbol", T.StringType()),
        T.StructField("price", T.DoubleType()),
        T.StructField("size", T.LongType()),
        T.StructField("side", T.StringType()),
        T.StructField("bid", T.DoubleType()),
        T.StructField("ask", T.DoubleType()),
        T.StructField(PARTITION_COLUMN, T.DateType()),
    ]
)
# Settings the job's semantics depend on, applied even to a session someone else built.
REQUIRED_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


class RollupSummary(BaseModel):
    start: date
    end: date
    partitions_written: list[date]
    dates_without_raw: list[date]
    raw_ticks: int
    clean_ticks: int
    bars: int
    quarantined: dict[str, int]
    seconds: float


def read_raw_ticks(spark: SparkSession, raw_dir: Path, raw: RawPartitions) -> DataFrame:
    """The requested partitions: raw columns, `date`, and `arrival` (file rank and row index)."""
    rank = {name: i for i, name in enumerate(_file_names(raw))}
    rank_of = F.create_map(*[F.lit(v) for name, i in rank.items() for v in (name, i)])
    frame = (
        spark.read.schema(RAW_SPARK_SCHEMA)
        .option("basePath", str(raw_dir))
        .parquet(*[str(partition_dir(raw_dir, day)) for day in raw.dates])
    )
    return frame.select(
        *RAW_COLUMNS,
        PARTITION_COLUMN,
        arrival_order(rank_of[F.col("_metadata.file_name")], F.col("_metadata.row_index")).alias(ARRIVAL),
    )


def _file_names(raw: RawPartitions) -> list[str]:
    return sorted({f.path.name for f in raw.files})


def quarantine_rows(classified: DataFrame, raw: RawPartitions) -> DataFrame:
    """Quarantined ticks with their reason and origin (`date=.../file`, row index in that file)."""
    name_of = F.create_map(*[F.lit(v) for i, name in enumerate(_file_names(raw)) for v in (i, name)])
    source_file = F.concat(
        F.lit(f"{PARTITION_COLUMN}="),
        F.col(PARTITION_COLUMN).cast("string"),
        F.lit("/"),
        name_of[arrival_file_rank(F.col(ARRIVAL))],
    )
    return classified.where(F.col("reason").isNotNull()).select(
        *RAW_COLUMNS,
        PARTITION_COLUMN,
        "reason",
        source_file.alias("source_file"),
        arrival_row(F.col(ARRIVAL)).alias("source_row"),
    )


def _write_partitioned(frame: DataFrame, path: Path, sort_by: list[str]) -> None:
    (
        frame.repartition(PARTITION_COLUMN)
        .sortWithinPartitions(*sort_by)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(PARTITION_COLUMN)
        .parquet(str(path))
    )


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _remove_unrewritten(base: Path, dates: list[date], before: dict[date, set[str]]) -> None:
    """A date with no output rows keeps its old files under dynamic overwrite; remove those."""
    for day in dates:
        folder = partition_dir(base, day)
        if before[day] and _files(folder) == before[day]:
            log.info("removing stale partition with no rows in this run", path=str(folder))
            for child in folder.iterdir():
                child.unlink()
            folder.rmdir()


def run_rollup(spark: SparkSession, paths: TickPaths, start: date, end: date) -> RollupSummary:
    began = time.perf_counter()
    for key, value in REQUIRED_SQL_CONF.items():
        spark.conf.set(key, value)
    raw = validate_range(paths.raw, start, end)
    if raw.missing_dates:
        log.warning("dates without raw ticks are skipped", dates=[d.isoformat() for d in raw.missing_dates])
    dates = raw.dates
    log.info("rollup started", start=str(start), end=str(end), partitions=len(dates), files=len(raw.files))

    features_before = {day: _files(partition_dir(paths.features, day)) for day in dates}
    quarantine_before = {day: _files(partition_dir(paths.quarantine, day)) for day in dates}

    ticks = read_raw_ticks(spark, paths.raw, raw).repartition(PARTITION_COLUMN, "symbol")
    classified = classify(ticks).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        _write_partitioned(quarantine_rows(classified, raw), paths.quarantine, ["source_file", "source_row"])
        log.info("quarantine written", path=str(paths.quarantine))
        features = with_features(minute_bars(classified.where(F.col("reason").isNull())))
        _write_partitioned(features, paths.features, ["symbol", "bar_start"])
        log.info("features written", path=str(paths.features))
    finally:
        classified.unpersist()
    _remove_unrewritten(paths.features, dates, features_before)
    _remove_unrewritten(paths.quarantine, dates, quarantine_before)

    stats = {day: feature_partition_stats(partition_dir(paths.features, day)) for day in dates}
    quarantined = {day: quarantine_counts(partition_dir(paths.quarantine, day)) for day in dates}
    raw_rows = raw.rows_by_date()
    context = collect_run_context("n/a", DISTRIBUTION)
    written_at = datetime.now(UTC).isoformat(timespec="seconds")
    for day in dates:
        day_stats = stats[day]
        dropped = raw_rows[day] - day_stats.clean_ticks - sum(quarantined[day].values())
        if dropped != 0:
            raise MlopsError(f"date={day}: {dropped} raw ticks are neither in a bar nor in the quarantine")
        manifest = PartitionManifest(
            date=day,
            schema_version=FEATURE_SCHEMA_VERSION,
            job_version=context.code_version,
            git_sha=context.git_sha,
            written_at=written_at,
            raw_files=[
                RawFileEntry(file=str(f.path.relative_to(paths.raw)), rows=f.rows)
                for f in raw.files
                if f.day == day
            ],
            raw_ticks=raw_rows[day],
            clean_ticks=day_stats.clean_ticks,
            quarantined=dict(sorted(quarantined[day].items())),
            bars=day_stats.bars,
            symbols=day_stats.symbols,
            features_checksum=day_stats.checksum,
            features_path=str(partition_dir(paths.features, day)),
            quarantine_path=str(partition_dir(paths.quarantine, day)),
        )
        write_manifest(paths.manifests, manifest)
        log.info(
            "partition done", date=str(day), bars=day_stats.bars, quarantined=sum(quarantined[day].values())
        )

    totals: dict[str, int] = {}
    for by_reason in quarantined.values():
        for reason, count in by_reason.items():
            totals[reason] = totals.get(reason, 0) + count
    return RollupSummary(
        start=start,
        end=end,
        partitions_written=dates,
        dates_without_raw=raw.missing_dates,
        raw_ticks=sum(raw_rows.values()),
        clean_ticks=sum(s.clean_ticks for s in stats.values()),
        bars=sum(s.bars for s in stats.values()),
        quarantined=dict(sorted(totals.items())),
        seconds=round(time.perf_counter() - began, 3),
    )
