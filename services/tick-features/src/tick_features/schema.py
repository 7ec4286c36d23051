"""The tick data contract: raw trade schema, quarantine reasons, and the feature table's columns.

Raw ticks are Parquet under `<raw>/date=YYYY-MM-DD/*.parquet`, one row per trade:

| column | Arrow type                 | meaning                                                   |
|--------|----------------------------|-----------------------------------------------------------|
| ts     | timestamp[us, tz=UTC]      | trade time, UTC, microseconds                             |
| symbol | string                     | instrument                                                |
| price  | double                     | trade price (> 0)                                         |
| size   | int64                      | shares traded (> 0)                                       |
| side   | string                     | aggressor side: "B" (buyer-initiated) or "S" (seller)     |
| bid    | double                     | best bid when the trade printed (> 0, <= ask)             |
| ask    | double                     | best ask when the trade printed (> 0)                     |

A file's row order is the feed's arrival order; "out of order" is judged against it.
Extra columns are allowed and ignored; a missing column or a wrong type is an error.
"""

from enum import StrEnum

import pyarrow as pa

# Bumped whenever the feature table's columns or their meaning change; written into every manifest.
FEATURE_SCHEMA_VERSION = "1"

PARTITION_COLUMN = "date"

RAW_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("symbol", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("size", pa.int64()),
        pa.field("side", pa.string()),
        pa.field("bid", pa.float64()),
        pa.field("ask", pa.float64()),
    ]
)
RAW_COLUMNS: tuple[str, ...] = tuple(RAW_SCHEMA.names)

BUY, SELL = "B", "S"
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "+00:00", "Z"})


class QuarantineReason(StrEnum):
    """Why a tick was set aside. When several apply, the first in this order is recorded."""

    NULL_FIELD = "null_field"  # a null column, or a NaN price, bid or ask
    WRONG_PARTITION = "wrong_partition"  # the tick's UTC date is not its partition's date
    NON_POSITIVE_PRICE = "non_positive_price"
    NON_POSITIVE_SIZE = "non_positive_size"
    INVALID_SIDE = "invalid_side"
    NON_POSITIVE_QUOTE = "non_positive_quote"
    CROSSED_QUOTE = "crossed_quote"  # bid > ask
    DUPLICATE = "duplicate"  # identical in every column to the previous tick of its symbol and date
    OUT_OF_ORDER = "out_of_order"  # earlier than a tick of the same symbol that arrived before it


# Quarantine rows: the raw columns, the reason, and where the tick came from.
QUARANTINE_EXTRA_COLUMNS: tuple[str, ...] = ("reason", "source_file", "source_row")

# Bars (per symbol and UTC minute, only minutes with at least one clean trade).
BAR_COLUMNS: tuple[str, ...] = (
    "symbol",
    "bar_start",  # timestamp of the minute, UTC
    "open",
    "high",
    "low",
    "close",
    "volume",  # sum of size
    "vwap",  # sum(price * size) / volume
    "trade_count",
    "mean_spread",  # mean of (ask - bid) over the minute's trades
    "imbalance",  # (buy volume - sell volume) / volume, in [-1, 1]
)

# Features per bar, computed within one symbol's bars of one date (ordered by bar_start), so a
# partition depends on its own raw date only. "Previous bar" is the symbol's previous bar that day.
VOLATILITY_BARS = 10
VOLUME_ZSCORE_BARS = 20
RETURN_LAGS = 3
FEATURE_COLUMNS: tuple[str, ...] = (
    "log_return",  # ln(close / previous close); null on the day's first bar
    *(f"log_return_lag{lag}" for lag in range(1, RETURN_LAGS + 1)),
    f"volatility_{VOLATILITY_BARS}",  # sample stddev of the last 10 log returns (null until 10 exist)
    f"volume_zscore_{VOLUME_ZSCORE_BARS}",  # (volume - mean) / stddev over the 20 previous bars
    "spread_bps",  # mean_spread / close * 1e4
    "minute_of_day",  # minutes since 00:00 UTC
)
LABEL_COLUMN = "next_return_sign"  # sign of ln(next close / close): -1, 0, 1; null on the last bar
FEATURE_TABLE_COLUMNS: tuple[str, ...] = (*BAR_COLUMNS, *FEATURE_COLUMNS, LABEL_COLUMN)
