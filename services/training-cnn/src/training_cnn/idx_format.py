"""The IDX format MNIST ships in: a big-endian header (magic, dimension sizes) then unsigned bytes.

Magic number: two zero bytes, a type code (0x08 = unsigned byte) and the number of dimensions, so
images are 0x00000803 (count, rows, columns) and labels 0x00000801 (count).
"""

import struct
from pathlib import Path

import numpy as np

from mlops_core.errors import DataValidationError
from training_cnn.binary_files import read_payload, write_payload

UBYTE_TYPE = 0x08
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _magic(ndim: int) -> int:
    return (UBYTE_TYPE << 8) | ndim


def _parse(path: Path, payload: bytes, ndim: int) -> np.ndarray:
    expected_magic = _magic(ndim)
    if len(payload) < 4:
        raise DataValidationError(
            f"{path}: offset 0: header truncated ({len(payload)} bytes, need 4 for the magic)"
        )
    (magic,) = struct.unpack(">I", payload[:4])
    if magic != expected_magic:
        raise DataValidationError(
            f"{path}: offset 0: wrong magic number 0x{magic:08X}, expected 0x{expected_magic:08X} "
            f"(IDX unsigned-byte, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header_size = 4 + 4 * ndim
    if len(payload) < header_size:
        raise DataValidationError(
            f"{path}: offset {len(payload)}: header truncated ({len(payload)} bytes, need {header_size})"
        )
    dims = struct.unpack(f">{ndim}I", payload[4:header_size])
    expected_bytes = int(np.prod(dims, dtype=np.int64))
    found_bytes = len(payload) - header_size
    if found_bytes < expected_bytes:
        raise DataValidationError(
            f"{path}: truncated: header declares dimensions {'x'.join(map(str, dims))} = "
            f"{expected_bytes} data bytes after the {header_size}-byte header, but the data ends at "
            f"offset {len(payload)} ({found_bytes} bytes)"
        )
    if found_bytes > expected_bytes:
        raise DataValidationError(
            f"{path}: offset {header_size + expected_bytes}: {found_bytes - expected_bytes} unexpected "
            f"trailing bytes after the {expected_bytes} data bytes the header declares"
        )
    return np.frombuffer(payload, dtype=np.uint8, offset=header_size).reshape(dims)


def read_images(path: Path, rows: int = 28, cols: int = 28) -> np.ndarray:
    """`(count, rows, cols)` uint8 images; the header's image size must be `rows x cols`."""
    images = _parse(path, read_payload(path), ndim=3)
    if images.shape[1:] != (rows, cols):
        raise DataValidationError(
            f"{path}: offset 8: header declares {images.shape[1]}x{images.shape[2]} images, "
            f"expected {rows}x{cols}"
        )
    return images


def read_labels(path: Path, num_classes: int = 10) -> np.ndarray:
    """`(count,)` uint8 labels, each in `0..num_classes-1`."""
    labels = _parse(path, read_payload(path), ndim=1)
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        index = int(bad[0])
        raise DataValidationError(
            f"{path}: offset {8 + index}: label {labels[index]} of item {index} "
            f"is outside 0..{num_classes - 1}"
        )
    return labels


def _encode(array: np.ndarray) -> bytes:
    header = struct.pack(f">I{array.ndim}I", _magic(array.ndim), *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_images(path: Path, images: np.ndarray) -> None:
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"IDX images must be a (count, rows, cols) uint8 array, got {images.dtype} {images.shape}"
        )
    write_payload(path, _encode(images))


def write_labels(path: Path, labels: np.ndarray) -> None:
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"IDX labels must be a (count,) uint8 array, got {labels.dtype} {labels.shape}")
    write_payload(path, _encode(labels))
