"""Sample tick data in the real raw format: many symbols, U-shaped intraday activity, quoted spreads.

Each symbol's mid price is a random walk with a small drift driven by a persistent, latent order
flow (an AR(1) per symbol and minute) that also tilts the buy/sell mix: buyer-initiated trades
print at the ask, seller-initiated ones at the bid. That gives the data what real trade data has,
bid-ask bounce and short-lived order-flow momentum, so the tick model has something to find.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tick_features.layout import partition_dir
from tick_features.schema import BUY, RAW_SCHEMA, SELL

SESSION_OPEN_UTC = timedelta(hours=14, minutes=30)  # 09:30 New York (EST)
SESSION_MINUTES = 390
TICK_SIZE = 0.01
ROW_GROUP_ROWS = 256 * 1024  # several row groups per large day, so Spark can split a file
_US_PER_MINUTE = 60_000_000
_LANE_US = 10 * 24 * 60 * _US_PER_MINUTE


@dataclass(frozen=True)
class GeneratorConfig:
    symbols: int = 20
    ticks_per_day: int = 100_000
    seed: int = 7
    daily_volatility: float = 0.02
    flow_persistence: float = 0.8  # AR(1) coefficient of the latent order flow, per minute
    flow_drift: float = 0.15  # drift per tick, in units of the per-tick volatility, per unit of flow
    flow_side_tilt: float = 1.0  # logit of P(buy) per unit of flow
    midpoint_share: float = 0.1  # trades printed inside the spread, at the midpoint


@dataclass
class _SymbolState:
    names: list[str]
    log_mid: np.ndarray
    spread_bps: np.ndarray
    activity: np.ndarray


def _initial_state(config: GeneratorConfig, rng: np.random.Generator) -> _SymbolState:
    n = config.symbols
    names = [f"S{i:04d}" for i in range(n)]
    log_mid = np.log(rng.uniform(20.0, 400.0, n))
    spread_bps = rng.uniform(1.0, 12.0, n)
    activity = 1.0 / np.arange(1, n + 1) ** 0.8  # a few busy names, a long thin tail
    return _SymbolState(names, log_mid, spread_bps, activity / activity.sum())


def _u_shaped_offsets(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds into the session, denser at the open and the close."""
    u_shape = rng.beta(0.5, 0.5, n)
    flat = rng.random(n)
    fraction = np.where(rng.random(n) < 0.6, u_shape, flat)
    return np.floor(fraction * (SESSION_MINUTES * _US_PER_MINUTE - 1)).astype(np.int64)


def _latent_flow(config: GeneratorConfig, rng: np.random.Generator) -> np.ndarray:
    phi = config.flow_persistence
    shocks = rng.standard_normal((config.symbols, SESSION_MINUTES)) * np.sqrt(1.0 - phi**2)
    flow = np.empty_like(shocks)
    flow[:, 0] = rng.standard_normal(config.symbols)
    for minute in range(1, SESSION_MINUTES):
        flow[:, minute] = phi * flow[:, minute - 1] + shocks[:, minute]
    return flow


def _day_table(day: date, config: GeneratorConfig, state: _SymbolState, rng: np.random.Generator) -> pa.Table:
    counts = rng.multinomial(config.ticks_per_day, state.activity)
    symbol_idx = np.repeat(np.arange(config.symbols), counts)
    n = symbol_idx.size
    offsets = _u_shaped_offsets(rng, n)
    # Per symbol: sort times and make them strictly increasing (no two trades of a name share a µs).
    order = np.lexsort((offsets, symbol_idx))
    symbol_idx, offsets = symbol_idx[order], offsets[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(n) - np.repeat(starts, counts)
    lane = symbol_idx * _LANE_US  # keeps the running maximum from leaking across symbols
    offsets = np.maximum.accumulate(lane + offsets - position) - lane + position if n else offsets

    minute = np.minimum(offsets // _US_PER_MINUTE, SESSION_MINUTES - 1)
    flow = _latent_flow(config, rng)[symbol_idx, minute]
    p_buy = 1.0 / (1.0 + np.exp(-config.flow_side_tilt * flow))
    is_buy = rng.random(n) < p_buy

    tick_vol = config.daily_volatility / np.sqrt(np.maximum(counts, 1))[symbol_idx]
    steps = tick_vol * (rng.standard_normal(n) + config.flow_drift * flow)
    walked = np.cumsum(steps)
    walked_before = np.concatenate(([0.0], walked))[starts]
    log_mid = state.log_mid[symbol_idx] + walked - np.repeat(walked_before, counts)
    mid = np.exp(log_mid)

    half_spread = mid * state.spread_bps[symbol_idx] * rng.uniform(0.6, 1.4, n) / 2e4
    bid = np.round(np.floor((mid - half_spread) / TICK_SIZE) * TICK_SIZE, 2)
    ask = np.round(np.maximum(np.ceil((mid + half_spread) / TICK_SIZE) * TICK_SIZE, bid + TICK_SIZE), 2)
    at_mid = rng.random(n) < config.midpoint_share
    price = np.where(at_mid, np.round((bid + ask) / 2, 2), np.where(is_buy, ask, bid))
    size = np.where(rng.random(n) < 0.2, rng.integers(1, 100, n), rng.geometric(0.3, n) * 100).astype(
        np.int64
    )

    last_of_symbol = np.cumsum(counts) - 1
    traded = counts > 0
    state.log_mid[traded] = log_mid[last_of_symbol[traded]]

    session_open = datetime(day.year, day.month, day.day, tzinfo=UTC) + SESSION_OPEN_UTC
    ts = int(session_open.timestamp()) * 1_000_000 + offsets
    arrival = np.argsort(ts, kind="stable")  # the feed delivers trades in time order across names
    names = np.asarray(state.names, dtype=object)
    return pa.Table.from_arrays(
        [
            pa.array(ts[arrival], pa.timestamp("us", tz="UTC")),
            pa.array(names[symbol_idx[arrival]], pa.string()),
            pa.array(price[arrival], pa.float64()),
            pa.array(size[arrival], pa.int64()),
            pa.array(np.where(is_buy[arrival], BUY, SELL), pa.string()),
            pa.array(bid[arrival], pa.float64()),
            pa.array(ask[arrival], pa.float64()),
        ],
        schema=RAW_SCHEMA,
    )


def generate_days(start: date, days: int, config: GeneratorConfig) -> Iterator[tuple[date, pa.Table]]:
    """Consecutive calendar days of trades; prices carry over from one day to the next."""
    rng = np.random.default_rng(config.seed)
    state = _initial_state(config, rng)
    for offset in range(days):
        day = start + timedelta(days=offset)
        yield day, _day_table(day, config, state, rng)


def write_partition(raw_dir: Path, day: date, table: pa.Table, file_name: str = "part-00000.parquet") -> Path:
    """Replace the day's partition with one Parquet file."""
    folder = partition_dir(raw_dir, day)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.parquet"):
        stale.unlink()
    path = folder / file_name
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS)
    return path
