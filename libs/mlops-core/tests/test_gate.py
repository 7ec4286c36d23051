import pytest

from mlops_core.exit_codes import ExitCode
from mlops_core.gate import GateThresholds, GateVerdict, decide

MAE = GateThresholds(metric="mae", greater_is_better=False, min_improvement=0.1)
ACCURACY = GateThresholds(metric="accuracy", greater_is_better=True, min_value=0.9)


@pytest.mark.parametrize(
    ("candidate", "baseline", "champion", "verdict"),
    [
        (0.80, 1.00, None, GateVerdict.PASSED),  # 20 % better, no champion
        (0.90, 1.00, None, GateVerdict.PASSED),  # exactly the 10 % margin
        (0.95, 1.00, None, GateVerdict.BELOW_BASELINE),  # better, but not by the margin
        (1.20, 1.00, None, GateVerdict.BELOW_BASELINE),
        (0.80, 1.00, 0.70, GateVerdict.WORSE_THAN_CHAMPION),
        (0.70, 1.00, 0.70, GateVerdict.PASSED),  # ties the champion: no worse
    ],
)
def test_lower_is_better(
    candidate: float, baseline: float, champion: float | None, verdict: GateVerdict
) -> None:
    assert decide(MAE, candidate, baseline, champion, "3" if champion else None).verdict is verdict


def test_higher_is_better_with_absolute_floor() -> None:
    assert decide(ACCURACY, 0.95, 0.11).passed
    refused = decide(ACCURACY, 0.85, 0.11)
    assert refused.verdict is GateVerdict.BELOW_BASELINE and "threshold 0.9" in refused.reason
    assert (
        decide(ACCURACY, 0.95, 0.11, champion=0.97, champion_version="2").verdict
        is GateVerdict.WORSE_THAN_CHAMPION
    )


def test_champion_tolerance_allows_small_regressions() -> None:
    lenient = ACCURACY.model_copy(update={"champion_tolerance": 0.02})
    assert decide(lenient, 0.955, 0.11, champion=0.97, champion_version="2").passed


def test_exit_codes_are_distinct_per_refusal() -> None:
    codes = {
        decide(MAE, 1.2, 1.0).exit_code,
        decide(MAE, 0.8, 1.0, 0.7, "1").exit_code,
        decide(MAE, 0.8, 1.0).exit_code,
    }
    assert codes == {ExitCode.GATE_BELOW_BASELINE, ExitCode.GATE_WORSE_THAN_CHAMPION, ExitCode.OK}


def test_thresholds_round_trip_through_run_params() -> None:
    assert GateThresholds.from_params(MAE.as_params()) == MAE
    assert GateThresholds.from_params({**ACCURACY.as_params(), "unrelated": "x"}) == ACCURACY


def test_non_finite_metrics_are_rejected() -> None:
    with pytest.raises(ValueError, match="not finite"):
        decide(MAE, float("nan"), 1.0)
