"""Training throughput of `train-cnn`'s loop vs a plain PyTorch loop: same model, data, batch and device.

Run with the service venv:  services/training-cnn/.venv/bin/python bench/bench_cnn_throughput.py
    [--dataset cifar10|mnist] [--images N] [--width W] [--batch-size B] [--epochs E] [--device auto|cpu|cuda]
    [--compile] [--threads N] [--data-dir DIR]

Both loops train on the same in-memory (or on-GPU) uint8 images; epochs alternate between the two so
machine noise hits both alike. The CLI loop is `training_cnn.train.Trainer.run_epoch`, exactly what
`train-cnn` runs per epoch (its images/s excludes the per-epoch evaluation, as in the logs). It is timed
without augmentation (like the reference) and, for information, with the dataset's default augmentation.
Prints images/s (median over timed epochs) and the overhead ratio reference / CLI (1.00 = no overhead).
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from training_cnn.data import ImageSplits, load_splits
from training_cnn.datasets import dataset_spec
from training_cnn.device import resolve_device
from training_cnn.samples import generate_cifar10, generate_mnist
from training_cnn.train import TrainConfig, Trainer, batch_bounds, new_model


def reference_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    device: torch.device,
) -> float:
    """The textbook loop: shuffle, slice, scale, forward, loss, backward, step. Returns images/s."""
    cuda = device.type == "cuda"
    model.train()
    started = time.perf_counter()
    order = torch.randperm(len(labels), device=device)
    seen = 0
    for start, end in batch_bounds(len(labels), batch_size):
        index = order[start:end]
        x = images[index].float().div_(255)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(model(x).float(), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += end - start
    if cuda:
        torch.cuda.synchronize(device)
    return seen / (time.perf_counter() - started)


def _splits(args: argparse.Namespace, scratch: Path) -> ImageSplits:
    if args.data_dir:
        return load_splits(args.dataset, Path(args.data_dir))
    generate = generate_mnist if args.dataset == "mnist" else generate_cifar10
    generate(scratch, train_size=args.images, test_size=64, seed=0)
    return load_splits(args.dataset, scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["cifar10", "mnist"], default="cifar10")
    parser.add_argument("--images", type=int, default=1024, help="sample training images to generate")
    parser.add_argument("--data-dir", help="use a real dataset directory instead of generated samples")
    parser.add_argument("--width", type=int, help="network width (default: the dataset's)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the dataset's)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per loop (after one warm-up)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    spec = dataset_spec(args.dataset)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        splits = _splits(args, Path(scratch))
    common = dict(
        epochs=args.epochs + 1,
        batch_size=args.batch_size or spec.batch_size,
        lr=spec.lr,
        width=args.width or spec.width,
        label_smoothing=0.0,
        compile=args.compile,
    )
    cli = Trainer(new_model(splits, cfg := TrainConfig(augment=False, **common)), splits, cfg, device)
    cli_augmented = Trainer(
        new_model(splits, aug_cfg := TrainConfig(augment=True, **common)), splits, aug_cfg, device
    )
    reference_model = new_model(splits, cfg).to(device)
    if device.type == "cuda":
        reference_model = reference_model.to(memory_format=torch.channels_last)
    reference_forward = torch.compile(reference_model) if args.compile else reference_model
    reference_optimizer = torch.optim.SGD(
        reference_model.parameters(), lr=spec.lr, momentum=0.9, nesterov=True
    )
    images = torch.from_numpy(splits.train_images.copy()).to(device)
    labels = torch.from_numpy(splits.train_labels).to(device)

    results: dict[str, list[float]] = {"reference": [], "cli": [], "cli_augmented": []}
    loops = {
        "reference": lambda: reference_epoch(
            reference_forward, reference_optimizer, images, labels, cfg.batch_size, device
        ),
        "cli": lambda: cli.run_epoch(epoch).images_per_sec,
        "cli_augmented": lambda: cli_augmented.run_epoch(epoch).images_per_sec,
    }
    names = list(loops)
    for epoch in range(1, args.epochs + 2):  # epoch 1 warms up (allocations, oneDNN/cuDNN plans, compile)
        turn = names[epoch % 3 :] + names[: epoch % 3]  # rotate the order so no loop always goes first
        timed = {name: loops[name]() for name in turn}
        if epoch > 1:
            for name, value in timed.items():
                results[name].append(value)
        label = f"epoch {epoch}{' (warm-up)' if epoch == 1 else ''}"
        print(f"{label}: " + "  ".join(f"{k}={timed[k]:,.0f} img/s" for k in names), flush=True)

    median = {name: statistics.median(values) for name, values in results.items()}
    summary = {
        "dataset": args.dataset,
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_images": len(splits.train_labels),
        "batch_size": cfg.batch_size,
        "width": cfg.width,
        "compile": args.compile,
        "bf16_channels_last": device.type == "cuda",
        "reference_images_per_sec": round(median["reference"], 1),
        "cli_images_per_sec": round(median["cli"], 1),
        "cli_augmented_images_per_sec": round(median["cli_augmented"], 1),
        "overhead_ratio": round(median["reference"] / median["cli"], 3),
        "overhead_ratio_augmented": round(median["reference"] / median["cli_augmented"], 3),
    }
    print(
        f"{args.dataset} on {summary['device']}: reference {median['reference']:,.0f} img/s, "
        f"train-cnn loop {median['cli']:,.0f} img/s (overhead ratio {summary['overhead_ratio']:.3f}), "
        f"with augmentation {median['cli_augmented']:,.0f} img/s (ratio {summary['overhead_ratio_augmented']:.3f})"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
