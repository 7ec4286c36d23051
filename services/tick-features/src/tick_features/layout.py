"""Where tick data lives under a data root, and how dates map to `date=YYYY-MM-DD` partitions."""

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from tick_features.schema import PARTITION_COLUMN

ENV_DATA_ROOT = "MLOPS_DATA_ROOT"


@dataclass(frozen=True)
class TickPaths:
    raw: Path
    features: Path
    quarantine: Path
    manifests: Path

    @classmethod
    def under(cls, data_root: Path) -> "TickPaths":
        ticks = data_root / "ticks"
        return cls(ticks / "raw", ticks / "features", ticks / "quarantine", ticks / "manifests")


def default_data_root() -> Path:
    return Path(os.environ.get(ENV_DATA_ROOT, ".data"))


def partition_name(day: date) -> str:
    return f"{PARTITION_COLUMN}={day.isoformat()}"


def partition_dir(base: Path, day: date) -> Path:
    return base / partition_name(day)


def manifest_path(manifest_dir: Path, day: date) -> Path:
    return manifest_dir / f"{partition_name(day)}.json"


def date_range(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def parse_partition_name(name: str) -> date | None:
    """The date of a `date=YYYY-MM-DD` folder name, or None for anything else."""
    prefix = f"{PARTITION_COLUMN}="
    if not name.startswith(prefix):
        return None
    try:
        return date.fromisoformat(name.removeprefix(prefix))
    except ValueError:
        return None
