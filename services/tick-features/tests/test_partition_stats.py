from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tick_features.partition_stats import (
    CANONICAL_FEATURE_SCHEMA,
    EMPTY_STATS,
    feature_partition_stats,
    quarantine_counts,
)


def _features(n: int) -> pa.Table:
    columns = {}
    for field in CANONICAL_FEATURE_SCHEMA:
        if field.name == "symbol":
            columns[field.name] = pa.array([f"S{i % 3}" for i in range(n)])
        elif field.name == "bar_start":
            columns[field.name] = pa.array(
                [datetime(2024, 3, 4, 14, 30 + i // 3, tzinfo=UTC) for i in range(n)], field.type
            )
        elif field.name == "trade_count":
            columns[field.name] = pa.array([i + 1 for i in range(n)], field.type)
        else:
            columns[field.name] = pa.array(
                [float(i) if pa.types.is_floating(field.type) else i for i in range(n)]
            ).cast(field.type)
    return pa.table(columns)


def test_checksum_ignores_file_layout_and_row_order(tmp_path: Path) -> None:
    table = _features(12)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    pq.write_table(table, one / "part-0.parquet")
    shuffled = table.take(pa.array([11, 3, 7, 0, 1, 2, 4, 5, 6, 8, 9, 10]))
    pq.write_table(shuffled.slice(0, 5), two / "part-a.parquet")
    pq.write_table(shuffled.slice(5), two / "part-b.parquet")
    first, second = feature_partition_stats(one), feature_partition_stats(two)
    assert first == second
    assert (first.bars, first.symbols, first.clean_ticks) == (12, 3, sum(range(1, 13)))


def test_checksum_changes_with_any_value(tmp_path: Path) -> None:
    table = _features(6)
    pq.write_table(table, tmp_path / "part-0.parquet")
    before = feature_partition_stats(tmp_path).checksum
    changed = table.set_column(table.schema.get_field_index("vwap"), "vwap", pa.array([0.0, 1, 2, 3, 4, 5.5]))
    pq.write_table(changed, tmp_path / "part-0.parquet")
    assert feature_partition_stats(tmp_path).checksum != before


def test_missing_partitions_are_empty(tmp_path: Path) -> None:
    assert feature_partition_stats(tmp_path / "nope") == EMPTY_STATS
    assert quarantine_counts(tmp_path / "nope") == {}
    pq.write_table(pa.table({"reason": ["duplicate", "crossed_quote", "duplicate"]}), tmp_path / "q.parquet")
    assert quarantine_counts(tmp_path) == {"crossed_quote": 1, "duplicate": 2}
