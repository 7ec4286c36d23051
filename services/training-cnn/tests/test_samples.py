from pathlib import Path

import numpy as np

from training_cnn.data import ImageSplits, load_splits
from training_cnn.samples import generate_cifar10, generate_mnist


def test_mnist_sample_is_real_digits_with_disjoint_test_set(mnist_splits: ImageSplits) -> None:
    train = {image.tobytes() for image in mnist_splits.train_images}
    assert not any(image.tobytes() in train for image in mnist_splits.test_images)
    assert set(np.unique(mnist_splits.train_labels)) == set(range(10))
    # digits sit in MNIST's 20x20 box: the 4-pixel border of an unshifted digit is empty
    assert mnist_splits.test_images[:, :, :4, :].max() == 0 and mnist_splits.test_images.max() > 200


def test_mnist_sizes_beyond_the_1797_originals_are_jittered_copies(tmp_path: Path) -> None:
    generate_mnist(tmp_path, train_size=2000, test_size=10, seed=3)
    splits = load_splits("mnist", tmp_path)
    assert len(splits.train_labels) == 2000
    assert len({image.tobytes() for image in splits.train_images}) > 1900


def test_generators_are_deterministic_per_seed(tmp_path: Path) -> None:
    first = generate_cifar10(tmp_path / "a", train_size=20, test_size=5, seed=7)
    second = generate_cifar10(tmp_path / "b", train_size=20, test_size=5, seed=7)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    other = generate_cifar10(tmp_path / "c", train_size=20, test_size=5, seed=8)
    assert first[0].read_bytes() != other[0].read_bytes()


def test_cifar_sample_writes_five_batches_and_all_classes(
    cifar10_dir: Path, cifar10_splits: ImageSplits
) -> None:
    batches = cifar10_dir / "cifar-10-batches-bin"
    assert sorted(p.name for p in batches.iterdir()) == [
        "batches.meta.txt",
        *(f"data_batch_{n}.bin" for n in range(1, 6)),
        "test_batch.bin",
    ]
    assert set(np.unique(cifar10_splits.train_labels)) == set(range(10))
