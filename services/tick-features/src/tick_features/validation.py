"""Check raw tick partitions against the schema before any Spark work (reads Parquet footers only)."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mlops_core.errors import DataValidationError
from tick_features.layout import date_range, partition_dir
from tick_features.schema import RAW_SCHEMA, UTC_NAMES


@dataclass(frozen=True)
class RawFile:
    day: date
    path: Path
    rows: int


@dataclass(frozen=True)
class RawPartitions:
    files: list[RawFile]
    missing_dates: list[date]

    @property
    def dates(self) -> list[date]:
        return sorted({f.day for f in self.files})

    def rows_by_date(self) -> dict[date, int]:
        totals: dict[date, int] = {}
        for f in self.files:
            totals[f.day] = totals.get(f.day, 0) + f.rows
        return totals


def _type_problem(expected: pa.DataType, actual: pa.DataType) -> str | None:
    if pa.types.is_timestamp(expected):
        if not pa.types.is_timestamp(actual):
            return f"expected {expected}, found {actual}"
        if actual.unit != expected.unit:
            return f"expected timestamp unit '{expected.unit}', found '{actual.unit}'"
        if actual.tz not in UTC_NAMES:
            return f"expected a UTC timestamp, found timezone {actual.tz!r}"
        return None
    if pa.types.is_string(expected) and (pa.types.is_string(actual) or pa.types.is_large_string(actual)):
        return None
    return None if actual.equals(expected) else f"expected {expected}, found {actual}"


def check_file_schema(path: Path) -> int:
    """Return the file's row count; raise DataValidationError naming the file and column otherwise."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataValidationError(f"{path}: not a readable Parquet file ({exc})") from exc
    schema = metadata.schema.to_arrow_schema()
    for field in RAW_SCHEMA:
        index = schema.get_field_index(field.name)
        if index < 0:
            raise DataValidationError(
                f"{path}: column {field.name!r} is missing (found columns: {', '.join(schema.names)})"
            )
        problem = _type_problem(field.type, schema.field(index).type)
        if problem:
            raise DataValidationError(f"{path}: column {field.name!r}: {problem}")
    return metadata.num_rows


def validate_raw(raw_dir: Path, dates: list[date]) -> RawPartitions:
    """Check every Parquet file of the requested dates; dates without a partition are reported."""
    files: list[RawFile] = []
    missing: list[date] = []
    for day in dates:
        folder = partition_dir(raw_dir, day)
        if not folder.is_dir():
            missing.append(day)
            continue
        parquet_files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".parquet")
        if not parquet_files:
            raise DataValidationError(f"{folder}: partition folder holds no .parquet files")
        files.extend(RawFile(day, path, check_file_schema(path)) for path in parquet_files)
    return RawPartitions(files, missing)


def validate_range(raw_dir: Path, start: date, end: date) -> RawPartitions:
    """`validate_raw` over start..end, failing when not one date of the range has raw ticks."""
    found = validate_raw(raw_dir, date_range(start, end))
    if not found.files:
        raise DataValidationError(
            f"{raw_dir}: no raw tick partitions (date=YYYY-MM-DD folders) for {start}..{end}"
        )
    return found
