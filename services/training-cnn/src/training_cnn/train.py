"""The training loop: seeded, resumable from per-epoch checkpoints, fast on CUDA (data on GPU, bf16)."""

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field
from torch import nn

from mlops_core.logs import get_logger
from training_cnn.augment import EpochAugmentation, augment_batch
from training_cnn.checkpoints import CheckpointMismatchError, CheckpointStore
from training_cnn.data import ImageSplits
from training_cnn.device import data_fits_on
from training_cnn.evaluate import predict_logits
from training_cnn.models import NormalizedClassifier, build_model

log = get_logger(__name__)

CHECKPOINT_FORMAT = 1
WARMUP_SHARE = 0.2


class TrainConfig(BaseModel, frozen=True):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=2)
    lr: float = Field(gt=0)
    width: int = Field(ge=1)
    augment: bool
    label_smoothing: float = Field(ge=0, lt=1)
    seed: int = 0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    compile: bool = False

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a checkpoint to be resumed (compiling does not change the run)."""
        return self.model_dump(exclude={"compile"})


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    images_per_sec: float
    seconds: float
    lr: float


@dataclass(frozen=True)
class FitResult:
    history: list[EpochResult]
    resumed_from_epoch: int


EpochCallback = Callable[[EpochResult, bool], None]  # (result, replayed from a checkpoint)


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 `(n, C, H, W)` images, scaled to [0, 1]."""
    scaled = images.reshape(images.shape[0], images.shape[1], -1)
    mean = [float(scaled[:, c].mean(dtype=np.float64)) / 255 for c in range(images.shape[1])]
    std = [max(float(scaled[:, c].std(dtype=np.float64)) / 255, 1e-3) for c in range(images.shape[1])]
    return mean, std


def new_model(splits: ImageSplits, config: TrainConfig) -> NormalizedClassifier:
    """The initial model: a function of the seed and the training data only."""
    torch.manual_seed(config.seed)
    mean, std = channel_stats(splits.train_images)
    spec = splits.spec
    return build_model(spec.name.value, config.width, spec.num_classes, spec.channels, mean, std)


def batch_bounds(count: int, batch_size: int) -> list[tuple[int, int]]:
    """Consecutive batches; a trailing batch of one image is dropped (batch norm needs two)."""
    return [
        (start, min(start + batch_size, count)) for start in range(0, count, batch_size) if count - start >= 2
    ]


def make_optimizer(
    model: nn.Module, config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Nesterov SGD (no weight decay on norms and biases), linear warm-up then linear decay to zero."""
    decayed = [p for p in model.parameters() if p.ndim > 1]
    undecayed = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [
            {"params": decayed, "weight_decay": config.weight_decay},
            {"params": undecayed, "weight_decay": 0.0},
        ],
        lr=config.lr,
        momentum=config.momentum,
        nesterov=True,
    )
    warmup = max(1, math.ceil(WARMUP_SHARE * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Shuffling and augmentation draws for one epoch, independent of everything before it."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class Trainer:
    """Owns the model, optimizer and the data placement for one run; `fit` drives the epochs."""

    def __init__(
        self, model: NormalizedClassifier, splits: ImageSplits, config: TrainConfig, device: torch.device
    ):
        self.config = config
        self.device = device
        self.cuda = device.type == "cuda"
        self.model = model.to(device)
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
        self.forward: Callable[[torch.Tensor], torch.Tensor] = (
            torch.compile(self.model) if config.compile else self.model
        )
        nbytes = splits.train_images.nbytes + splits.test_images.nbytes
        storage = device if data_fits_on(device, nbytes) else torch.device("cpu")
        log.info("data placement", device=str(storage), megabytes=round(nbytes / 2**20, 1))
        self.train_images = self._place(splits.train_images, storage)
        self.train_labels = self._place(splits.train_labels, storage)
        self.test_images = self._place(splits.test_images, storage)
        self.test_labels = torch.from_numpy(splits.test_labels)
        self.batches = batch_bounds(len(splits.train_labels), config.batch_size)
        self.optimizer, self.scheduler = make_optimizer(self.model, config, config.epochs * len(self.batches))

    def _place(self, array: np.ndarray, storage: torch.device) -> torch.Tensor:
        tensor = torch.from_numpy(np.array(array, copy=True, order="C"))  # loaders hand out read-only views
        if storage.type == "cuda":
            return tensor.to(storage)
        return tensor.pin_memory() if self.cuda else tensor

    def _inputs(self, indices: torch.Tensor, augmentation: EpochAugmentation | None) -> torch.Tensor:
        images = self.train_images[indices.to(self.train_images.device)].to(self.device, non_blocking=True)
        images = images.float().div_(255)
        if augmentation is not None:
            images = augment_batch(images, augmentation.flips[indices], augmentation.offsets[indices])
        return images.contiguous(memory_format=torch.channels_last) if self.cuda else images

    def train_epoch(self, epoch: int) -> tuple[float, float, int]:
        """One pass over the training set; returns (mean loss, accuracy, images seen)."""
        generator = epoch_generator(self.config.seed, epoch)
        order = torch.randperm(len(self.train_labels), generator=generator).to(self.device)
        augmentation = None
        if self.config.augment:
            augmentation = EpochAugmentation.draw(len(self.train_labels), generator).to(self.device)
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        seen = 0
        for start, end in self.batches:
            indices = order[start:end]
            images = self._inputs(indices, augmentation)
            labels = self.train_labels[indices.to(self.train_labels.device)].to(
                self.device, non_blocking=True
            )
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.cuda):
                logits = self.forward(images)
                loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            loss_sum += loss.detach() * len(labels)
            correct += (logits.argmax(1) == labels).sum()
            seen += len(labels)
        return loss_sum.item() / max(seen, 1), correct.item() / max(seen, 1), seen

    def evaluate(self) -> tuple[float, float]:
        logits = predict_logits(self.forward_module(), self.test_images, self.device)
        loss = F.cross_entropy(logits, self.test_labels).item()
        return loss, (logits.argmax(1) == self.test_labels).float().mean().item()

    def forward_module(self) -> nn.Module:
        return self.forward if isinstance(self.forward, nn.Module) else self.model

    def run_epoch(self, epoch: int) -> EpochResult:
        lr = self.optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        train_loss, train_accuracy, seen = self.train_epoch(epoch)
        if self.cuda:
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - started
        test_loss, test_accuracy = self.evaluate()
        return EpochResult(
            epoch=epoch,
            train_loss=train_loss,
            train_accuracy=train_accuracy,
            test_loss=test_loss,
            test_accuracy=test_accuracy,
            images_per_sec=seen / seconds if seconds > 0 else float("inf"),
            seconds=seconds,
            lr=lr,
        )

    def state(self, epoch: int, history: list[EpochResult], fingerprint: dict[str, Any]) -> dict[str, Any]:
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.cuda:
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "fingerprint": fingerprint,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": [asdict(result) for result in history],
            "rng": rng,
        }

    def restore(self, state: dict[str, Any]) -> list[EpochResult]:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        if self.cuda and "cuda" in state["rng"]:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        return [EpochResult(**result) for result in state["history"]]


def _check_fingerprint(store: CheckpointStore, saved: dict[str, Any], expected: dict[str, Any]) -> None:
    differing = sorted(key for key in expected.keys() | saved.keys() if saved.get(key) != expected.get(key))
    if differing:
        details = "; ".join(
            f"{key}: checkpoint {saved.get(key)!r}, now {expected.get(key)!r}" for key in differing
        )
        raise CheckpointMismatchError(
            f"cannot resume from {store.directory}: it was written with other options ({details}); "
            "rerun with the original options, or without --resume to start over"
        )


def fit(
    trainer: Trainer,
    data_version: str,
    store: CheckpointStore | None = None,
    resume: bool = False,
    on_epoch_end: EpochCallback | None = None,
) -> FitResult:
    """Train for `config.epochs`, checkpointing after every epoch; with `resume`, continue the latest."""
    fingerprint = {**trainer.config.fingerprint(), "data_version": data_version}
    history: list[EpochResult] = []
    start = 0
    if resume and store is not None:
        state = store.load_latest()
        if state is None:
            log.info("no checkpoint to resume from; starting at epoch 1", directory=str(store.directory))
        else:
            _check_fingerprint(store, state["fingerprint"], fingerprint)
            history = trainer.restore(state)
            start = int(state["epoch"])
            log.info("resumed from checkpoint", epoch=start, directory=str(store.directory))
            for result in history:
                if on_epoch_end:
                    on_epoch_end(result, True)
    for epoch in range(start + 1, trainer.config.epochs + 1):
        result = trainer.run_epoch(epoch)
        history.append(result)
        log.info(
            "epoch",
            epoch=f"{epoch}/{trainer.config.epochs}",
            train_loss=round(result.train_loss, 4),
            train_accuracy=round(result.train_accuracy, 4),
            test_accuracy=round(result.test_accuracy, 4),
            images_per_sec=round(result.images_per_sec, 1),
        )
        if store is not None:
            store.save(epoch, trainer.state(epoch, history, fingerprint))
        if on_epoch_end:
            on_epoch_end(result, False)
    return FitResult(history=history, resumed_from_epoch=start)
