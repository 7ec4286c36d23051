"""Bars and features for a tiny tick set whose every value is worked out by hand."""

import math
import statistics
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from tick_features.generate import write_partition
from tick_features.layout import TickPaths
from tick_features.rollup import run_rollup
from tick_features.schema import RAW_SCHEMA

DAY = date(2024, 3, 4)
OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def _tick(seconds: float, symbol: str, price: float, size: int, side: str, bid: float, ask: float) -> dict:
    return {
        "ts": OPEN + timedelta(seconds=seconds),
        "symbol": symbol,
        "price": price,
        "size": size,
        "side": side,
        "bid": bid,
        "ask": ask,
    }


# Prices on a quarter grid, so every sum and mean below is exact in binary floating point.
HAND_TICKS = [
    _tick(5, "AAA", 100.0, 100, "B", 99.75, 100.0),
    _tick(7, "BBB", 50.0, 10, "S", 50.0, 50.25),
    _tick(7, "BBB", 50.25, 30, "B", 50.0, 50.25),  # same microsecond, different print: both are clean
    _tick(20, "AAA", 101.0, 300, "S", 101.0, 101.5),
    _tick(40, "AAA", 99.5, 100, "B", 99.25, 99.5),
    _tick(59.999999, "AAA", 100.5, 200, "S", 100.5, 100.75),
    _tick(61, "AAA", 102.0, 50, "B", 101.75, 102.0),
    _tick(62, "AAA", 102.0, 150, "B", 101.75, 102.0),
    _tick(185, "AAA", 101.0, 100, "S", 101.0, 101.25),  # 14:33, after an empty minute
]
# A quiet symbol with one trade a minute, long enough for the 10-bar volatility and 20-bar z-score.
CCC_PRICES = [20.0 + 0.25 * ((i * 7) % 5) for i in range(24)]
CCC_SIZES = [100 + 10 * ((i * 3) % 7) for i in range(24)]
CCC_TICKS = [
    _tick(60 * i + 30, "CCC", p, s, "B", p - 0.25, p)
    for i, (p, s) in enumerate(zip(CCC_PRICES, CCC_SIZES, strict=True))
]


@pytest.fixture(scope="module")
def hand_features(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    paths = TickPaths.under(tmp_path_factory.mktemp("hand"))
    rows = HAND_TICKS + CCC_TICKS
    rows.sort(key=lambda r: r["ts"])
    write_partition(paths.raw, DAY, pa.Table.from_pylist(rows, schema=RAW_SCHEMA))
    summary = run_rollup(spark, paths, DAY, DAY)
    assert summary.raw_ticks == len(rows) and summary.clean_ticks == len(rows) and summary.quarantined == {}
    frame = pd.read_parquet(paths.features)
    return frame.sort_values(["symbol", "bar_start"]).reset_index(drop=True)


def _bar(frame: pd.DataFrame, symbol: str, minute: int) -> pd.Series:
    start = pd.Timestamp(OPEN + timedelta(minutes=minute))
    [row] = frame[(frame["symbol"] == symbol) & (frame["bar_start"] == start)].to_dict("records")
    return pd.Series(row)


def test_first_minute_bar_is_exact(hand_features: pd.DataFrame) -> None:
    bar = _bar(hand_features, "AAA", 0)
    assert (bar.open, bar.high, bar.low, bar.close) == (100.0, 101.0, 99.5, 100.5)
    assert bar.volume == 700 and bar.trade_count == 4
    assert bar.vwap == (100.0 * 100 + 101.0 * 300 + 99.5 * 100 + 100.5 * 200) / 700  # 100.5
    assert bar.mean_spread == (0.25 + 0.5 + 0.25 + 0.25) / 4
    assert bar.imbalance == (100 - 300 + 100 - 200) / 700
    assert bar.minute_of_day == 14 * 60 + 30
    assert math.isnan(bar.log_return)  # the day's first bar has no previous close
    assert bar.next_return_sign == 1  # 100.5 -> 102.0


def test_bars_only_for_minutes_with_trades(hand_features: pd.DataFrame) -> None:
    aaa = hand_features[hand_features["symbol"] == "AAA"]
    assert [ts.minute for ts in aaa["bar_start"]] == [30, 31, 33]
    second, third = _bar(hand_features, "AAA", 1), _bar(hand_features, "AAA", 3)
    assert (second.open, second.close, second.volume, second.vwap, second.imbalance) == (
        102.0,
        102.0,
        200,
        102.0,
        1.0,
    )
    assert second.log_return == pytest.approx(math.log(102.0 / 100.5), rel=1e-14)
    assert third.log_return == pytest.approx(math.log(101.0 / 102.0), rel=1e-14)
    assert third.log_return_lag1 == pytest.approx(math.log(102.0 / 100.5), rel=1e-14)
    assert (
        third.imbalance == -1.0 and third.next_return_sign != third.next_return_sign
    )  # last bar: null label
    assert second.next_return_sign == -1


def test_trades_in_the_same_microsecond_keep_arrival_order(hand_features: pd.DataFrame) -> None:
    bar = _bar(hand_features, "BBB", 0)
    ohlc = (bar.open, bar.high, bar.low, bar.close)
    assert ohlc == (50.0, 50.25, 50.0, 50.25) and (bar.volume, bar.trade_count) == (40, 2)
    assert bar.vwap == (50.0 * 10 + 50.25 * 30) / 40  # 50.1875
    assert bar.imbalance == (30 - 10) / 40 and bar.spread_bps == 0.25 / 50.25 * 1e4


def test_rolling_features_match_their_definitions(hand_features: pd.DataFrame) -> None:
    ccc = hand_features[hand_features["symbol"] == "CCC"].reset_index(drop=True)
    returns = [math.log(CCC_PRICES[i] / CCC_PRICES[i - 1]) for i in range(1, len(CCC_PRICES))]
    for i in range(len(CCC_PRICES)):
        row = ccc.iloc[i]
        if i == 0:
            assert math.isnan(row.log_return)
        else:
            assert row.log_return == pytest.approx(returns[i - 1], rel=1e-12, abs=1e-15)
        if i >= 4:
            assert row.log_return_lag3 == pytest.approx(returns[i - 4], rel=1e-12, abs=1e-15)
        if i < 10:
            assert math.isnan(row.volatility_10)  # fewer than 10 returns so far
        else:
            expected = statistics.stdev(returns[i - 10 : i])
            assert row.volatility_10 == pytest.approx(expected, rel=1e-9)
        if i < 20:
            assert math.isnan(row.volume_zscore_20)
        else:
            window = CCC_SIZES[i - 20 : i]
            expected = (CCC_SIZES[i] - statistics.mean(window)) / statistics.stdev(window)
            assert row.volume_zscore_20 == pytest.approx(expected, rel=1e-9)
        if i + 1 < len(CCC_PRICES):
            nxt, cur = CCC_PRICES[i + 1], CCC_PRICES[i]
            assert row.next_return_sign == (1 if nxt > cur else -1 if nxt < cur else 0)
