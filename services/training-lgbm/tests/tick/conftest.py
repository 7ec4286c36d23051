"""Feature partitions and manifests in the tick-features output format, with a planted, learnable signal.

Written here rather than by running the Spark rollup, so these tests need neither Spark nor tick-features;
the platform tests run the real chain (generate -> rollup -> train).
"""

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIRST_DAY = date(2024, 3, 4)


def write_feature_day(
    features_dir: Path, manifest_dir: Path, day: date, symbols: int = 6, signal: float = 2.5, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    minutes = 390
    n = symbols * minutes
    imbalance = np.clip(rng.normal(0, 0.4, n), -1, 1)
    p_up = 1 / (1 + np.exp(-signal * imbalance))
    move = np.where(rng.random(n) < p_up, 1, -1)
    move[rng.random(n) < 0.05] = 0
    start = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC)
    bar_start = [start + timedelta(minutes=int(m)) for m in np.tile(np.arange(minutes), symbols)]
    label = pd.array(move, dtype="Int32")
    label[np.arange(n) % minutes == minutes - 1] = pd.NA  # the day's last bar has no next bar
    frame = pd.DataFrame(
        {
            "symbol": np.repeat([f"S{i:04d}" for i in range(symbols)], minutes),
            "bar_start": pd.to_datetime(bar_start),
            "open": 100.0,
            "close": 100.0,
            "log_return": rng.normal(0, 1e-3, n),
            "log_return_lag1": rng.normal(0, 1e-3, n),
            "log_return_lag2": rng.normal(0, 1e-3, n),
            "log_return_lag3": rng.normal(0, 1e-3, n),
            "volatility_10": np.abs(rng.normal(1e-3, 1e-4, n)),
            "volume_zscore_20": rng.normal(0, 1, n),
            "spread_bps": rng.uniform(1, 10, n),
            "imbalance": imbalance,
            "trade_count": rng.integers(1, 50, n),
            "minute_of_day": np.tile(np.arange(minutes, dtype=np.int32) + 870, symbols),
            "next_return_sign": label,
        }
    )
    folder = features_dir / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-00000.parquet"
    frame.to_parquet(path, index=False)
    manifest = {
        "date": day.isoformat(),
        "schema_version": "1",
        "job_version": "tick-features==0.1.0",
        "bars": n,
        "symbols": symbols,
        "features_checksum": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    manifest_dir.mkdir(parents=True, exist_ok=True)
    (manifest_dir / f"date={day.isoformat()}.json").write_text(json.dumps(manifest))
    return path


def write_feature_days(ticks: Path, days: int, **kwargs) -> list[date]:
    dates = [FIRST_DAY + timedelta(days=i) for i in range(days)]
    for i, day in enumerate(dates):
        write_feature_day(ticks / "features", ticks / "manifests", day, seed=i, **kwargs)
    return dates


@pytest.fixture(scope="session")
def tick_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four days of feature partitions under <ticks>/features and <ticks>/manifests."""
    ticks = tmp_path_factory.mktemp("ticks")
    write_feature_days(ticks, days=4)
    return ticks
