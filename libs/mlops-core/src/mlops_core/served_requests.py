"""Read the serving service's request samples back as feature columns, for drift against training data.

Layout (written by `serving`): `<dir>/<model>/date=YYYY-MM-DD/part-*.jsonl`, one JSON object per sampled
request with `model`, `version`, `ts` and either `features` (one object per row, tabular models) or
`image_stats` (one `{mean, std, min, max}` object per image, 0..255 scale). A line that is not a JSON
object (e.g. cut off when a pod died mid-write) is skipped and reported by file and line.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_core.drift import compare_features
from mlops_core.logs import get_logger
from mlops_core.quality import DriftComparison

if TYPE_CHECKING:  # monitoring imports MLflow; this module does not need it at run time
    from mlops_core.monitoring import ChampionUnderReview

log = get_logger(__name__)

PARTITION_PREFIX = "date="
FEATURES_FIELD = "features"
IMAGE_STATS_FIELD = "image_stats"


@dataclass
class ServedSample:
    rows: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    files: int = 0
    first_day: date | None = None
    last_day: date | None = None
    skipped: list[str] = field(default_factory=list)

    def columns(self, names: list[str]) -> dict[str, np.ndarray]:
        """Each named column as float64 (missing or non-numeric cells are NaN)."""
        out = {}
        for name in names:
            values = [row.get(name) for row in self.rows]
            out[name] = np.array(
                [v if isinstance(v, int | float) and not isinstance(v, bool) else np.nan for v in values],
                dtype="float64",
            )
        return out

    def describe(self) -> str:
        if not self.requests:
            return "no sampled requests"
        return (
            f"{len(self.rows)} rows from {self.requests} sampled requests, "
            f"{self.first_day}..{self.last_day} ({self.files} files)"
        )


def _partition_day(folder: Path) -> date | None:
    try:
        return date.fromisoformat(folder.name.removeprefix(PARTITION_PREFIX))
    except ValueError:
        return None


def read_served_sample(
    log_dir: Path,
    model: str,
    version: str | None,
    row_field: str,
    days: int = 7,
    today: date | None = None,
) -> ServedSample:
    """Rows of `row_field` from the last `days` day partitions, for one model (and version, if given)."""
    sample = ServedSample()
    root = log_dir / model
    if not root.is_dir():
        return sample
    today = today or datetime.now(UTC).date()
    since = today - timedelta(days=max(days, 1) - 1)
    for folder in sorted(root.glob(f"{PARTITION_PREFIX}*")):
        day = _partition_day(folder)
        if day is None or not folder.is_dir() or day < since:
            continue
        for path in sorted(folder.glob("*.jsonl")):
            sample.files += 1
            _read_file(path, day, version, row_field, sample)
    if sample.skipped:
        log.warning("skipped unreadable request samples", count=len(sample.skipped), first=sample.skipped[0])
    return sample


def served_drift(
    champion: "ChampionUnderReview",
    log_dir: Path,
    row_field: str,
    days: int,
    today: date,
    reference: Mapping[str, np.ndarray],
    reference_label: str,
) -> tuple[DriftComparison | None, list[str]]:
    """Drift of the champion's sampled served rows against `reference` (same column names), and notes
    for the report: lines that could not be read, or that nothing was sampled."""
    version = champion.version.version
    served = read_served_sample(log_dir, champion.model_name, version, row_field, days, today)
    notes = [f"skipped request sample {line}" for line in served.skipped[:20]]
    if not served.rows:
        return None, [*notes, f"no served requests of v{version} sampled under {log_dir}"]
    comparison = DriftComparison(
        name="served requests",
        key="served",
        reference=reference_label,
        current=served.describe(),
        features=compare_features(reference, served.columns(list(reference))),
    )
    return comparison, notes


def _read_file(path: Path, day: date, version: str | None, row_field: str, sample: ServedSample) -> None:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                sample.skipped.append(f"{path}:{number}: not valid JSON")
                continue
            if not isinstance(record, dict) or not isinstance(record.get(row_field, []), list):
                sample.skipped.append(f"{path}:{number}: not a request record with a {row_field!r} list")
                continue
            if version is not None and str(record.get("version")) != version:
                continue
            rows = [row for row in record.get(row_field, []) if isinstance(row, dict)]
            if not rows:
                continue
            sample.rows.extend(rows)
            sample.requests += 1
            sample.first_day = min(sample.first_day or day, day)
            sample.last_day = max(sample.last_day or day, day)
