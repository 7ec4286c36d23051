"""Reading and writing raw dataset files, transparently gzip-compressed (as MNIST is distributed)."""

import gzip
import zlib
from pathlib import Path

from mlops_core.errors import DataValidationError

_GZIP_MAGIC = b"\x1f\x8b"


def read_payload(path: Path) -> bytes:
    """The file's bytes, decompressed when it is a gzip stream (whatever its name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataValidationError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataValidationError(f"{path}: corrupt or truncated gzip stream: {exc}") from exc


def write_payload(path: Path, payload: bytes) -> None:
    """Write `payload`, gzip-compressed when the name ends in `.gz`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(payload, compresslevel=6, mtime=0) if path.suffix == ".gz" else payload
    path.write_bytes(data)
