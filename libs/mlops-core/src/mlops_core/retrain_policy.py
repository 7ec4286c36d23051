"""When a quality report may request retraining: thresholds, a cool-down and a daily budget.

The request history lives in a tag of the registered model (JSON), so it survives pods and is visible
in the MLflow UI next to the aliases it is about. Only granted requests are recorded: a suppressed one
must not extend the cool-down or use the budget.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from mlops_core.exit_codes import ExitCode
from mlops_core.logs import get_logger
from mlops_core.quality import QualityReport

log = get_logger(__name__)

HISTORY_TAG = "mlops.retrain.requests"
LAST_REQUEST_TAG = "mlops.retrain.last_requested_at"
LAST_REASON_TAG = "mlops.retrain.last_reason"
BUDGET_WINDOW = timedelta(days=1)
# The history tag keeps what the cool-down and budget can still see, and at most this many entries.
MAX_HISTORY = 50

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`6h`, `1d`, `90m`, `1h30m`, `43200s` (a bare number means seconds)."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return timedelta(seconds=float(value))
    parts = _DURATION_PART.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(f"invalid duration {text!r}: use e.g. 30m, 6h, 1d or 1h30m")
    return timedelta(seconds=sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


class RetrainPolicy(BaseModel, frozen=True):
    max_degradation: float = Field(ge=0, description="relative worsening of the gate metric that triggers")
    max_psi: float = Field(gt=0, description="population stability index of any feature that triggers")
    cooldown: timedelta = Field(ge=timedelta(0), description="no new request this soon after the last one")
    daily_budget: int = Field(ge=0, description="requests allowed in any 24 hours")
    min_drift_rows: int = Field(
        100, ge=1, description="a feature's drift counts only when both samples have this many values"
    )


def retrain_signals(report: QualityReport, policy: RetrainPolicy) -> list[str]:
    """Why the report warrants retraining (empty: it does not)."""
    signals = []
    perf = report.performance
    degradation = perf.degradation if perf is not None else None
    if perf is not None and degradation is not None and degradation > policy.max_degradation:
        signals.append(
            f"{perf.metric} degraded {degradation:.1%} (limit {policy.max_degradation:.1%}): "
            f"{perf.at_training:.4g} at training, {perf.current:.4g} now"
        )
    for comparison in report.drift:
        drifted = [
            f
            for f in comparison.features
            if f.psi is not None
            and f.psi > policy.max_psi
            and min(f.reference_n, f.current_n) >= policy.min_drift_rows
        ]
        if drifted:
            listed = ", ".join(
                f"{f.feature} {f.psi:.2f}" for f in sorted(drifted, key=lambda f: -(f.psi or 0))
            )
            signals.append(f"drift in {comparison.name} (PSI > {policy.max_psi:g}): {listed}")
    return signals


class RetrainRequest(BaseModel, frozen=True):
    at: datetime
    version: str
    reason: str


class RetrainVerdict(StrEnum):
    REQUESTED = "requested"
    NO_SIGNAL = "no_signal"
    COOLDOWN = "cooldown"
    BUDGET = "budget"


class RetrainDecision(BaseModel, frozen=True):
    verdict: RetrainVerdict
    reason: str
    signals: list[str]

    @property
    def requested(self) -> bool:
        return self.verdict is RetrainVerdict.REQUESTED

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.requested else ExitCode.NO_RETRAIN


def decide_retrain(
    signals: list[str], history: list[RetrainRequest], policy: RetrainPolicy, now: datetime
) -> RetrainDecision:
    """Pure decision: a signal, then the cool-down since the last request, then the rolling daily budget."""
    if not signals:
        return RetrainDecision(
            verdict=RetrainVerdict.NO_SIGNAL, reason="no degradation or drift past the thresholds", signals=[]
        )
    last = max((r.at for r in history), default=None)
    if last is not None and now - last < policy.cooldown:
        return RetrainDecision(
            verdict=RetrainVerdict.COOLDOWN,
            reason=(
                f"suppressed by cool-down: last request at {last.isoformat(timespec='seconds')}, "
                f"cool-down {policy.cooldown} lasts until {(last + policy.cooldown).isoformat(timespec='seconds')}"
            ),
            signals=signals,
        )
    recent = [r for r in history if now - r.at < BUDGET_WINDOW]
    if len(recent) >= policy.daily_budget:
        return RetrainDecision(
            verdict=RetrainVerdict.BUDGET,
            reason=(
                f"suppressed by daily budget: {len(recent)} request(s) in the last 24h, "
                f"budget {policy.daily_budget}"
            ),
            signals=signals,
        )
    return RetrainDecision(verdict=RetrainVerdict.REQUESTED, reason="; ".join(signals), signals=signals)


_HISTORY = TypeAdapter(list[RetrainRequest])


def load_history(client: MlflowClient, model_name: str) -> list[RetrainRequest]:
    raw = client.get_registered_model(model_name).tags.get(HISTORY_TAG)
    if not raw:
        return []
    try:
        return _HISTORY.validate_json(raw)
    except ValidationError:
        # A hand-edited or truncated tag must not block reports forever; start over, loudly.
        log.warning("unreadable retrain history tag; treating it as empty", model=model_name, tag=HISTORY_TAG)
        return []


def _record(
    client: MlflowClient,
    model_name: str,
    request: RetrainRequest,
    history: list[RetrainRequest],
    policy: RetrainPolicy,
) -> None:
    keep_for = max(BUDGET_WINDOW, policy.cooldown)
    kept = [r for r in history if request.at - r.at < keep_for] + [request]
    payload = json.dumps([r.model_dump(mode="json") for r in kept[-MAX_HISTORY:]])
    client.set_registered_model_tag(model_name, HISTORY_TAG, payload)
    client.set_registered_model_tag(model_name, LAST_REQUEST_TAG, request.at.isoformat(timespec="seconds"))
    client.set_registered_model_tag(model_name, LAST_REASON_TAG, request.reason[:4000])


def apply_policy(
    client: MlflowClient,
    model_name: str,
    version: str,
    signals: list[str],
    policy: RetrainPolicy,
    now: datetime | None = None,
) -> RetrainDecision:
    """Decide, and record a granted request in the registry before reporting it."""
    now = now or datetime.now(UTC)
    try:
        history = load_history(client, model_name)
    except MlflowException as exc:
        raise RuntimeError(f"cannot read the retrain history of {model_name}: {exc}") from exc
    decision = decide_retrain(signals, history, policy, now)
    if decision.requested:
        request = RetrainRequest(at=now, version=version, reason=decision.reason)
        _record(client, model_name, request, history, policy)
    log.info("retrain policy", model=model_name, verdict=decision.verdict.value, reason=decision.reason)
    return decision
