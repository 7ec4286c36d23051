"""Sample data written in the real formats, made locally (nothing is downloaded).

MNIST: scikit-learn's 1,797 real handwritten 8x8 digits, upscaled into MNIST's 20x20 box inside a 28x28
frame. CIFAR-10: ten classes of coloured shapes (a shape and a hue per class) on noisy gradients.
"""

import colorsys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from training_cnn import cifar_format, idx_format
from training_cnn.data import CIFAR_META, CIFAR_SUBDIR, CIFAR_TEST, CIFAR_TRAIN_PATTERN, MNIST_FILES

MNIST_SIDE = 28
MNIST_BOX = 20
CIFAR_TRAIN_BATCHES = 5


def _upscale_digits(digits: np.ndarray) -> np.ndarray:
    """(n, 8, 8) values 0..16 -> (n, 20, 20) floats 0..255, bilinear with antialiasing."""
    small = torch.from_numpy(digits.astype(np.float32) / 16.0)[:, None]
    big = torch.nn.functional.interpolate(small, size=(MNIST_BOX, MNIST_BOX), mode="bilinear", antialias=True)
    return (big[:, 0].clamp(0, 1) * 255.0).numpy()


def _frame_digits(boxes: np.ndarray, rng: np.random.Generator, jitter: bool) -> np.ndarray:
    """Place 20x20 digits in 28x28 frames (centred, or shifted by up to 2 px with contrast jitter)."""
    frames = np.zeros((len(boxes), MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    margin = (MNIST_SIDE - MNIST_BOX) // 2
    for i, box in enumerate(boxes):
        dy, dx = rng.integers(-2, 3, size=2) if jitter else (0, 0)
        top, left = margin + dy, margin + dx
        frames[i, top : top + MNIST_BOX, left : left + MNIST_BOX] = box * (
            rng.uniform(0.8, 1.0) if jitter else 1
        )
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def _draw_from_pool(pool: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Indices into `pool`: each once while it lasts, then repeats (which get jittered copies)."""
    if size <= len(pool):
        return rng.permutation(pool)[:size], False
    return np.concatenate([rng.permutation(pool), rng.choice(pool, size - len(pool))]), True


def generate_mnist(out: Path, train_size: int = 1437, test_size: int = 360, seed: int = 0) -> list[Path]:
    """Write the four MNIST IDX files (gzip, as distributed); test digits are never train digits."""
    if train_size < 1 or test_size < 1:
        raise ValueError("train and test sizes must be at least 1")
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    test_share = max(1, min(len(order) - 1, round(len(order) * test_size / (train_size + test_size))))
    pools = {"test": order[:test_share], "train": order[test_share:]}
    boxes = _upscale_digits(digits.images)
    written = []
    for split, size in (("train", train_size), ("test", test_size)):
        picked, repeats = _draw_from_pool(pools[split], size, rng)
        originals = _frame_digits(boxes[picked[: len(pools[split])]], rng, jitter=False)
        copies = (
            _frame_digits(boxes[picked[len(pools[split]) :]], rng, jitter=True) if repeats else originals[:0]
        )
        images = np.concatenate([originals, copies])
        labels = digits.target[picked].astype(np.uint8)
        prefix = "train" if split == "train" else "test"
        images_path = out / f"{MNIST_FILES[f'{prefix}_images']}.gz"
        labels_path = out / f"{MNIST_FILES[f'{prefix}_labels']}.gz"
        idx_format.write_images(images_path, images)
        idx_format.write_labels(labels_path, labels)
        written += [images_path, labels_path]
    return written


def _shape_mask(shape: int, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    dy, dx = yy - cy, xx - cx
    inside = (np.abs(dx) < r) & (np.abs(dy) < r)
    dist2 = dx**2 + dy**2
    masks = (
        dist2 < r**2,  # disk
        np.maximum(np.abs(dx), np.abs(dy)) < 0.8 * r,  # square
        (dist2 > (0.55 * r) ** 2) & (dist2 < r**2),  # ring
        inside & ((yy // 3) % 2 == 0),  # horizontal stripes
        inside & ((xx // 3) % 2 == 0),  # vertical stripes
        inside & (((xx + yy) // 3) % 2 == 0),  # diagonal stripes
        inside & (((xx // 4) + (yy // 4)) % 2 == 0),  # checkerboard
        (dy > -r) & (dy < r) & (np.abs(dx) < (dy + r) / 2),  # triangle
        ((np.abs(dx) < r / 4) & (np.abs(dy) < r)) | ((np.abs(dy) < r / 4) & (np.abs(dx) < r)),  # cross
        (dist2 < r**2) & ((xx % 6) < 3) & ((yy % 6) < 3),  # dots
    )
    return masks[shape]


def _cifar_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = cifar_format.SIDE
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    images = np.empty((len(labels), side, side, 3), dtype=np.float32)
    for i, label in enumerate(labels):
        low, high = rng.uniform(0, 160, size=(2, 3))
        angle = rng.uniform(0, 2 * np.pi)
        ramp = ((np.cos(angle) * xx + np.sin(angle) * yy) / side + 1) / 2
        background = low + (high - low) * ramp[..., None] + rng.normal(0, 12, size=(side, side, 3))
        hue = (label / 10 + rng.normal(0, 0.02)) % 1.0
        colour = 255 * np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.0)))
        cy, cx = rng.uniform(10, 22, size=2)
        mask = _shape_mask(int(label), yy, xx, cy, cx, rng.uniform(7, 11))
        images[i] = np.where(mask[..., None], colour + rng.normal(0, 10, size=(side, side, 3)), background)
    return np.clip(np.rint(images), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)


def generate_cifar10(out: Path, train_size: int = 5000, test_size: int = 1000, seed: int = 0) -> list[Path]:
    """Write `cifar-10-batches-bin/` (data_batch_1..5.bin, test_batch.bin, batches.meta.txt)."""
    if train_size < CIFAR_TRAIN_BATCHES or test_size < 1:
        raise ValueError(f"need at least {CIFAR_TRAIN_BATCHES} train images (one per batch) and 1 test image")
    rng = np.random.default_rng(seed)
    batches = out / CIFAR_SUBDIR
    written = []
    train_labels = rng.integers(0, 10, size=train_size).astype(np.uint8)
    train_images = _cifar_images(train_labels, rng)
    parts = np.array_split(np.arange(train_size), CIFAR_TRAIN_BATCHES)
    for number, part in enumerate(parts, start=1):
        path = batches / CIFAR_TRAIN_PATTERN.format(number)
        cifar_format.write_batch(path, train_images[part], train_labels[part])
        written.append(path)
    test_labels = rng.integers(0, 10, size=test_size).astype(np.uint8)
    cifar_format.write_batch(batches / CIFAR_TEST, _cifar_images(test_labels, rng), test_labels)
    (batches / CIFAR_META).write_text("\n".join(cifar_format.CLASS_NAMES) + "\n", encoding="utf-8")
    return [*written, batches / CIFAR_TEST, batches / CIFAR_META]
