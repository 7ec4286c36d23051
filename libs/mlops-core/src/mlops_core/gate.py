"""The release gate: a pure decision over a candidate, its naive baseline and the current champion.

Training logs, on the candidate run, the metrics this module names (`test_<m>`, `baseline_test_<m>`,
`champion_test_<m>`), the thresholds as `gate.*` params, and which champion version it evaluated,
so the gate can be re-checked later from the run alone.
"""

import math
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from mlops_core.exit_codes import ExitCode
from mlops_core.naming import Tag


def candidate_metric(metric: str) -> str:
    return f"test_{metric}"


def baseline_metric(metric: str) -> str:
    return f"baseline_test_{metric}"


def champion_metric(metric: str) -> str:
    return f"champion_test_{metric}"


class GateThresholds(BaseModel, frozen=True):
    metric: str = Field(description="metric compared, e.g. 'mae' or 'accuracy'")
    greater_is_better: bool
    min_improvement: float = Field(
        0.0, ge=0.0, lt=1.0, description="relative margin by which the candidate must beat the baseline"
    )
    min_value: float | None = Field(None, description="absolute floor (or ceiling) for the metric")
    champion_tolerance: float = Field(
        0.0, ge=0.0, description="relative slack allowed against the champion on the same data"
    )

    def as_params(self) -> dict[str, str]:
        return {f"gate.{key}": str(value) for key, value in self.model_dump().items()}

    @classmethod
    def from_params(cls, params: dict[str, str]) -> "GateThresholds":
        raw = {key.removeprefix("gate."): value for key, value in params.items() if key.startswith("gate.")}
        if "min_value" in raw and raw["min_value"] == "None":
            raw["min_value"] = None
        return cls.model_validate(raw)


class GateVerdict(StrEnum):
    PASSED = "passed"
    BELOW_BASELINE = "below_baseline"
    WORSE_THAN_CHAMPION = "worse_than_champion"
    STALE_CHAMPION = "stale_champion"


_EXIT_CODES = {
    GateVerdict.PASSED: ExitCode.OK,
    GateVerdict.BELOW_BASELINE: ExitCode.GATE_BELOW_BASELINE,
    GateVerdict.WORSE_THAN_CHAMPION: ExitCode.GATE_WORSE_THAN_CHAMPION,
    GateVerdict.STALE_CHAMPION: ExitCode.GATE_STALE_CHAMPION,
}


class GateDecision(BaseModel, frozen=True):
    verdict: GateVerdict
    reason: str
    thresholds: GateThresholds
    candidate: float
    baseline: float
    champion: float | None = None
    champion_version: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict is GateVerdict.PASSED

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self.verdict]

    def evidence_tags(self) -> dict[str, str]:
        return {
            Tag.GATE_VERDICT: self.verdict.value,
            "mlops.gate.metric": self.thresholds.metric,
            "mlops.gate.candidate": f"{self.candidate:.6g}",
            "mlops.gate.baseline": f"{self.baseline:.6g}",
            "mlops.gate.champion": "none" if self.champion is None else f"{self.champion:.6g}",
            "mlops.gate.champion_version": self.champion_version or "none",
            "mlops.gate.min_improvement": str(self.thresholds.min_improvement),
        }

    @model_validator(mode="after")
    def _finite(self) -> "GateDecision":
        for name in ("candidate", "baseline"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"gate {name} metric is not finite")
        return self


def _better(a: float, b: float, greater_is_better: bool) -> bool:
    return a > b if greater_is_better else a < b


def decide(
    thresholds: GateThresholds,
    candidate: float,
    baseline: float,
    champion: float | None = None,
    champion_version: str | None = None,
) -> GateDecision:
    """Beat the baseline by the margin (and any absolute floor), and be no worse than the champion."""
    t = thresholds
    sign = 1.0 if t.greater_is_better else -1.0
    required = baseline + sign * abs(baseline) * t.min_improvement
    common = dict(
        thresholds=t,
        candidate=candidate,
        baseline=baseline,
        champion=champion,
        champion_version=champion_version,
    )
    beats_baseline = _better(candidate, baseline, t.greater_is_better) and not _better(
        required, candidate, t.greater_is_better
    )
    if not beats_baseline:
        return GateDecision(
            verdict=GateVerdict.BELOW_BASELINE,
            reason=(
                f"{t.metric}={candidate:.6g} does not beat the baseline {baseline:.6g} by "
                f"{t.min_improvement:.1%} (needs {'>=' if t.greater_is_better else '<='} {required:.6g})"
            ),
            **common,
        )
    if t.min_value is not None and _better(t.min_value, candidate, t.greater_is_better):
        return GateDecision(
            verdict=GateVerdict.BELOW_BASELINE,
            reason=f"{t.metric}={candidate:.6g} misses the configured threshold {t.min_value:.6g}",
            **common,
        )
    if champion is not None:
        allowed = champion - sign * abs(champion) * t.champion_tolerance
        if _better(allowed, candidate, t.greater_is_better):
            return GateDecision(
                verdict=GateVerdict.WORSE_THAN_CHAMPION,
                reason=(
                    f"{t.metric}={candidate:.6g} is worse than champion v{champion_version} "
                    f"({champion:.6g}) on the same evaluation data"
                ),
                **common,
            )
    versus = f", champion v{champion_version} {champion:.6g}" if champion is not None else ", no champion yet"
    return GateDecision(
        verdict=GateVerdict.PASSED,
        reason=f"{t.metric}={candidate:.6g} beats baseline {baseline:.6g}{versus}",
        **common,
    )
