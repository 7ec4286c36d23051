from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlops_core.errors import DataValidationError
from tick_features.cli import app
from tick_features.layout import partition_dir
from tick_features.schema import RAW_SCHEMA
from tick_features.validation import validate_range, validate_raw

from .conftest import generated_day_tables

DAY = date(2024, 3, 4)


def _write(raw: Path, table: pa.Table, name: str = "part-00000.parquet") -> Path:
    folder = partition_dir(raw, DAY)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)
    return folder / name


@pytest.fixture(scope="module")
def good_table() -> pa.Table:
    return generated_day_tables(days=1, symbols=2, ticks_per_day=200, seed=1)[0][1]


def test_valid_partition_reports_rows_and_missing_dates(tmp_path: Path, good_table: pa.Table) -> None:
    _write(tmp_path, good_table)
    found = validate_raw(tmp_path, [date(2024, 3, 3), DAY])
    assert [f.rows for f in found.files] == [200] and found.missing_dates == [date(2024, 3, 3)]


@pytest.mark.parametrize(
    ("column", "replacement", "message"),
    [
        ("size", pa.array([1.5] * 200, pa.float64()), "column 'size': expected int64, found double"),
        ("ts", None, "column 'ts' is missing"),
        ("price", pa.array(["1"] * 200), "column 'price': expected double, found string"),
    ],
)
def test_schema_errors_name_file_and_column(
    tmp_path: Path, good_table: pa.Table, column: str, replacement: pa.Array | None, message: str
) -> None:
    index = good_table.schema.get_field_index(column)
    table = good_table.remove_column(index)
    if replacement is not None:
        table = table.add_column(index, column, replacement)
    path = _write(tmp_path, table)
    with pytest.raises(DataValidationError) as caught:
        validate_raw(tmp_path, [DAY])
    assert str(path) in str(caught.value) and message in str(caught.value)
    assert int(caught.value.exit_code) == 3


def test_timestamps_must_be_utc_microseconds(tmp_path: Path, good_table: pa.Table) -> None:
    ts = good_table.column("ts")
    for bad, message in (
        (ts.cast(pa.timestamp("ns", tz="UTC")), "unit 'us', found 'ns'"),
        (
            ts.cast(pa.timestamp("us", tz="America/New_York")),
            "UTC timestamp, found timezone 'America/New_York'",
        ),
        (ts.cast(pa.timestamp("us")), "UTC timestamp, found timezone None"),
    ):
        _write(tmp_path, good_table.set_column(0, "ts", bad))
        with pytest.raises(DataValidationError, match=message):
            validate_raw(tmp_path, [DAY])


def test_unreadable_file_and_empty_range(tmp_path: Path) -> None:
    folder = partition_dir(tmp_path, DAY)
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_text("not parquet")
    with pytest.raises(DataValidationError, match="not a readable Parquet file"):
        validate_raw(tmp_path, [DAY])
    with pytest.raises(DataValidationError, match=r"no raw tick partitions .* for 2020-01-01\.\.2020-01-02"):
        validate_range(tmp_path, date(2020, 1, 1), date(2020, 1, 2))


def test_extra_columns_and_large_strings_are_accepted(tmp_path: Path, good_table: pa.Table) -> None:
    table = good_table.set_column(1, "symbol", good_table.column("symbol").cast(pa.large_string()))
    _write(tmp_path, table.append_column("venue", pa.array(["X"] * 200)))
    assert validate_raw(tmp_path, [DAY]).files[0].rows == 200
    assert RAW_SCHEMA.names == ["ts", "symbol", "price", "size", "side", "bid", "ask"]


def test_cli_validate_and_rollup_exit_3_on_bad_schema(tmp_path: Path, good_table: pa.Table) -> None:
    raw = tmp_path / "ticks" / "raw"
    _write(raw, good_table.set_column(3, "size", good_table.column("size").cast(pa.int32())))
    runner = CliRunner()
    env = {"MLOPS_DATA_ROOT": str(tmp_path)}
    result = runner.invoke(app, ["validate", "--start", "2024-03-04"], env=env)
    assert result.exit_code == 3 and "column 'size': expected int64, found int32" in result.output
    # The rollup refuses before starting Spark.
    result = runner.invoke(app, ["rollup", "--start", "2024-03-04", "--end", "2024-03-04"], env=env)
    assert result.exit_code == 3 and "part-00000.parquet: column 'size'" in result.output


def test_cli_generate_then_validate(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "raw"
    args = ["generate", "--out", str(out), "--start", "2024-03-04", "--days", "2", "--symbols", "3"]
    result = runner.invoke(app, [*args, "--ticks-per-day", "2000", "--defects-per-kind", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["validate", "--raw-dir", str(out), "--start", "2024-03-04", "--end", "2024-03-06"]
    )
    assert result.exit_code == 0, result.output
    assert '"ticks": 4002' in result.output and '"dates_without_raw": ["2024-03-06"]' in result.output


def test_cli_rejects_bad_conf_and_reversed_range(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["rollup", "--start", "2024-03-04", "--conf", "nonsense"])
    assert result.exit_code == 2 and "key=value" in result.output
    result = runner.invoke(app, ["rollup", "--start", "2024-03-04", "--end", "2024-03-01"])
    assert result.exit_code == 2 and "before --start" in result.output
