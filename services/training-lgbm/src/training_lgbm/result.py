"""What a training command reports: its run, whether that run was reused, its metrics, the release outcome."""

from dataclasses import dataclass
from typing import ClassVar

from mlops_core.exit_codes import ExitCode
from mlops_core.release import ReleaseOutcome, describe_outcome


@dataclass(frozen=True)
class TrainingResult:
    workload: ClassVar[str]
    run_id: str
    run_key: str
    reused: bool
    metrics: dict[str, float]
    outcome: ReleaseOutcome | None

    @property
    def exit_code(self) -> ExitCode:
        return self.outcome.decision.exit_code if self.outcome else ExitCode.OK

    def metric_parts(self) -> list[str]:
        """`name=value` pieces of the summary line, workload-specific."""
        raise NotImplementedError

    def metric(self, key: str) -> float:
        return self.metrics.get(key, float("nan"))

    def summary(self) -> str:
        head = [
            self.workload,
            f"run={self.run_id}",
            f"key={self.run_key}" + (" (reused)" if self.reused else ""),
        ]
        return " ".join([*head, *self.metric_parts(), describe_outcome(self.outcome)])
