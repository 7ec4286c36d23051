"""Data quality in Spark: give every raw tick a quarantine reason, or none when it is clean.

The rules, in the order the first matching reason is recorded (see `QuarantineReason`):
1. row checks: a null column, a UTC date other than the partition's, price <= 0, size <= 0,
   side not B/S, bid or ask <= 0, bid > ask;
2. duplicate: among ticks passing (1), identical in every raw column to the tick of the same
   symbol and date that arrived just before it (a feed re-sending a tick);
3. out of order: among ticks passing (1), earlier than the latest tick of the same symbol and date
   that arrived before it. (A copy re-sent after later ticks of its symbol is caught here.)
"Arrival" is the file's row order (files of a partition in name order), which the feed preserved.
Both (2) and (3) come from one window over each symbol's row-valid ticks in arrival order, so the
ticks are shuffled and sorted once. Duplicates and out-of-order ticks never raise the running
maximum (their time is at most that of a tick before them), so it equals the maximum over the
ticks that stay.
"""

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from tick_features.schema import BUY, PARTITION_COLUMN, RAW_COLUMNS, SELL, QuarantineReason

R = QuarantineReason
ARRIVAL = "arrival"
_ROW_BITS = 40  # arrival = file rank << 40 | row index: up to 2^40 rows per file


def arrival_order(file_rank: Column, row_index: Column) -> Column:
    return F.shiftleft(file_rank.cast("long"), _ROW_BITS) + row_index.cast("long")


def arrival_file_rank(arrival: Column) -> Column:
    return F.shiftright(arrival, _ROW_BITS).cast("int")


def arrival_row(arrival: Column) -> Column:
    return arrival.bitwiseAND(F.lit((1 << _ROW_BITS) - 1))


def _row_reason() -> Column:
    c = F.col
    any_null = F.isnan("price") | F.isnan("bid") | F.isnan("ask")
    for name in RAW_COLUMNS:
        any_null = any_null | c(name).isNull()
    checks: list[tuple[Column, QuarantineReason]] = [
        (any_null, R.NULL_FIELD),
        (F.to_date(c("ts")) != c(PARTITION_COLUMN), R.WRONG_PARTITION),
        (c("price") <= 0, R.NON_POSITIVE_PRICE),
        (c("size") <= 0, R.NON_POSITIVE_SIZE),
        (~c("side").isin(BUY, SELL), R.INVALID_SIDE),
        ((c("bid") <= 0) | (c("ask") <= 0), R.NON_POSITIVE_QUOTE),
        (c("bid") > c("ask"), R.CROSSED_QUOTE),
    ]
    reason = F.when(checks[0][0], F.lit(checks[0][1].value))
    for condition, name in checks[1:]:
        reason = reason.when(condition, F.lit(name.value))
    return reason


def classify(ticks: DataFrame) -> DataFrame:
    """Add a `reason` column (null for clean ticks). Needs the raw columns, `date` and `arrival`.

    Expects `ticks` partitioned by (date, symbol) so that the window adds no further shuffle.
    """
    row_ok = "_row_ok"
    frame = ticks.withColumn("_row_reason", _row_reason()).withColumn(row_ok, F.col("_row_reason").isNull())
    in_arrival = Window.partitionBy(PARTITION_COLUMN, "symbol", row_ok).orderBy(ARRIVAL)
    content = F.struct(*RAW_COLUMNS)
    latest_before = F.max("ts").over(in_arrival.rowsBetween(Window.unboundedPreceding, -1))
    reason = F.coalesce(
        F.col("_row_reason"),
        F.when(content == F.lag(content, 1).over(in_arrival), F.lit(R.DUPLICATE.value)),
        F.when(F.col("ts") < latest_before, F.lit(R.OUT_OF_ORDER.value)),
    )
    return frame.withColumn("reason", reason).drop("_row_reason", row_ok)
