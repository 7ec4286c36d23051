"""Shared tiny datasets (generated once per session, in the real on-disk formats)."""

from pathlib import Path

import pytest
import torch

from training_cnn.data import ImageSplits, load_splits
from training_cnn.samples import generate_cifar10, generate_mnist
from training_cnn.train import TrainConfig


@pytest.fixture(scope="session", autouse=True)
def _one_cpu_thread() -> None:
    """Tiny models train faster on one thread, and stay fast when other jobs share the cores."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "mnist"
    generate_mnist(out, train_size=400, test_size=200, seed=1)
    return out


@pytest.fixture(scope="session")
def cifar10_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "cifar10"
    generate_cifar10(out, train_size=500, test_size=100, seed=1)
    return out


@pytest.fixture(scope="session")
def mnist_splits(mnist_dir: Path) -> ImageSplits:
    return load_splits("mnist", mnist_dir)


@pytest.fixture(scope="session")
def cifar10_splits(cifar10_dir: Path) -> ImageSplits:
    return load_splits("cifar10", cifar10_dir)


def tiny_config(dataset: str, **overrides: object) -> TrainConfig:
    """Small, fast settings that still learn the sample data."""
    base: dict[str, object] = {
        "mnist": dict(epochs=3, batch_size=32, lr=0.05, width=8, augment=False, label_smoothing=0.0),
        "cifar10": dict(epochs=3, batch_size=50, lr=0.1, width=8, augment=True, label_smoothing=0.2),
    }[dataset]
    return TrainConfig.model_validate({**base, **overrides})
