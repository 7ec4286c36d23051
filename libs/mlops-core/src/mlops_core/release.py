"""Release flow shared by every workload: record gate inputs on a run, decide, register on a pass."""

from dataclasses import dataclass

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from mlops_core.errors import RunNotFoundError
from mlops_core.gate import (
    GateDecision,
    GateThresholds,
    GateVerdict,
    baseline_metric,
    candidate_metric,
    champion_metric,
    decide,
)
from mlops_core.logs import get_logger
from mlops_core.naming import Tag, TrackingNames
from mlops_core.registry import register_challenger, resolve_champion, version_for_run

log = get_logger(__name__)


@dataclass(frozen=True)
class GateInputs:
    """What training measured on its test set: candidate, naive baseline, current champion (if any)."""

    candidate: float
    baseline: float
    champion: float | None = None
    champion_version: str | None = None


def record_gate_inputs(
    client: MlflowClient, run_id: str, thresholds: GateThresholds, inputs: GateInputs
) -> None:
    metric = thresholds.metric
    metrics = {candidate_metric(metric): inputs.candidate, baseline_metric(metric): inputs.baseline}
    if inputs.champion is not None:
        metrics[champion_metric(metric)] = inputs.champion
    logged = client.get_run(run_id).data
    for key, value in metrics.items():
        if logged.metrics.get(key) != value:
            client.log_metric(run_id, key, value)
    existing = logged.params
    for key, value in thresholds.as_params().items():
        if key not in existing:
            client.log_param(run_id, key, value)
    client.set_tag(run_id, Tag.EVALUATED_CHAMPION, inputs.champion_version or "none")


def evaluate_gate(client: MlflowClient, names: TrackingNames, run_id: str) -> GateDecision:
    """Re-derive the decision from what the run recorded, and refuse if the champion moved since."""
    run = client.get_run(run_id)
    if run.data.tags.get(Tag.TRAINING_COMPLETE) != "true":
        raise RunNotFoundError(f"run {run_id} has not finished training; nothing to gate")
    thresholds = GateThresholds.from_params(run.data.params)
    metrics = run.data.metrics
    evaluated = run.data.tags.get(Tag.EVALUATED_CHAMPION, "none")
    champion_value = metrics.get(champion_metric(thresholds.metric))
    decision = decide(
        thresholds,
        candidate=metrics[candidate_metric(thresholds.metric)],
        baseline=metrics[baseline_metric(thresholds.metric)],
        champion=champion_value,
        champion_version=None if evaluated == "none" else evaluated,
    )
    current = resolve_champion(client, names.registered_model)
    current_version = current.version if current else "none"
    # A run already registered keeps its verdict: the champion may since be this very version.
    registered = version_for_run(client, names.registered_model, run_id) is not None
    if decision.passed and current_version != evaluated and not registered:
        decision = decision.model_copy(
            update={
                "verdict": GateVerdict.STALE_CHAMPION,
                "reason": (
                    f"champion moved from v{evaluated} to v{current_version} after evaluation; "
                    "retrain (or re-evaluate) against the current champion"
                ),
            }
        )
    client.set_tag(run_id, Tag.GATE_VERDICT, decision.verdict.value)
    client.set_tag(run_id, Tag.GATE_REASON, decision.reason)
    log.info("release gate", verdict=decision.verdict.value, reason=decision.reason, run_id=run_id)
    return decision


@dataclass(frozen=True)
class ReleaseOutcome:
    decision: GateDecision
    version: ModelVersion | None
    newly_registered: bool


def describe_outcome(outcome: "ReleaseOutcome | None") -> str:
    """The tail of every training CLI's summary line: `gate=<verdict> version=<n|none>`."""
    if outcome is None:
        return "gate=not-run"
    version = outcome.version.version if outcome.version else "none"
    return f"gate={outcome.decision.verdict.value} version={version}"


def release(client: MlflowClient, names: TrackingNames, run_id: str) -> ReleaseOutcome:
    """Gate, and on a pass register the run's model as `challenger` (idempotent per run)."""
    decision = evaluate_gate(client, names, run_id)
    if not decision.passed:
        return ReleaseOutcome(decision, None, newly_registered=False)
    registration = register_challenger(client, names.registered_model, run_id, decision.evidence_tags())
    return ReleaseOutcome(decision, registration.version, registration.created)


def champion_model_uri(client: MlflowClient, names: TrackingNames) -> tuple[str, str] | None:
    """`(models:/<name>/<version>, version)` of the current champion, pinned so evaluation can't race."""
    champion = resolve_champion(client, names.registered_model)
    if champion is None:
        return None
    return f"models:/{names.registered_model}/{champion.version}", champion.version
