"""One JSON manifest per feature partition: what went in, what came out, and a content checksum.

Training logs a data version derived from the manifests of the dates it reads, so a rebuilt
partition with identical content keeps its version and a changed one gets a new one.
"""

import os
import tempfile
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from tick_features.layout import manifest_path


class RawFileEntry(BaseModel, frozen=True):
    file: str  # relative to the raw directory
    rows: int


class PartitionManifest(BaseModel, frozen=True):
    date: date
    schema_version: str
    job_version: str  # tick-features==<version>
    git_sha: str
    written_at: str
    raw_files: list[RawFileEntry]
    raw_ticks: int
    clean_ticks: int
    quarantined: dict[str, int] = Field(description="quarantined ticks by reason")
    bars: int
    symbols: int
    features_checksum: str = Field(description="sha256 over the sorted sha256 of every feature row")
    features_path: str
    quarantine_path: str


def write_manifest(manifest_dir: Path, manifest: PartitionManifest) -> Path:
    """Write atomically (temp file + rename), so a reader never sees half a manifest."""
    target = manifest_path(manifest_dir, manifest.date)
    manifest_dir.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=manifest_dir, prefix=".manifest-", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(manifest.model_dump_json(indent=2) + "\n")
    os.replace(temp, target)
    return target


def read_manifest(path: Path) -> PartitionManifest:
    return PartitionManifest.model_validate_json(path.read_text())
