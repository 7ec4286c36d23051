"""A champion's quality report: its gate metric now vs at training time, and feature drift.

Every workload builds one `QualityReport` from its own data; rendering (`quality_render`), logging and
the retrain decision (`monitoring`) are shared. The champion's training-time number is the gate metric
its training run logged on its test set (`test_<metric>`), with the gate's own direction. Plain data:
no MLflow import, so command modules can use these types without loading it.
"""

import math
from datetime import datetime

from pydantic import BaseModel, computed_field

from mlops_core.drift import FeatureDrift


def relative_degradation(at_training: float, current: float, greater_is_better: bool) -> float:
    """How much worse `current` is, relative to `at_training` (negative: it improved)."""
    worse = at_training - current if greater_is_better else current - at_training
    if at_training == 0:
        return math.inf if worse > 0 else 0.0
    return worse / abs(at_training)


class PerformanceComparison(BaseModel, frozen=True):
    metric: str
    greater_is_better: bool
    at_training: float
    current: float | None = None
    rows: int = 0
    data: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def degradation(self) -> float | None:
        if self.current is None or not math.isfinite(self.current):
            return None
        return relative_degradation(self.at_training, self.current, self.greater_is_better)


class DriftComparison(BaseModel, frozen=True):
    """Features of one current sample (recent data, served requests) against the training reference."""

    name: str
    key: str  # short name used in metric keys, e.g. "recent", "served"
    reference: str
    current: str
    features: list[FeatureDrift]

    @property
    def max_psi(self) -> float | None:
        values = [f.psi for f in self.features if f.psi is not None]
        return max(values) if values else None


class QualityReport(BaseModel, frozen=True):
    workload: str
    model: str
    version: str
    model_run_id: str
    generated_at: datetime
    data_version: str
    performance: PerformanceComparison | None
    drift: list[DriftComparison]
    notes: list[str] = []

    @property
    def max_psi(self) -> float | None:
        values = [c.max_psi for c in self.drift if c.max_psi is not None]
        return max(values) if values else None

    def headline_metrics(self) -> dict[str, float]:
        """The row of numbers a report adds to the model version's history."""
        out: dict[str, float] = {}
        perf = self.performance
        if perf is not None:
            out[f"monitor_training_{perf.metric}"] = perf.at_training
            out["monitor_rows"] = float(perf.rows)
            if perf.current is not None and perf.degradation is not None:
                out[f"monitor_{perf.metric}"] = perf.current
                out["monitor_degradation"] = perf.degradation
        for comparison in self.drift:
            if comparison.max_psi is not None:
                out[f"monitor_max_psi_{comparison.key}"] = comparison.max_psi
        if self.max_psi is not None:
            out["monitor_max_psi"] = self.max_psi
        return {k: v for k, v in out.items() if math.isfinite(v)}

    def drift_metrics(self) -> dict[str, float]:
        out = {}
        for comparison in self.drift:
            for f in comparison.features:
                if f.psi is not None:
                    out[f"drift_{comparison.key}_psi_{f.feature}"] = f.psi
                if f.ks is not None:
                    out[f"drift_{comparison.key}_ks_{f.feature}"] = f.ks
        return out
