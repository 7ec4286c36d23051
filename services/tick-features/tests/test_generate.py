from datetime import date

import numpy as np
import pyarrow.compute as pc

from tick_features.defects import PLANTABLE, plant_defects
from tick_features.generate import SESSION_MINUTES, GeneratorConfig, generate_days
from tick_features.schema import RAW_SCHEMA

from .conftest import generated_day_tables


def test_generated_days_follow_the_raw_schema_and_are_reproducible() -> None:
    first = generated_day_tables(days=2, symbols=5, ticks_per_day=5_000, seed=3)
    again = generated_day_tables(days=2, symbols=5, ticks_per_day=5_000, seed=3)
    other = generated_day_tables(days=1, symbols=5, ticks_per_day=5_000, seed=4)
    assert [day for day, _ in first] == [date(2024, 3, 4), date(2024, 3, 5)]
    for (_, table), (_, same) in zip(first, again, strict=True):
        assert table.schema.equals(RAW_SCHEMA)
        assert table.num_rows == 5_000
        assert table.equals(same)
    assert not first[0][1].equals(other[0][1])


def test_ticks_are_clean_quoted_and_in_arrival_order() -> None:
    [(day, table)] = generated_day_tables(days=1, symbols=8, ticks_per_day=40_000, seed=5)
    frame = table.to_pandas()
    assert frame["ts"].is_monotonic_increasing
    assert (frame["ts"].dt.date == day).all()
    per_symbol = frame.groupby("symbol")["ts"]
    assert per_symbol.apply(lambda ts: ts.is_unique).all()
    assert frame["symbol"].nunique() == 8
    assert (frame["bid"] < frame["ask"]).all() and (frame["bid"] > 0).all()
    assert ((frame["price"] >= frame["bid"]) & (frame["price"] <= frame["ask"])).all()
    assert (frame["size"] > 0).all() and set(frame["side"]) == {"B", "S"}


def test_intraday_activity_is_u_shaped() -> None:
    [(_, table)] = generated_day_tables(days=1, symbols=4, ticks_per_day=60_000, seed=8)
    ts = table.column("ts").to_pandas()
    minute = ((ts - ts.dt.normalize()).dt.total_seconds() // 60 - (14 * 60 + 30)).astype(int)
    counts = np.bincount(minute.clip(0, SESSION_MINUTES - 1), minlength=SESSION_MINUTES)
    open_, middle, close = counts[:30].mean(), counts[180:210].mean(), counts[-30:].mean()
    assert open_ > 1.5 * middle and close > 1.5 * middle


def test_busy_and_thin_symbols() -> None:
    [(_, table)] = list(generate_days(date(2024, 1, 2), 1, GeneratorConfig(symbols=30, ticks_per_day=30_000)))
    counts = table.to_pandas()["symbol"].value_counts()
    assert counts.iloc[0] > 5 * counts.iloc[-1]


def test_planted_defects_are_where_they_say() -> None:
    [(_, table)] = generated_day_tables(days=1, symbols=4, ticks_per_day=10_000, seed=1)
    dirty, planted = plant_defects(table, per_kind=2, seed=0)
    assert dirty.num_rows == table.num_rows + 2  # the duplicates are extra rows
    assert sorted({p.reason for p in planted}) == sorted(PLANTABLE)
    assert len(planted) == 2 * len(PLANTABLE)
    rows = dirty.to_pandas()
    for tick in planted:
        row = rows.iloc[tick.row]
        if tick.reason == "duplicate":
            assert rows.iloc[tick.row - 1].equals(row)
        elif tick.reason == "null_field":
            assert np.isnan(row["price"])
        elif tick.reason == "non_positive_size":
            assert row["size"] == 0
    assert pc.sum(pc.is_null(dirty.column("price"))).as_py() == 2
