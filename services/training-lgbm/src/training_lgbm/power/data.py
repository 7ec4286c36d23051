"""Loader for the UCI household power file: strict by default, quarantining bad rows when asked."""

import io
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_core.errors import DataValidationError
from mlops_core.logs import get_logger
from training_lgbm.power import schema

log = get_logger(__name__)
_FIELDS = len(schema.COLUMNS)


class OnBadRows(StrEnum):
    ERROR = "error"
    SKIP = "skip"


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str
    text: str


@dataclass
class PowerData:
    """Minute readings indexed by timestamp; missing readings (`?` or empty) are NaN."""

    frame: pd.DataFrame
    source: Path
    rows_read: int
    missing_rows: int
    bad_rows: list[BadRow] = field(default_factory=list)


def resolve_data_file(data_dir: Path) -> Path:
    """`--data-dir` may name the directory holding the standard file name, or the file itself."""
    return data_dir if data_dir.is_file() else data_dir / schema.DEFAULT_FILENAME


def _check_header(path: Path, first_line: bytes) -> None:
    header = first_line.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    if header != schema.HEADER:
        raise DataValidationError(f"{path}:1: unexpected header {header!r}; expected {schema.HEADER!r}")


def _split_lines(path: Path) -> list[bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataValidationError(f"{path}: file not found") from exc
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise DataValidationError(f"{path}: file is empty")
    return lines


def _parse_numeric(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as float (NaN where missing) and a mask of cells that are neither numbers nor missing."""
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype="float64")
        return values, np.zeros(len(values), dtype=bool)
    missing = column.isin((schema.MISSING, ""))
    values = pd.to_numeric(column.where(~missing), errors="coerce").to_numpy(dtype="float64")
    garbage = np.isnan(values) & ~missing.to_numpy()
    return values, garbage


def _parse_by_unique(column: pd.Series, fmt: str) -> pd.Series:
    """strptime each distinct value once: a year of minutes has ~400 dates and 1,440 times."""
    codes, uniques = pd.factorize(column)
    parsed = pd.to_datetime(pd.Series(uniques), format=fmt, errors="coerce").to_numpy()
    return pd.Series(np.where(codes >= 0, parsed[codes], np.datetime64("NaT")), index=column.index)


def _timestamps(table: pd.DataFrame) -> pd.Series:
    days = _parse_by_unique(table[schema.DATE_COLUMN], schema.DATE_FORMAT)
    clock = _parse_by_unique(table[schema.TIME_COLUMN], schema.TIME_FORMAT)
    return days + (clock - clock.dt.normalize())


def _row_problems(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Parsed frame and, per row, the first problem found ("" when the row is fine)."""
    reasons = pd.Series("", index=table.index, dtype=object)
    stamps = _timestamps(table)
    reasons[stamps.isna()] = "unparseable date/time (expected dd/mm/yyyy;hh:mm:ss)"
    parsed = {}
    for name in schema.MEASUREMENT_COLUMNS:
        values, garbage = _parse_numeric(table[name])
        parsed[name] = values
        reasons[(reasons == "") & garbage] = f"{name} is not a number or '?'"
        if name in schema.NON_NEGATIVE:
            reasons[(reasons == "") & (values < 0)] = f"{name} is negative"
    frame = pd.DataFrame(parsed, index=pd.DatetimeIndex(stamps, name="timestamp"))
    duplicated = frame.index.duplicated(keep="first") & stamps.notna().to_numpy()
    reasons[(reasons == "") & duplicated] = "duplicate timestamp"
    return frame, reasons


def _read_table(good: list[bytes]) -> pd.DataFrame:
    """Fast path parses numbers in C; a file with a non-numeric cell is re-read as text to find it."""
    options = dict(sep=";", header=None, names=list(schema.COLUMNS), keep_default_na=False, engine="c")
    text_columns = {schema.DATE_COLUMN: str, schema.TIME_COLUMN: str}
    try:
        return pd.read_csv(
            io.BytesIO(b"\n".join(good)),
            dtype={**text_columns, **dict.fromkeys(schema.MEASUREMENT_COLUMNS, "float64")},
            na_values={column: [schema.MISSING, ""] for column in schema.MEASUREMENT_COLUMNS},
            **options,
        )
    except ValueError:
        return pd.read_csv(io.BytesIO(b"\n".join(good)), dtype=str, **options)


def _write_quarantine(path: Path, bad: list[BadRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([vars(row) for row in bad], columns=["line", "reason", "text"]).to_csv(path, index=False)


def load_household_power(
    path: Path, on_bad_rows: OnBadRows = OnBadRows.ERROR, quarantine: Path | None = None
) -> PowerData:
    """Read the file; malformed rows raise (file and line named) or are skipped and quarantined."""
    lines = _split_lines(path)
    _check_header(path, lines[0])
    body = lines[1:]
    bad: list[BadRow] = []
    good_line_numbers: list[int] = []
    good: list[bytes] = []
    for offset, line in enumerate(body):
        number = offset + 2  # 1-based, after the header
        if line.count(b";") != _FIELDS - 1:
            bad.append(
                BadRow(number, f"expected {_FIELDS} fields, found {line.count(b';') + 1}", line.decode())
            )
        else:
            good.append(line)
            good_line_numbers.append(number)

    table = _read_table(good)
    frame, reasons = _row_problems(table)
    problem_rows = np.flatnonzero(reasons.to_numpy() != "")
    bad.extend(BadRow(good_line_numbers[i], reasons.iat[i], good[i].decode()) for i in problem_rows)
    bad.sort(key=lambda row: row.line)

    if bad and on_bad_rows is OnBadRows.ERROR:
        first = bad[0]
        more = f" (and {len(bad) - 1} more malformed rows)" if len(bad) > 1 else ""
        raise DataValidationError(
            f"{path}:{first.line}: {first.reason}: {first.text!r}{more}; "
            "pass --on-bad-rows skip to quarantine malformed rows instead"
        )
    if bad:
        frame = frame.iloc[np.setdiff1d(np.arange(len(frame)), problem_rows)]
        if quarantine is not None:
            _write_quarantine(quarantine, bad)
        log.warning("skipped malformed rows", file=str(path), count=len(bad), quarantine=str(quarantine))
    frame = frame.sort_index()
    missing_rows = int(frame[schema.TARGET].isna().sum())
    log.info("loaded power readings", file=str(path), rows=len(frame), missing=missing_rows, bad=len(bad))
    return PowerData(frame=frame, source=path, rows_read=len(body), missing_rows=missing_rows, bad_rows=bad)
