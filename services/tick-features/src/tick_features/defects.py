"""Plant known bad ticks into a clean day, and say which rows they end up at and why.

Used by `generate --defects-per-kind` (demo data that exercises the quarantine) and by the tests,
which check that the rollup quarantines exactly the planted rows with the planted reasons.
Each planted defect touches rows no other defect touches, so every reason is unambiguous.
"""

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tick_features.schema import QuarantineReason

R = QuarantineReason
PLANTABLE: tuple[QuarantineReason, ...] = (
    R.NULL_FIELD,
    R.WRONG_PARTITION,
    R.NON_POSITIVE_PRICE,
    R.NON_POSITIVE_SIZE,
    R.INVALID_SIDE,
    R.NON_POSITIVE_QUOTE,
    R.CROSSED_QUOTE,
    R.DUPLICATE,
    R.OUT_OF_ORDER,
)


@dataclass(frozen=True)
class PlantedTick:
    row: int  # row index in the returned table (the file's arrival order)
    reason: QuarantineReason


def _pick_out_of_order(
    symbols: np.ndarray, ts: np.ndarray, candidates: list[int], used: set[int]
) -> tuple[int, int] | None:
    """A row, and an untouched later row of its symbol with a later time, to move the first past."""
    for row in candidates:
        later = row + 1 + np.flatnonzero((symbols[row + 1 :] == symbols[row]) & (ts[row + 1 :] > ts[row]))
        free = [int(i) for i in later[:64] if int(i) not in used]
        if free:
            return row, free[0]
    return None


def plant_defects(table: pa.Table, per_kind: int, seed: int = 0) -> tuple[pa.Table, list[PlantedTick]]:
    """Return the table with `per_kind` bad ticks of every plantable reason, and where they are."""
    n = table.num_rows
    if n < 4 * per_kind * len(PLANTABLE):
        raise ValueError(
            f"need at least {4 * per_kind * len(PLANTABLE)} clean ticks to plant defects, got {n}"
        )
    rng = np.random.default_rng(seed)
    columns = {name: table.column(name).to_numpy(zero_copy_only=False).copy() for name in table.column_names}
    ts_type = table.schema.field("ts").type
    ts_us = pc.cast(table.column("ts"), pa.int64()).to_numpy().copy()
    symbols = columns["symbol"]
    nulls = np.zeros(n, dtype=bool)

    pool = list(rng.permutation(n - 1))  # never the last row: a moved row needs rows after it
    used: set[int] = set()

    def take() -> int:
        while pool:
            row = int(pool.pop())
            if row not in used and row + 1 not in used and row - 1 not in used:
                used.add(row)
                return row
        raise ValueError("ran out of clean rows to plant defects in")

    sort_key = np.arange(n, dtype=np.float64)  # final position of each row, by sorting on this key
    extra: list[int] = []  # rows to duplicate
    planted: dict[int, QuarantineReason] = {}  # original row -> reason (copies are tracked apart)
    for _ in range(per_kind):
        row = take()
        nulls[row] = True
        planted[row] = R.NULL_FIELD
        row = take()
        ts_us[row] += int(timedelta(days=1).total_seconds() * 1_000_000)
        planted[row] = R.WRONG_PARTITION
        row = take()
        columns["price"][row] = -columns["price"][row] if rng.random() < 0.5 else 0.0
        planted[row] = R.NON_POSITIVE_PRICE
        row = take()
        columns["size"][row] = 0
        planted[row] = R.NON_POSITIVE_SIZE
        row = take()
        columns["side"][row] = "X"
        planted[row] = R.INVALID_SIDE
        row = take()
        columns["bid"][row] = 0.0
        planted[row] = R.NON_POSITIVE_QUOTE
        row = take()
        columns["bid"][row] = round(columns["ask"][row] + 0.02, 2)
        planted[row] = R.CROSSED_QUOTE
        extra.append(take())
        moved = _pick_out_of_order(symbols, ts_us, [take() for _ in range(8)], used)
        if moved is None:
            raise ValueError("no row found that can be moved out of order")
        row, after = moved
        used.add(after)
        sort_key[row] = after + 0.25
        planted[row] = R.OUT_OF_ORDER

    keys = np.concatenate([sort_key, np.asarray(extra, dtype=np.float64) + 0.5])
    source = np.concatenate([np.arange(n), np.asarray(extra)])
    final = np.argsort(keys, kind="stable")
    arrays = []
    for field in table.schema:
        if field.name == "ts":
            arrays.append(pa.array(ts_us[source[final]], pa.int64()).cast(ts_type))
        else:
            mask = nulls[source[final]] if field.name == "price" else None
            arrays.append(pa.array(columns[field.name][source[final]], field.type, mask=mask))
    out = pa.Table.from_arrays(arrays, schema=table.schema)

    result: list[PlantedTick] = []
    position_of = np.empty(len(keys), dtype=np.int64)
    position_of[final] = np.arange(len(keys))
    for row, reason in planted.items():
        result.append(PlantedTick(int(position_of[row]), reason))
    for copy_index in range(len(extra)):
        result.append(PlantedTick(int(position_of[n + copy_index]), R.DUPLICATE))
    return out, sorted(result, key=lambda tick: tick.row)
