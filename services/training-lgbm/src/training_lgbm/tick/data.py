"""Read a rolling window of tick feature partitions (written by `tick-features rollup`) and their manifests.

The feature table is a contract with tick-features (schema version 1): `<features>/date=YYYY-MM-DD/*.parquet`
plus `<manifests>/date=YYYY-MM-DD.json`. A partition without a manifest, with another schema version, or
whose row count differs from its manifest is refused: it is half-written or from another job version.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from mlops_core.errors import DataValidationError

SCHEMA_VERSION = "1"
PARTITION_PREFIX = "date="
LABEL = "next_return_sign"
TARGET = "up"  # 1 when the next bar closes higher
# Model inputs: columns of the feature table, in this order (serving sends the same records).
FEATURES: tuple[str, ...] = (
    "log_return",
    "log_return_lag1",
    "log_return_lag2",
    "log_return_lag3",
    "volatility_10",
    "volume_zscore_20",
    "spread_bps",
    "imbalance",
    "trade_count",
    "minute_of_day",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("symbol", "bar_start", *FEATURES, LABEL)


class PartitionManifest(BaseModel):
    """The fields of a tick-features manifest that training relies on (others are ignored)."""

    date: date
    schema_version: str
    bars: int
    features_checksum: str


@dataclass(frozen=True)
class FeatureWindow:
    dates: list[date]
    manifests: list[PartitionManifest]
    frame: pd.DataFrame  # REQUIRED_COLUMNS + date + TARGET, rows with a label only, sorted by time

    @property
    def data_version(self) -> str:
        """sha256 over each partition's date, schema version and content checksum, in date order."""
        digest = hashlib.sha256()
        for manifest in self.manifests:
            digest.update(
                f"{manifest.date}:{manifest.schema_version}:{manifest.features_checksum}\n".encode()
            )
        return f"sha256:{digest.hexdigest()}"


def available_dates(features_dir: Path) -> list[date]:
    if not features_dir.is_dir():
        raise DataValidationError(f"{features_dir}: feature directory does not exist")
    found = []
    for child in features_dir.iterdir():
        if child.is_dir() and child.name.startswith(PARTITION_PREFIX):
            try:
                found.append(date.fromisoformat(child.name.removeprefix(PARTITION_PREFIX)))
            except ValueError as exc:
                raise DataValidationError(f"{child}: partition folder name is not date=YYYY-MM-DD") from exc
    return sorted(found)


def select_window(available: list[date], end_date: date | None, window_days: int) -> list[date]:
    """Partitions in (end - window_days, end]; end defaults to the latest partition."""
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    if not available:
        raise DataValidationError("no feature partitions found")
    end = end_date or available[-1]
    first = end - timedelta(days=window_days - 1)
    chosen = [day for day in available if first <= day <= end]
    if not chosen:
        raise DataValidationError(
            f"no feature partitions between {first} and {end} (latest is {available[-1]})"
        )
    return chosen


def read_manifest(manifest_dir: Path, day: date) -> PartitionManifest:
    path = manifest_dir / f"{PARTITION_PREFIX}{day.isoformat()}.json"
    if not path.is_file():
        raise DataValidationError(
            f"{path}: manifest missing for feature partition {day} (rollup incomplete?)"
        )
    try:
        manifest = PartitionManifest.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise DataValidationError(f"{path}: not a tick-features manifest: {exc.errors()[0]['msg']}") from exc
    if manifest.schema_version != SCHEMA_VERSION:
        raise DataValidationError(
            f"{path}: feature schema version {manifest.schema_version!r}, this trainer reads {SCHEMA_VERSION!r}"
        )
    return manifest


def _read_partition(folder: Path, manifest: PartitionManifest) -> pd.DataFrame:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise DataValidationError(f"{folder}: feature partition holds no .parquet files")
    for file in files:
        names = pq.ParquetFile(file).schema_arrow.names
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise DataValidationError(f"{file}: feature columns missing: {', '.join(missing)}")
    frame = pd.concat([pd.read_parquet(f, columns=list(REQUIRED_COLUMNS)) for f in files], ignore_index=True)
    if len(frame) != manifest.bars:
        raise DataValidationError(
            f"{folder}: {len(frame)} rows but its manifest says {manifest.bars} (partial or stale partition)"
        )
    for column in FEATURES:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataValidationError(
                f"{folder}: feature column {column!r} is {frame[column].dtype}, not numeric"
            )
    return frame.assign(date=manifest.date)


def load_window(
    features_dir: Path, manifest_dir: Path, end_date: date | None, window_days: int
) -> FeatureWindow:
    dates = select_window(available_dates(features_dir), end_date, window_days)
    manifests = [read_manifest(manifest_dir, day) for day in dates]
    parts = [_read_partition(features_dir / f"{PARTITION_PREFIX}{m.date}", m) for m in manifests]
    frame = pd.concat(parts, ignore_index=True)
    labelled = frame[frame[LABEL].notna()].copy()
    labelled[TARGET] = (labelled[LABEL] > 0).astype("int8")
    labelled[list(FEATURES)] = labelled[list(FEATURES)].astype("float64")
    labelled = labelled.sort_values(["bar_start", "symbol"], kind="stable").reset_index(drop=True)
    return FeatureWindow(dates, manifests, labelled)


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def split_by_time(frame: pd.DataFrame, validation_fraction: float, test_fraction: float) -> TimeSplit:
    """Earliest bars train, then validation, then test; one minute never straddles two parts."""
    minutes = frame["bar_start"].drop_duplicates().sort_values().to_numpy()
    if len(minutes) < 10:
        raise DataValidationError(f"only {len(minutes)} distinct minutes in the window; need at least 10")
    train_end = minutes[int(len(minutes) * (1 - validation_fraction - test_fraction))]
    test_start = minutes[int(len(minutes) * (1 - test_fraction))]
    when = frame["bar_start"]
    return TimeSplit(
        frame[when < train_end], frame[(when >= train_end) & (when < test_start)], frame[when >= test_start]
    )
