"""The Spark rollup on generated data: agreement with DuckDB, quarantine, idempotent backfill."""

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from tick_features.defects import PlantedTick
from tick_features.generate import write_partition
from tick_features.layout import TickPaths, manifest_path, partition_dir
from tick_features.manifest import read_manifest
from tick_features.reference import reference_rollup
from tick_features.rollup import RollupSummary, run_rollup
from tick_features.schema import FEATURE_SCHEMA_VERSION, FEATURE_TABLE_COLUMNS, RAW_COLUMNS

from .conftest import FIRST_DAY, generated_day_tables, write_days

# Columns computed from sums or transcendental functions may differ in the last bits between
# engines (summation order, libm vs JVM); everything else must be identical.
APPROX_COLUMNS = {
    "vwap",
    "mean_spread",
    "spread_bps",
    "log_return",
    "log_return_lag1",
    "log_return_lag2",
    "log_return_lag3",
    "volatility_10",
    "volume_zscore_20",
}


@pytest.fixture(scope="module")
def planted_run(
    spark: SparkSession, planted_root: tuple[TickPaths, dict[date, list[PlantedTick]]]
) -> tuple[TickPaths, dict[date, list[PlantedTick]], RollupSummary]:
    paths, planted = planted_root
    days = sorted(planted)
    return paths, planted, run_rollup(spark, paths, days[0], days[-1])


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.assign(date=pd.to_datetime(frame["date"].astype(str)).dt.date)
    return frame.sort_values(keys).reset_index(drop=True)


def test_spark_bars_equal_the_duckdb_reference(planted_run) -> None:
    paths, _, summary = planted_run
    reference = reference_rollup(sorted(paths.raw.rglob("*.parquet")))
    spark_rows = _sorted(pd.read_parquet(paths.features), ["date", "symbol", "bar_start"])
    duck_rows = _sorted(reference.features.to_pandas(), ["date", "symbol", "bar_start"])
    assert len(spark_rows) == len(duck_rows) == summary.bars > 1000
    for column in ["date", *FEATURE_TABLE_COLUMNS]:
        ours, theirs = spark_rows[column], duck_rows[column]
        if column in APPROX_COLUMNS:
            np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-9, atol=1e-12)
            assert (ours.isna() == theirs.isna()).all(), column
        else:
            pd.testing.assert_series_equal(ours, theirs, check_dtype=False, check_names=False, obj=column)
    assert spark_rows["next_return_sign"].notna().sum() > 0.9 * len(spark_rows)
    assert spark_rows["volatility_10"].notna().sum() > 0.5 * len(spark_rows)


def test_quarantine_catches_each_planted_tick_with_its_reason(planted_run) -> None:
    paths, planted, summary = planted_run
    quarantine = pd.read_parquet(paths.quarantine)
    found = sorted(
        zip(quarantine["source_file"], quarantine["source_row"], quarantine["reason"], strict=True)
    )
    expected = sorted(
        (f"date={day}/part-00000.parquet", tick.row, tick.reason.value)
        for day, ticks in planted.items()
        for tick in ticks
    )
    assert found == expected
    assert set(quarantine.columns) >= {*RAW_COLUMNS, "reason", "source_file", "source_row"}
    # The quarantined rows keep the raw values, e.g. the planted zero sizes.
    assert (quarantine.loc[quarantine["reason"] == "non_positive_size", "size"] == 0).all()
    by_reason = pd.Series([reason for *_, reason in expected]).value_counts().to_dict()
    assert summary.quarantined == dict(sorted(by_reason.items()))
    assert summary.raw_ticks == summary.clean_ticks + sum(summary.quarantined.values())


def test_reference_quarantine_agrees(planted_run) -> None:
    paths, _, _ = planted_run
    reference = reference_rollup(sorted(paths.raw.rglob("*.parquet"))).quarantine.to_pandas()
    ours = pd.read_parquet(paths.quarantine)
    key = ["source_file", "source_row", "reason"]
    assert sorted(map(tuple, ours[key].to_numpy())) == sorted(map(tuple, reference[key].to_numpy()))


def test_manifests_describe_each_partition(planted_run) -> None:
    paths, planted, summary = planted_run
    for day, ticks in planted.items():
        manifest = read_manifest(manifest_path(paths.manifests, day))
        features = pd.read_parquet(partition_dir(paths.features, day))
        assert manifest.date == day and manifest.schema_version == FEATURE_SCHEMA_VERSION
        assert manifest.job_version.startswith("tick-features==")
        assert manifest.bars == len(features) and manifest.symbols == features["symbol"].nunique()
        assert manifest.clean_ticks == features["trade_count"].sum()
        assert manifest.raw_ticks == manifest.clean_ticks + sum(manifest.quarantined.values())
        assert sum(manifest.quarantined.values()) == len(ticks)
        assert manifest.features_checksum.startswith("sha256:") and len(manifest.features_checksum) == 71
        assert [f.file for f in manifest.raw_files] == [f"date={day}/part-00000.parquet"]
    assert summary.partitions_written == sorted(planted)


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_rerunning_one_date_leaves_other_partitions_byte_identical(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> None:
    paths = TickPaths.under(tmp_path_factory.mktemp("backfill"))
    tables = generated_day_tables(days=3, symbols=4, ticks_per_day=8_000, seed=21)
    write_days(paths, tables)
    first, middle, last = FIRST_DAY, FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)
    run_rollup(spark, paths, first, last)
    untouched = {
        base: {day: _snapshot(partition_dir(base, day)) for day in (first, last)}
        for base in (paths.features,)
    }
    manifests = {day: manifest_path(paths.manifests, day).read_bytes() for day in (first, last)}
    middle_before = _snapshot(partition_dir(paths.features, middle))
    middle_checksum = read_manifest(manifest_path(paths.manifests, middle)).features_checksum

    summary = run_rollup(spark, paths, middle, middle)

    assert summary.partitions_written == [middle]
    for base, by_day in untouched.items():
        for day, files in by_day.items():
            assert _snapshot(partition_dir(base, day)) == files
    for day, content in manifests.items():
        assert manifest_path(paths.manifests, day).read_bytes() == content
    middle_after = _snapshot(partition_dir(paths.features, middle))
    assert set(middle_after) != set(middle_before)  # rewritten: new files, not appended to
    assert len([name for name in middle_after if name.endswith(".parquet")]) == 1
    assert read_manifest(manifest_path(paths.manifests, middle)).features_checksum == middle_checksum
    assert sorted(pd.read_parquet(paths.features)["date"].astype(str).unique()) == [
        str(d) for d in (first, middle, last)
    ]


def test_rerun_replaces_a_stale_quarantine_partition(spark: SparkSession, tmp_path_factory) -> None:
    from tick_features.defects import plant_defects

    paths = TickPaths.under(tmp_path_factory.mktemp("stale"))
    [(day, clean)] = generated_day_tables(days=1, symbols=3, ticks_per_day=6_000, seed=5)
    dirty, planted = plant_defects(clean, per_kind=1, seed=2)
    write_partition(paths.raw, day, dirty)
    run_rollup(spark, paths, day, day)
    assert len(pd.read_parquet(partition_dir(paths.quarantine, day))) == len(planted)

    write_partition(paths.raw, day, clean)  # the feed was corrected upstream
    summary = run_rollup(spark, paths, day, day)

    assert summary.quarantined == {} and summary.raw_ticks == summary.clean_ticks == clean.num_rows
    assert not partition_dir(paths.quarantine, day).exists()
    manifest = json.loads(manifest_path(paths.manifests, day).read_text())
    assert manifest["quarantined"] == {} and manifest["raw_ticks"] == clean.num_rows
