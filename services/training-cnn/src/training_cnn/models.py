"""The networks: a small CNN for MNIST, a ResNet-style airbench-like net for CIFAR-10.

Every model takes pixels scaled to [0, 1]; normalization lives inside (`NormalizedClassifier`) so the
exported ONNX graph needs no preprocessing beyond `raw / 255`.
"""

from collections.abc import Sequence

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class MnistNet(nn.Sequential):
    """Two conv pairs with pooling, a wider conv, global max pool, linear: ~99% on MNIST in a few epochs."""

    def __init__(self, width: int = 32, num_classes: int = 10, channels: int = 1) -> None:
        super().__init__(
            *conv_bn(channels, width),
            *conv_bn(width, width),
            nn.MaxPool2d(2),
            *conv_bn(width, 2 * width),
            *conv_bn(2 * width, 2 * width),
            nn.MaxPool2d(2),
            *conv_bn(2 * width, 4 * width),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * width, num_classes),
        )


class ResidualGroup(nn.Module):
    """conv -> 2x2 max pool -> BN/ReLU, then a residual conv/BN/ReLU at the pooled resolution."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.down = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )
        self.residual = nn.Sequential(*conv_bn(c_out, c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        return x + self.residual(x)


class CifarResNet(nn.Module):
    """Stem conv and three residual groups (32 -> 16 -> 8 -> 4 px), global max pool, scaled linear head.

    With `width=64` the channels are 32 / 64 / 256 / 256 (the airbench94 layout plus residuals).
    """

    def __init__(self, width: int = 64, num_classes: int = 10, channels: int = 3) -> None:
        super().__init__()
        stem, first, second, third = self.channel_plan(width)
        self.stem = nn.Sequential(*conv_bn(channels, stem))
        self.groups = nn.Sequential(
            ResidualGroup(stem, first), ResidualGroup(first, second), ResidualGroup(second, third)
        )
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(third, num_classes, bias=False)
        self.logit_scale = 1 / 9

    @staticmethod
    def channel_plan(width: int) -> tuple[int, int, int, int]:
        return (max(width // 2, 1), width, 4 * width, 4 * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.groups(self.stem(x))).flatten(1)
        return self.head(x) * self.logit_scale


class NormalizedClassifier(nn.Module):
    """`net((x - mean) / std)` for `x` in [0, 1]; the statistics are buffers, saved and exported with it."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


NETWORKS: dict[str, type[MnistNet] | type[CifarResNet]] = {"mnist": MnistNet, "cifar10": CifarResNet}


def build_model(
    dataset: str, width: int, num_classes: int, channels: int, mean: Sequence[float], std: Sequence[float]
) -> NormalizedClassifier:
    """The dataset's network, initialized from torch's current RNG state (seed it first)."""
    net = NETWORKS[dataset](width=width, num_classes=num_classes, channels=channels)
    return NormalizedClassifier(net, mean, std)
