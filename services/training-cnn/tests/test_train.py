from pathlib import Path

import pytest
import torch

from training_cnn.checkpoints import CheckpointMismatchError, CheckpointStore
from training_cnn.data import ImageSplits
from training_cnn.train import EpochResult, TrainConfig, Trainer, batch_bounds, fit, new_model

from .conftest import tiny_config

CPU = torch.device("cpu")


class Preempted(Exception):
    """Stands in for the pod being killed right after an epoch's checkpoint was written."""


def _fit(
    splits: ImageSplits, config: TrainConfig, store: CheckpointStore | None = None, **kwargs: object
) -> Trainer:
    trainer = Trainer(new_model(splits, config), splits, config, CPU)
    fit(trainer, "sha256:test", store, **kwargs)  # type: ignore[arg-type]
    return trainer


def _assert_same_state(a: Trainer, b: Trainer) -> None:
    state_a, state_b = a.model.state_dict(), b.model.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    momentum_a = [s["momentum_buffer"] for s in a.optimizer.state.values()]
    momentum_b = [s["momentum_buffer"] for s in b.optimizer.state.values()]
    assert all(torch.equal(x, y) for x, y in zip(momentum_a, momentum_b, strict=True))


def test_batches_drop_only_a_single_leftover_image() -> None:
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 8)]


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_resumed_run_reaches_the_same_weights(
    dataset: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    splits: ImageSplits = request.getfixturevalue(f"{dataset}_splits")
    config = tiny_config(dataset, epochs=2, width=4)
    uninterrupted = _fit(splits, config)

    store = CheckpointStore(tmp_path)

    def preempt(result: EpochResult, replayed: bool) -> None:
        if result.epoch == 1:
            raise Preempted

    with pytest.raises(Preempted):
        _fit(splits, config, store, on_epoch_end=preempt)
    assert store.epochs() == [1]

    seen: list[tuple[int, bool]] = []
    resumed = _fit(
        splits, config, store, resume=True, on_epoch_end=lambda r, replayed: seen.append((r.epoch, replayed))
    )
    assert seen == [(1, True), (2, False)]
    _assert_same_state(uninterrupted, resumed)


def test_resume_refuses_a_checkpoint_from_other_options(mnist_splits: ImageSplits, tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    _fit(mnist_splits, tiny_config("mnist", epochs=1, width=4), store)
    with pytest.raises(CheckpointMismatchError, match=r"epochs: checkpoint 1, now 2"):
        _fit(mnist_splits, tiny_config("mnist", epochs=2, width=4), store, resume=True)


def test_mnist_learns_far_beyond_chance(mnist_splits: ImageSplits) -> None:
    trainer = Trainer(new_model(mnist_splits, tiny_config("mnist")), mnist_splits, tiny_config("mnist"), CPU)
    history = fit(trainer, "sha256:test").history
    assert [r.epoch for r in history] == [1, 2, 3]
    assert history[-1].test_accuracy >= 0.6  # chance is 0.1
    assert history[-1].train_loss < history[0].train_loss
    assert all(r.images_per_sec > 0 for r in history)


def test_cifar_resnet_learns_far_beyond_chance(cifar10_splits: ImageSplits) -> None:
    config = tiny_config("cifar10", augment=False, width=16)
    trainer = Trainer(new_model(cifar10_splits, config), cifar10_splits, config, CPU)
    history = fit(trainer, "sha256:test").history
    assert history[-1].test_accuracy >= 0.5  # chance is 0.1
