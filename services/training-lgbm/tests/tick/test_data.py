import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from mlops_core.errors import DataValidationError
from training_lgbm.tick.data import FEATURES, TARGET, load_window, select_window, split_by_time

from .conftest import FIRST_DAY, write_feature_days

DAYS = [date(2024, 3, d) for d in (4, 5, 7, 8)]


def test_window_ends_at_the_latest_partition_by_default() -> None:
    assert select_window(DAYS, None, 2) == [date(2024, 3, 7), date(2024, 3, 8)]
    assert select_window(DAYS, date(2024, 3, 6), 3) == [date(2024, 3, 4), date(2024, 3, 5)]
    assert select_window(DAYS, date(2024, 3, 5), 1) == [date(2024, 3, 5)]


def test_window_without_partitions_is_refused() -> None:
    with pytest.raises(DataValidationError, match="no feature partitions between 2024-03-01 and 2024-03-02"):
        select_window(DAYS, date(2024, 3, 2), 2)


def test_load_window_reads_labelled_bars_in_time_order(tick_data: Path) -> None:
    window = load_window(tick_data / "features", tick_data / "manifests", date(2024, 3, 6), 2)
    assert window.dates == [date(2024, 3, 5), date(2024, 3, 6)]
    frame = window.frame
    assert len(frame) == 2 * 6 * 389  # last bar of each day has no label
    assert frame["bar_start"].is_monotonic_increasing
    assert set(frame[TARGET]) == {0, 1}
    assert (frame[TARGET] == (frame["next_return_sign"] > 0)).all()
    assert all(frame[c].dtype == "float64" for c in FEATURES)


def test_data_version_follows_manifest_checksums(tick_data: Path, tmp_path: Path) -> None:
    version = load_window(tick_data / "features", tick_data / "manifests", None, 2).data_version
    assert version == load_window(tick_data / "features", tick_data / "manifests", None, 2).data_version
    assert version != load_window(tick_data / "features", tick_data / "manifests", None, 3).data_version
    copy = tmp_path / "ticks"
    shutil.copytree(tick_data, copy)
    manifest = copy / "manifests" / "date=2024-03-07.json"
    content = json.loads(manifest.read_text())
    content["features_checksum"] = "sha256:" + "0" * 64
    manifest.write_text(json.dumps(content))
    assert load_window(copy / "features", copy / "manifests", None, 2).data_version != version


def test_partition_disagreeing_with_its_manifest_is_refused(tmp_path: Path) -> None:
    write_feature_days(tmp_path, days=2)
    part = tmp_path / "features" / "date=2024-03-05" / "part-00000.parquet"
    pd.read_parquet(part).head(100).to_parquet(part, index=False)
    with pytest.raises(DataValidationError, match=r"date=2024-03-05: 100 rows but its manifest says 2340"):
        load_window(tmp_path / "features", tmp_path / "manifests", None, 2)


def test_missing_manifest_wrong_schema_and_missing_columns(tmp_path: Path) -> None:
    write_feature_days(tmp_path, days=1)
    features, manifests = tmp_path / "features", tmp_path / "manifests"
    manifest = manifests / f"date={FIRST_DAY}.json"
    content = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**content, "schema_version": "2"}))
    with pytest.raises(DataValidationError, match="schema version '2', this trainer reads '1'"):
        load_window(features, manifests, None, 1)
    manifest.unlink()
    with pytest.raises(DataValidationError, match="manifest missing for feature partition 2024-03-04"):
        load_window(features, manifests, None, 1)
    manifest.write_text(json.dumps(content))
    part = features / f"date={FIRST_DAY}" / "part-00000.parquet"
    pd.read_parquet(part).drop(columns=["imbalance"]).to_parquet(part, index=False)
    with pytest.raises(DataValidationError, match=r"part-00000.parquet: feature columns missing: imbalance"):
        load_window(features, manifests, None, 1)


def test_split_is_ordered_in_time_and_keeps_minutes_whole(tick_data: Path) -> None:
    frame = load_window(tick_data / "features", tick_data / "manifests", None, 2).frame
    split = split_by_time(frame, 0.15, 0.15)
    assert len(split.train) + len(split.validation) + len(split.test) == len(frame)
    assert split.train["bar_start"].max() < split.validation["bar_start"].min()
    assert split.validation["bar_start"].max() < split.test["bar_start"].min()
    assert 0.6 < len(split.train) / len(frame) < 0.8
    minutes_in = [set(part["bar_start"]) for part in (split.train, split.validation, split.test)]
    assert not (minutes_in[0] & minutes_in[1]) and not (minutes_in[1] & minutes_in[2])
