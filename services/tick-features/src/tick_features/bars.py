"""1-minute bars per symbol from clean ticks, then per-bar features and the label, in Spark.

Column meanings are documented in `tick_features.schema`. Windows never cross a date, so every
date's output depends on that date's raw partition alone (re-running a date is self-contained).
"""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from tick_features.quality import ARRIVAL
from tick_features.schema import (
    BUY,
    FEATURE_TABLE_COLUMNS,
    LABEL_COLUMN,
    PARTITION_COLUMN,
    RETURN_LAGS,
    VOLATILITY_BARS,
    VOLUME_ZSCORE_BARS,
)


def minute_bars(clean: DataFrame) -> DataFrame:
    c = F.col
    signed_size = F.when(c("side") == BUY, c("size")).otherwise(-c("size"))
    return clean.groupBy(PARTITION_COLUMN, "symbol", F.date_trunc("minute", c("ts")).alias("bar_start")).agg(
        F.min_by("price", ARRIVAL).alias("open"),
        F.max("price").alias("high"),
        F.min("price").alias("low"),
        F.max_by("price", ARRIVAL).alias("close"),
        F.sum("size").alias("volume"),
        F.sum(c("price") * c("size")).alias("_turnover"),
        F.count(F.lit(1)).alias("trade_count"),
        F.avg(c("ask") - c("bid")).alias("mean_spread"),
        F.sum(signed_size).alias("_net_volume"),
    )


def with_features(bars: DataFrame) -> DataFrame:
    c = F.col
    by_time = Window.partitionBy(PARTITION_COLUMN, "symbol").orderBy("bar_start")
    frame = bars.select(
        "*",
        (c("_turnover") / c("volume")).alias("vwap"),
        (c("_net_volume") / c("volume")).alias("imbalance"),
        F.ln(c("close") / F.lag("close", 1).over(by_time)).alias("log_return"),
        F.lead("close", 1).over(by_time).alias("_next_close"),
    )
    vol_frame = by_time.rowsBetween(-(VOLATILITY_BARS - 1), 0)
    previous_bars = by_time.rowsBetween(-VOLUME_ZSCORE_BARS, -1)
    volume_sd = F.stddev_samp("volume").over(previous_bars)
    lags = [
        F.lag("log_return", lag).over(by_time).alias(f"log_return_lag{lag}")
        for lag in range(1, RETURN_LAGS + 1)
    ]
    frame = frame.select(
        "*",
        *lags,
        F.when(
            F.count("log_return").over(vol_frame) == VOLATILITY_BARS,
            F.stddev_samp("log_return").over(vol_frame),
        ).alias(f"volatility_{VOLATILITY_BARS}"),
        F.when(
            (F.count("volume").over(previous_bars) == VOLUME_ZSCORE_BARS) & (volume_sd > 0),
            (c("volume") - F.avg("volume").over(previous_bars)) / volume_sd,
        ).alias(f"volume_zscore_{VOLUME_ZSCORE_BARS}"),
        (c("mean_spread") / c("close") * 1e4).alias("spread_bps"),
        (F.hour("bar_start") * 60 + F.minute("bar_start")).cast("int").alias("minute_of_day"),
        F.when(c("_next_close") > c("close"), 1)
        .when(c("_next_close") < c("close"), -1)
        .when(c("_next_close") == c("close"), 0)
        .cast("int")
        .alias(LABEL_COLUMN),
    )
    return frame.select(PARTITION_COLUMN, *FEATURE_TABLE_COLUMNS)
