"""An independent DuckDB implementation of the rollup, for the tests and the benchmark (not the job).

Written from the rules in `tick_features.schema` and `tick_features.quality`, in SQL and with its
own arithmetic (epoch microseconds for minutes and dates, file name and row number for arrival), so
agreement with the Spark job checks the rules, not shared code.
"""

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from tick_features.schema import (
    BUY,
    FEATURE_TABLE_COLUMNS,
    LABEL_COLUMN,
    RAW_COLUMNS,
    RETURN_LAGS,
    SELL,
    VOLATILITY_BARS,
    VOLUME_ZSCORE_BARS,
    QuarantineReason,
)

R = QuarantineReason
_DAY_US = 86_400_000_000
_MINUTE_US = 60_000_000


@dataclass(frozen=True)
class ReferenceResult:
    features: pa.Table  # date + FEATURE_TABLE_COLUMNS, ordered by date, symbol, bar_start
    quarantine: pa.Table  # date + raw columns + reason, source_file, source_row, by source_file, source_row


def _classified_sql(files: list[Path]) -> str:
    file_list = ", ".join(f"'{path}'" for path in files)
    raw = ", ".join(RAW_COLUMNS)
    any_null = " OR ".join(
        [f"{name} IS NULL" for name in RAW_COLUMNS] + [f"isnan({name})" for name in ("price", "bid", "ask")]
    )
    return f"""
    WITH src AS (
        SELECT {raw}, date,
               'date=' || strftime(date, '%Y-%m-%d') || '/' || parse_filename(filename) AS source_file,
               file_row_number AS source_row
        FROM read_parquet([{file_list}], hive_partitioning = true, filename = true, file_row_number = true)
    ),
    checked AS (
        SELECT *, CASE
            WHEN {any_null} THEN '{R.NULL_FIELD}'
            WHEN floor(epoch_us(ts) / {_DAY_US}) != date - DATE '1970-01-01' THEN '{R.WRONG_PARTITION}'
            WHEN price <= 0 THEN '{R.NON_POSITIVE_PRICE}'
            WHEN size <= 0 THEN '{R.NON_POSITIVE_SIZE}'
            WHEN side NOT IN ('{BUY}', '{SELL}') THEN '{R.INVALID_SIDE}'
            WHEN bid <= 0 OR ask <= 0 THEN '{R.NON_POSITIVE_QUOTE}'
            WHEN bid > ask THEN '{R.CROSSED_QUOTE}'
        END AS row_reason
        FROM src
    ),
    passing AS (
        SELECT *,
               lag(ROW({raw})) OVER arrival = ROW({raw}) AS repeats_previous,
               max(ts) OVER (arrival ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_before
        FROM checked WHERE row_reason IS NULL
        WINDOW arrival AS (PARTITION BY date, symbol ORDER BY source_file, source_row)
    )
    SELECT {raw}, date, source_file, source_row, row_reason AS reason
    FROM checked WHERE row_reason IS NOT NULL
    UNION ALL
    SELECT {raw}, date, source_file, source_row, CASE
        WHEN repeats_previous THEN '{R.DUPLICATE}'
        WHEN ts < latest_before THEN '{R.OUT_OF_ORDER}'
    END
    FROM passing
    """


def _features_sql() -> str:
    lags = ",\n".join(
        f"lag(log_return, {lag}) OVER by_time AS log_return_lag{lag}" for lag in range(1, RETURN_LAGS + 1)
    )
    vol_n, z_n = VOLATILITY_BARS, VOLUME_ZSCORE_BARS
    return f"""
    WITH minutes AS (
        SELECT *, epoch_us(ts) - epoch_us(ts) % {_MINUTE_US} AS bar_us FROM classified WHERE reason IS NULL
    ),
    bars AS (
        SELECT date, symbol, bar_us,
               arg_min(price, (ts, source_file, source_row)) AS open,
               max(price) AS high,
               min(price) AS low,
               arg_max(price, (ts, source_file, source_row)) AS close,
               CAST(sum(size) AS BIGINT) AS volume,
               sum(price * size) / sum(size) AS vwap,
               count(*) AS trade_count,
               avg(ask - bid) AS mean_spread,
               CAST(coalesce(sum(size) FILTER (WHERE side = '{BUY}'), 0) AS BIGINT) AS buy_volume
        FROM minutes GROUP BY date, symbol, bar_us
    ),
    returns AS (
        SELECT *, ln(close / lag(close) OVER by_time) AS log_return, lead(close) OVER by_time AS next_close
        FROM bars WINDOW by_time AS (PARTITION BY date, symbol ORDER BY bar_us)
    )
    SELECT date, symbol, make_timestamp(bar_us)::TIMESTAMPTZ AS bar_start,
           open, high, low, close, volume, vwap, trade_count, mean_spread,
           (2 * buy_volume - volume) / volume AS imbalance,
           log_return,
           {lags},
           CASE WHEN count(log_return) OVER last_{vol_n} = {vol_n}
                THEN stddev_samp(log_return) OVER last_{vol_n} END AS volatility_{vol_n},
           CASE WHEN count(volume) OVER previous_{z_n} = {z_n} AND stddev_samp(volume) OVER previous_{z_n} > 0
                THEN (volume - avg(volume) OVER previous_{z_n}) / stddev_samp(volume) OVER previous_{z_n}
           END AS volume_zscore_{z_n},
           mean_spread / close * 10000 AS spread_bps,
           CAST((bar_us % {_DAY_US}) // {_MINUTE_US} AS INTEGER) AS minute_of_day,
           CAST(sign(next_close - close) AS INTEGER) AS {LABEL_COLUMN}
    FROM returns
    WINDOW by_time AS (PARTITION BY date, symbol ORDER BY bar_us),
           last_{vol_n} AS (by_time ROWS BETWEEN {vol_n - 1} PRECEDING AND CURRENT ROW),
           previous_{z_n} AS (by_time ROWS BETWEEN {z_n} PRECEDING AND 1 PRECEDING)
    """


def _connect(raw_files: list[Path], threads: int | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"CREATE TEMP TABLE classified AS {_classified_sql(raw_files)}")
    con.execute(f"CREATE TEMP TABLE features AS {_features_sql()}")
    return con


_FEATURES_QUERY = (
    f"SELECT date, {', '.join(FEATURE_TABLE_COLUMNS)} FROM features ORDER BY date, symbol, bar_start"
)
_QUARANTINE_QUERY = (
    f"SELECT date, {', '.join([*RAW_COLUMNS, 'reason', 'source_file', 'source_row'])} FROM classified "
    "WHERE reason IS NOT NULL ORDER BY date, source_file, source_row"
)


def reference_rollup(raw_files: list[Path], threads: int | None = None) -> ReferenceResult:
    """Classify, bar and featurise the given raw files; return both outputs as Arrow tables."""
    con = _connect(raw_files, threads)
    try:
        return ReferenceResult(
            features=con.sql(_FEATURES_QUERY).to_arrow_table(),
            quarantine=con.sql(_QUARANTINE_QUERY).to_arrow_table(),
        )
    finally:
        con.close()


def write_reference_rollup(raw_files: list[Path], out_dir: Path, threads: int | None = None) -> None:
    """The same rollup, written as `date=`-partitioned Parquet under out_dir/{features,quarantine}."""
    con = _connect(raw_files, threads)
    try:
        for name, query in (("features", _FEATURES_QUERY), ("quarantine", _QUARANTINE_QUERY)):
            con.execute(
                f"COPY ({query}) TO '{out_dir / name}' "
                "(FORMAT parquet, PARTITION_BY (date), OVERWRITE_OR_IGNORE)"
            )
    finally:
        con.close()
