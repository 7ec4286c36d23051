"""Sample data in the exact UCI format: minute readings with daily, weekly and seasonal shape."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from mlops_core.logs import get_logger
from training_lgbm.power import schema

log = get_logger(__name__)


@dataclass(frozen=True)
class SampleSpec:
    start: date = date(2006, 12, 16)
    days: int = 400
    seed: int = 7
    # Expected number of outages; each blanks a stretch of minutes (most short, a few lasting days).
    outages: int = 12


def _daily_profile(minute_of_day: np.ndarray) -> np.ndarray:
    hours = minute_of_day / 60.0
    morning = np.exp(-0.5 * ((hours - 7.5) / 1.2) ** 2)
    evening = np.exp(-0.5 * ((hours - 19.5) / 2.0) ** 2)
    night = 0.25 + 0.1 * np.cos(2 * np.pi * (hours - 3) / 24)
    return night + 1.1 * morning + 1.8 * evening


def _active_power(index: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    minute_of_day = np.asarray(index.hour * 60 + index.minute)
    weekend = np.asarray(index.dayofweek >= 5)
    season = 1.0 + 0.45 * np.cos(2 * np.pi * (np.asarray(index.dayofyear) - 15) / 365.25)  # winter peak
    daily = _daily_profile(minute_of_day)
    midday = np.exp(-0.5 * ((minute_of_day / 60.0 - 13) / 2.5) ** 2)
    weekly = np.where(weekend, 1.0 + 0.6 * midday, 1.0)
    # Slowly varying household state (AR(1) at minute scale) plus appliance bursts.
    noise = lfilter([1.0], [1.0, -0.995], rng.normal(0.0, 0.05, len(index)))
    bursts = (rng.random(len(index)) < 0.004).astype(float)
    bursts = np.convolve(bursts, np.ones(25), mode="same") * rng.uniform(0.5, 2.0)
    power = (0.35 + daily * season * weekly) * np.exp(noise) + bursts
    return np.clip(power, 0.076, 11.0)


def _outage_mask(n: int, spec: SampleSpec, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for _ in range(rng.poisson(spec.outages)):
        length = int(rng.choice([rng.integers(1, 10), rng.integers(30, 300), rng.integers(1440, 4 * 1440)],
                                p=[0.6, 0.3, 0.1]))  # fmt: skip
        start = int(rng.integers(0, max(1, n - length)))
        mask[start : start + length] = True
    return mask


def generate_frame(spec: SampleSpec) -> pd.DataFrame:
    """The readings as the file stores them: strings, `?` for missing measurements."""
    rng = np.random.default_rng(spec.seed)
    index = pd.date_range(pd.Timestamp(spec.start), periods=spec.days * 1440, freq="min")
    active = _active_power(index, rng)
    reactive = np.clip(0.1 + 0.08 * active + rng.normal(0, 0.03, len(index)), 0.0, None)
    voltage = 240.5 - 1.2 * active + rng.normal(0, 1.5, len(index))
    intensity = active * 1000 / voltage
    kitchen = np.where(rng.random(len(index)) < 0.02, rng.uniform(20, 70, len(index)), 0.0)
    laundry = np.where(
        rng.random(len(index)) < 0.03, rng.uniform(1, 40, len(index)), rng.integers(0, 2, len(index))
    )
    heater = np.clip(np.round(active * 6 + rng.normal(0, 1, len(index))), 0, 31)
    values = {
        "Global_active_power": active, "Global_reactive_power": reactive, "Voltage": voltage,
        "Global_intensity": intensity, "Sub_metering_1": np.round(kitchen), "Sub_metering_2": np.round(laundry),
        "Sub_metering_3": heater,
    }  # fmt: skip
    frame = pd.DataFrame({name: np.char.mod("%.3f", col) for name, col in values.items()})
    outage = _outage_mask(len(index), spec, rng)
    frame.loc[outage, list(schema.MEASUREMENT_COLUMNS)] = schema.MISSING
    # Like the published file: day and month without leading zeros.
    frame.insert(0, schema.TIME_COLUMN, index.strftime(schema.TIME_FORMAT))
    days = index.normalize()
    labels = {day: f"{day.day}/{day.month}/{day.year}" for day in days.unique()}
    frame.insert(0, schema.DATE_COLUMN, days.map(labels))
    return frame


def write_sample(path: Path, spec: SampleSpec) -> Path:
    frame = generate_frame(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep=schema.SEPARATOR, index=False, header=list(schema.COLUMNS), lineterminator="\n")
    log.info("wrote sample power data", file=str(path), rows=len(frame), days=spec.days)
    return path
