"""Process exit codes shared by every workload CLI, so orchestration can tell outcomes apart."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    INVALID_DATA = 3
    # The release gate refused the candidate; no model version was registered.
    GATE_BELOW_BASELINE = 10
    GATE_WORSE_THAN_CHAMPION = 11
    GATE_STALE_CHAMPION = 12
    # Model management: the quality report found nothing that warrants retraining (or a cool-down or
    # the daily budget suppressed it). Orchestration skips the retrain request on this code.
    NO_RETRAIN = 20


GATE_REFUSALS: tuple[ExitCode, ...] = (
    ExitCode.GATE_BELOW_BASELINE,
    ExitCode.GATE_WORSE_THAN_CHAMPION,
    ExitCode.GATE_STALE_CHAMPION,
)
