"""What the server holds at run time: one slot per configured model, each with its served version."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from mlflow.tracking import MlflowClient

from serving.batching import MicroBatcher
from serving.loading import ServedModel
from serving.metrics import ServingMetrics
from serving.request_log import RequestSampler
from serving.settings import ServingSettings
from serving.shadow import Shadow


class SlotStatus(StrEnum):
    LOADING = "loading"  # no version loaded yet (first load pending, or it failed)
    READY = "ready"


@dataclass(frozen=True)
class LoadFailure:
    version: str
    error: str
    monotonic_at: float
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class ModelSlot:
    """The served version of one registered model. `current` is replaced whole (an atomic swap)."""

    name: str
    batcher: MicroBatcher
    current: ServedModel | None = None
    champion_version: str | None = None
    failure: LoadFailure | None = None
    shadow: Shadow | None = None  # the challenger beside the champion, when shadowing is on for this model
    challenger_failure: LoadFailure | None = None

    @property
    def status(self) -> SlotStatus:
        return SlotStatus.READY if self.current is not None else SlotStatus.LOADING

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "status": self.status.value,
            "champion_version": self.champion_version,
        }
        if self.current is not None:
            out.update(self.current.describe())
        out["last_error"] = (
            None
            if self.failure is None
            else {
                "version": self.failure.version,
                "error": self.failure.error,
                "at": self.failure.at.isoformat(timespec="seconds"),
            }
        )
        return out


@dataclass
class ServingState:
    settings: ServingSettings
    client: MlflowClient
    metrics: ServingMetrics
    slots: dict[str, ModelSlot]
    sampler: RequestSampler | None = None

    @property
    def ready(self) -> bool:
        return all(slot.current is not None for slot in self.slots.values())
