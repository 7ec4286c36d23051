from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_core.errors import DataValidationError
from mlops_core.exit_codes import ExitCode
from training_lgbm.power import schema
from training_lgbm.power.data import OnBadRows, load_household_power

GOOD = [
    "16/12/2006;17:24:00;4.216;0.418;234.840;18.400;0.000;1.000;17.000",
    "16/12/2006;17:25:00;5.360;0.436;233.630;23.000;0.000;1.000;16.000",
    "16/12/2006;17:26:00;?;?;?;?;?;?;",
    "1/1/2007;00:00:00;2.580;0.136;241.970;10.600;0.000;0.000;0.000",
]


def write(tmp_path: Path, rows: list[str], header: str = schema.HEADER) -> Path:
    path = tmp_path / "power.txt"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_parses_values_missing_markers_and_unpadded_dates(tmp_path: Path) -> None:
    data = load_household_power(write(tmp_path, GOOD))
    frame = data.frame
    assert list(frame.columns) == list(schema.MEASUREMENT_COLUMNS)
    assert frame.index[0] == pd.Timestamp("2006-12-16 17:24:00")
    assert frame.index[-1] == pd.Timestamp("2007-01-01 00:00:00")
    assert frame.loc["2006-12-16 17:25:00", "Global_active_power"] == pytest.approx(5.36)
    assert frame.loc["2006-12-16 17:26:00"].isna().all()  # `?` and the empty last field
    assert data.missing_rows == 1 and data.rows_read == 4 and not data.bad_rows


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("16/12/2006;17:27:00;4.216;0.418;234.840;18.400;0.000;1.000", "expected 9 fields, found 8"),
        ("16/12/2006;17:27:00;4.2;0.4;234.8;18.4;0.0;1.0;17.0;9", "expected 9 fields, found 10"),
        ("32/12/2006;17:27:00;4.216;0.418;234.840;18.400;0.000;1.000;17.000", "unparseable date/time"),
        ("16/12/2006;25:61:00;4.216;0.418;234.840;18.400;0.000;1.000;17.000", "unparseable date/time"),
        (
            "16/12/2006;17:27:00;4,216;0.418;234.840;18.400;0.000;1.000;17.000",
            "Global_active_power is not a number",
        ),
        ("16/12/2006;17:27:00;4.216;0.418;n/a;18.400;0.000;1.000;17.000", "Voltage is not a number"),
        (
            "16/12/2006;17:27:00;-4.216;0.418;234.840;18.400;0.000;1.000;17.000",
            "Global_active_power is negative",
        ),
        ("16/12/2006;17:24:00;4.216;0.418;234.840;18.400;0.000;1.000;17.000", "duplicate timestamp"),
        ("", "expected 9 fields, found 1"),
    ],
)
def test_malformed_row_names_file_line_and_problem(tmp_path: Path, bad_row: str, reason: str) -> None:
    path = write(tmp_path, [*GOOD[:2], bad_row, *GOOD[2:]])
    with pytest.raises(DataValidationError) as raised:
        load_household_power(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:4: {reason}")
    assert raised.value.exit_code == ExitCode.INVALID_DATA


def test_skip_mode_counts_and_quarantines_every_bad_row(tmp_path: Path) -> None:
    rows = [*GOOD, "garbage", "2/1/2007;00:00:00;x;0.1;240;10;0;0;0", "3/1/2007;00:00:00;1;0.1;240;10;0;0;0"]
    quarantine = tmp_path / "quarantine.csv"
    data = load_household_power(write(tmp_path, rows), OnBadRows.SKIP, quarantine)
    assert [(row.line, row.reason.split(" ")[0]) for row in data.bad_rows] == [
        (6, "expected"),
        (7, "Global_active_power"),
    ]
    assert len(data.frame) == 5
    stored = pd.read_csv(quarantine)
    assert stored["line"].tolist() == [6, 7]
    assert stored["text"].iloc[0] == "garbage"


def test_wrong_header_and_empty_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r":1: unexpected header"):
        load_household_power(write(tmp_path, GOOD, header="Date,Time,Power"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="file is empty"):
        load_household_power(empty)
    with pytest.raises(DataValidationError, match="file not found"):
        load_household_power(tmp_path / "absent.txt")


def test_generated_sample_round_trips_with_shape_and_gaps(power_file: Path) -> None:
    data = load_household_power(power_file)
    frame = data.frame
    assert len(frame) == 35 * 1440 and frame.index.is_monotonic_increasing
    assert not data.bad_rows and data.missing_rows > 0  # realistic outages, no malformed rows
    power = frame["Global_active_power"]
    by_hour = power.groupby(frame.index.hour).mean()
    assert by_hour.loc[19:21].mean() > 1.5 * by_hour.loc[2:4].mean()  # evening peak vs night
    gaps = power.isna().astype(int).diff().eq(1).sum()
    assert gaps >= 1
    assert np.nanmin(power.to_numpy()) > 0
