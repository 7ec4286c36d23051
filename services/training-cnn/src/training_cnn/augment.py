"""Batch augmentation on the compute device: random crops (reflect-padded) and horizontal flips.

The random draws for an epoch are made up front on CPU from the epoch's generator, so results do not
depend on the device or on where an interrupted run resumed.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

CROP_PADDING = 2


@dataclass(frozen=True)
class EpochAugmentation:
    """Per-image flips and crop offsets for one epoch, indexed like the training set."""

    flips: torch.Tensor  # (n,) bool
    offsets: torch.Tensor  # (n, 2) int64 in [0, 2 * padding]

    @classmethod
    def draw(cls, count: int, generator: torch.Generator, padding: int = CROP_PADDING) -> "EpochAugmentation":
        flips = torch.rand(count, generator=generator) < 0.5
        offsets = torch.randint(0, 2 * padding + 1, (count, 2), generator=generator)
        return cls(flips=flips, offsets=offsets)

    def to(self, device: torch.device) -> "EpochAugmentation":
        return EpochAugmentation(self.flips.to(device), self.offsets.to(device))


def augment_batch(
    images: torch.Tensor, flips: torch.Tensor, offsets: torch.Tensor, padding: int = CROP_PADDING
) -> torch.Tensor:
    """Flip the images marked in `flips`, then crop each at its `(dy, dx)` offset of the padded image."""
    images = torch.where(flips[:, None, None, None], images.flip(-1), images)
    padded = F.pad(images, (padding,) * 4, mode="reflect")
    batch, channels, height, width = images.shape
    device = images.device
    rows = offsets[:, 0, None] + torch.arange(height, device=device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(width, device=device)  # (B, W)
    return padded[
        torch.arange(batch, device=device)[:, None, None, None],
        torch.arange(channels, device=device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
