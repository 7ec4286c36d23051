"""The retrain policy: signals, cool-down, daily budget; its state in registered-model tags on a real server."""

import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from mlops_core.drift import feature_drift
from mlops_core.exit_codes import ExitCode
from mlops_core.quality import DriftComparison, PerformanceComparison, QualityReport
from mlops_core.retrain_policy import (
    HISTORY_TAG,
    RetrainPolicy,
    RetrainRequest,
    RetrainVerdict,
    apply_policy,
    decide_retrain,
    load_history,
    parse_duration,
    retrain_signals,
)
from mlops_core.tracking import connect

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = RetrainPolicy(max_degradation=0.1, max_psi=0.25, cooldown=timedelta(hours=6), daily_budget=2)
_names = itertools.count()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(minutes=90)),
        ("43200s", timedelta(hours=12)),
        ("3600", timedelta(hours=1)),
        ("0s", timedelta(0)),
        ("1w", timedelta(days=7)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "6 hours", "h", "6x", "-1h", "6h and more"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def _request(hours_ago: float) -> RetrainRequest:
    return RetrainRequest(at=NOW - timedelta(hours=hours_ago), version="1", reason="drift")


def test_no_signal_requests_nothing() -> None:
    decision = decide_retrain([], [], POLICY, NOW)
    assert decision.verdict is RetrainVerdict.NO_SIGNAL and decision.exit_code == ExitCode.NO_RETRAIN


def test_a_signal_requests_a_retrain() -> None:
    decision = decide_retrain(["drift"], [_request(30)], POLICY, NOW)
    assert decision.requested and decision.exit_code == ExitCode.OK


def test_cool_down_suppresses_a_request_soon_after_the_last() -> None:
    decision = decide_retrain(["drift"], [_request(5.9)], POLICY, NOW)
    assert decision.verdict is RetrainVerdict.COOLDOWN and "cool-down" in decision.reason
    assert "2026-03-02T12:06:00" in decision.reason  # when it ends
    assert decide_retrain(["drift"], [_request(6.0)], POLICY, NOW).requested


def test_daily_budget_counts_requests_in_the_last_24_hours() -> None:
    no_cooldown = POLICY.model_copy(update={"cooldown": timedelta(0)})
    two_today = [_request(20), _request(1)]
    decision = decide_retrain(["drift"], two_today, no_cooldown, NOW)
    assert decision.verdict is RetrainVerdict.BUDGET and "2 request(s) in the last 24h" in decision.reason
    assert decide_retrain(["drift"], [_request(25), _request(1)], no_cooldown, NOW).requested
    zero = no_cooldown.model_copy(update={"daily_budget": 0})
    assert decide_retrain(["drift"], [], zero, NOW).verdict is RetrainVerdict.BUDGET


def _report(current_mae: float | None, shift: float, rows: int = 500) -> QualityReport:
    rng = np.random.default_rng(0)
    features = [
        feature_drift("steady", rng.normal(size=2000), rng.normal(size=rows)),
        feature_drift("moving", rng.normal(size=2000), rng.normal(shift, 1, rows)),
    ]
    return QualityReport(
        workload="power",
        model="power_lgbm",
        version="3",
        model_run_id="r",
        generated_at=NOW,
        data_version="sha256:x",
        performance=PerformanceComparison(
            metric="mae", greater_is_better=False, at_training=0.40, current=current_mae, rows=100
        ),
        drift=[
            DriftComparison(name="recent data", key="recent", reference="a", current="b", features=features)
        ],
    )


def test_signals_from_a_report() -> None:
    assert retrain_signals(_report(0.42, 0.0), POLICY) == []  # 5 % worse, no drift
    degraded = retrain_signals(_report(0.46, 0.0), POLICY)
    assert len(degraded) == 1 and degraded[0].startswith("mae degraded 15.0% (limit 10.0%)")
    drifted = retrain_signals(_report(0.40, 1.5), POLICY)
    assert len(drifted) == 1 and "drift in recent data" in drifted[0] and "moving" in drifted[0]
    assert "steady" not in drifted[0]
    assert retrain_signals(_report(None, 1.5, rows=50), POLICY) == []  # too few rows to trust the PSI


def test_better_than_at_training_is_not_degradation() -> None:
    assert _report(0.30, 0.0).performance.degradation == pytest.approx(-0.25)
    accuracy = PerformanceComparison(metric="accuracy", greater_is_better=True, at_training=0.9, current=0.81)
    assert accuracy.degradation == pytest.approx(0.1)


@pytest.fixture
def model_name(tracking_uri: str) -> str:
    name = f"policy_model_{next(_names)}"
    connect(tracking_uri).create_registered_model(name)
    return name


def test_granted_requests_are_recorded_on_the_registered_model(tracking_uri: str, model_name: str) -> None:
    client = connect(tracking_uri)
    first = apply_policy(client, model_name, "4", ["drift in x"], POLICY, NOW)
    assert first.requested
    # A fresh client (another pod) sees the request: the second signal falls in the cool-down.
    again = apply_policy(
        MlflowClient(tracking_uri), model_name, "4", ["drift in x"], POLICY, NOW + timedelta(hours=1)
    )
    assert again.verdict is RetrainVerdict.COOLDOWN
    history = load_history(client, model_name)
    assert [(r.version, r.reason, r.at) for r in history] == [
        ("4", "drift in x", NOW)
    ]  # suppressed: not recorded
    later = apply_policy(client, model_name, "4", ["drift in x"], POLICY, NOW + timedelta(hours=7))
    assert later.requested
    third = apply_policy(client, model_name, "4", ["drift"], POLICY, NOW + timedelta(hours=14))
    assert third.verdict is RetrainVerdict.BUDGET
    tags = client.get_registered_model(model_name).tags
    assert len(json.loads(tags[HISTORY_TAG])) == 2
    assert tags["mlops.retrain.last_requested_at"] == "2026-03-02T19:00:00+00:00"


def test_old_requests_are_pruned_and_a_broken_tag_does_not_block(tracking_uri: str, model_name: str) -> None:
    client = connect(tracking_uri)
    apply_policy(client, model_name, "1", ["drift"], POLICY, NOW)
    apply_policy(client, model_name, "1", ["drift"], POLICY, NOW + timedelta(days=2))
    assert [r.at for r in load_history(client, model_name)] == [NOW + timedelta(days=2)]
    client.set_registered_model_tag(model_name, HISTORY_TAG, "{not json")
    assert load_history(client, model_name) == []
    assert apply_policy(client, model_name, "1", ["drift"], POLICY, NOW + timedelta(days=3)).requested
