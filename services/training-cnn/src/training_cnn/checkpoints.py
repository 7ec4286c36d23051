"""Per-epoch checkpoints under `<dir>/<dataset>/<run key>/epoch-NNN.pt`, written atomically."""

import os
import re
from pathlib import Path
from typing import Any

import torch

from mlops_core.errors import MlopsError
from mlops_core.logs import get_logger

log = get_logger(__name__)

_EPOCH_FILE = re.compile(r"^epoch-(\d{3,})\.pt$")


class CheckpointMismatchError(MlopsError):
    """A checkpoint exists for this run key but was written with different training options."""


def sanitize_run_key(run_key: str) -> str:
    """A single safe path component for a run key (`dag/run:1` -> `dag_run_1`)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", run_key).strip("._")
    return cleaned or "run"


class CheckpointStore:
    def __init__(self, directory: Path, keep_last: int = 2) -> None:
        if keep_last < 1:
            raise ValueError("keep_last must be at least 1")
        self.directory = directory
        self.keep_last = keep_last

    @classmethod
    def for_run(cls, root: Path, dataset: str, run_key: str, keep_last: int = 2) -> "CheckpointStore":
        return cls(root / dataset / sanitize_run_key(run_key), keep_last)

    def path_for(self, epoch: int) -> Path:
        return self.directory / f"epoch-{epoch:03d}.pt"

    def epochs(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        found = (_EPOCH_FILE.match(path.name) for path in self.directory.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def save(self, epoch: int, state: dict[str, Any]) -> Path:
        """Write to a temporary file, fsync, then rename: a kill mid-write leaves the last one intact."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path_for(epoch)
        partial = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
        for old in self.epochs()[: -self.keep_last]:
            self.path_for(old).unlink(missing_ok=True)
        return final

    def load_latest(self) -> dict[str, Any] | None:
        """The newest readable checkpoint (an unreadable one is skipped with a warning), or None."""
        for epoch in reversed(self.epochs()):
            path = self.path_for(epoch)
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # a damaged file must not block resuming from an older one
                log.warning("skipping unreadable checkpoint", path=str(path), error=str(exc))
        return None
