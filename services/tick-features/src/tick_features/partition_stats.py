"""What a written partition holds, read back from its Parquet files: row counts and a content checksum.

The checksum is sha256 over the Arrow IPC stream of the partition's rows in a canonical form (columns
and types of the feature table, sorted by symbol and bar_start, no metadata), so it changes when a
value changes and not when Spark lays the same rows out in other files.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tick_features.schema import BAR_COLUMNS, FEATURE_COLUMNS, LABEL_COLUMN

_INTEGER_COLUMNS = {
    "volume": pa.int64(),
    "trade_count": pa.int64(),
    "minute_of_day": pa.int32(),
    LABEL_COLUMN: pa.int32(),
}
CANONICAL_FEATURE_SCHEMA = pa.schema(
    [pa.field("symbol", pa.string()), pa.field("bar_start", pa.timestamp("us", tz="UTC"))]
    + [
        pa.field(name, _INTEGER_COLUMNS.get(name, pa.float64()))
        for name in (*BAR_COLUMNS[2:], *FEATURE_COLUMNS, LABEL_COLUMN)
    ]
)


@dataclass(frozen=True)
class FeaturePartitionStats:
    bars: int
    symbols: int
    clean_ticks: int
    checksum: str


EMPTY_STATS = FeaturePartitionStats(0, 0, 0, "sha256:none")


def _read(folder: Path, columns: list[str]) -> pa.Table | None:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return pa.concat_tables(pq.read_table(f, columns=columns) for f in files)


def canonical_checksum(table: pa.Table) -> str:
    canonical = table.select(CANONICAL_FEATURE_SCHEMA.names).cast(CANONICAL_FEATURE_SCHEMA)
    canonical = canonical.sort_by([("symbol", "ascending"), ("bar_start", "ascending")]).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, CANONICAL_FEATURE_SCHEMA) as writer:
        writer.write_table(canonical, max_chunksize=max(canonical.num_rows, 1))
    return f"sha256:{hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()}"


def feature_partition_stats(folder: Path) -> FeaturePartitionStats:
    table = _read(folder, CANONICAL_FEATURE_SCHEMA.names)
    if table is None:
        return EMPTY_STATS
    return FeaturePartitionStats(
        bars=table.num_rows,
        symbols=len(pc.unique(table.column("symbol"))),
        clean_ticks=int(pc.sum(table.column("trade_count")).as_py() or 0),
        checksum=canonical_checksum(table),
    )


def quarantine_counts(folder: Path) -> dict[str, int]:
    table = _read(folder, ["reason"])
    if table is None:
        return {}
    counts = pc.value_counts(table.column("reason"))
    return dict(sorted((item["values"].as_py(), item["counts"].as_py()) for item in counts))
