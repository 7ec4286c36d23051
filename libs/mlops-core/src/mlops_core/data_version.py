"""Data versions: a content hash of input files, or of the manifests that describe partitions."""

import hashlib
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def _files_under(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"data path does not exist: {path}")
    return sorted(files)


def content_hash(paths: Iterable[Path], root: Path | None = None) -> str:
    """`sha256:<hex>` over every file's relative name and bytes, independent of listing order."""
    digest = hashlib.sha256()
    for file in _files_under(paths):
        name = file.relative_to(root) if root else Path(file.name)
        digest.update(str(name).encode() + b"\0")
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return f"sha256:{digest.hexdigest()}"
