"""The networks, by name. Every model takes N×1×28×28 normalised images and returns logits,
one score per class (10 digits, or 12 with "not a digit" and "two digits").

Baselines, to see what convolutions buy:

* ``logistic`` — logistic regression: one linear layer from the 784 pixels to the scores;
* ``mlp`` — a multilayer perceptron: 784 → 256 → 128 → scores, with ReLU between.

Convolutional networks:

* ``classic_cnn`` — the two-convolution CNN of PyTorch's own MNIST example
  (pytorch/examples, ``mnist/main.py``): two 3×3 convolutions (32, 64 channels), max-pool,
  dropout, a 9216→128 layer, dropout, 128→10;
* ``fast_cnn`` — the course's default network: three small conv blocks with batch norm, each
  followed by a max-pool, so the later blocks work on small feature maps;
* ``tiny_cnn`` — the speed benchmark's network: border cropped, a stride-2 stem, pooling before
  batch norm;
* ``deep_cnn`` — the best recipe's network: border cropped, a stride-2 stem, then two 3×3
  convolutions per stage;
* ``resnet_small`` — a small residual network (two stages of basic blocks);
* ``vgg_style`` — stacked 3×3 convolutions in VGG's pattern, with batch norm.

docs/benchmarks.md measures how fast and how accurate the recipes built on them are.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from .device import model_device
from .errors import ConfigError


class Logistic(nn.Module):
    """Logistic regression: each class's score is a weighted sum of the 784 pixels."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(28 * 28, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(x, 1))


class MLP(nn.Module):
    """A multilayer perceptron: two hidden layers of ``hidden`` and ``hidden // 2`` units."""

    def __init__(self, hidden: int = 256, num_classes: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden // 2), nn.ReLU(),
            nn.Linear(hidden // 2, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ClassicCNN(nn.Module):
    """PyTorch's MNIST example network: conv(32) → conv(64) → max-pool → dropout → fc(128) →
    dropout → fc(10)."""

    def __init__(self, dropout1: float = 0.25, dropout2: float = 0.5,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)  # 28 -> 26
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)  # 26 -> 24
        self.pool = nn.MaxPool2d(2)  # 24 -> 12
        self.dropout1 = nn.Dropout(dropout1)
        self.fc1 = nn.Linear(64 * 12 * 12, 128)  # 9216 -> 128
        self.dropout2 = nn.Dropout(dropout2)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.dropout1(self.pool(x))
        x = torch.flatten(x, 1)
        x = self.dropout2(torch.relu(self.fc1(x)))
        return self.fc2(x)


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """A 3×3 convolution (padding 1 keeps height and width), batch norm, ReLU. The convolution
    has no bias: batch norm subtracts each channel's mean, which would cancel it, and adds its
    own learned shift instead."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FastCNN(nn.Module):
    """The course's default network: three conv-BN-ReLU blocks, each followed by a 2×2
    max-pool (28→14→7→3), then one linear layer from the last maps to the scores."""

    def __init__(self, width: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            conv_bn(1, w), nn.MaxPool2d(2),  # 1×28×28 -> w×28×28 -> w×14×14
            conv_bn(w, 2 * w), nn.MaxPool2d(2),  # -> 2w×14×14 -> 2w×7×7
            conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),  # -> 4w×7×7 -> 4w×3×3
        )
        # Flatten each image's 4w maps of 3×3 into one row of 4w·9 numbers, then one score
        # per class.
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 3 * 3, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def conv_pool_bn(c_in: int, c_out: int) -> list[nn.Module]:
    """3×3 conv, then 2×2 max-pool *before* batch norm and ReLU (they run on 4× fewer values);
    a list, to be unpacked into an ``nn.Sequential``."""
    return [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False), nn.MaxPool2d(2),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    """``x`` (N×C×H×W) without ``border`` pixels on each side (unchanged when ``border`` is 0)."""
    return x[:, :, border:-border, border:-border] if border else x


class TinyCNN(nn.Module):
    """The speed recipe's network.

    * Crop the 2-pixel border (28→24): MNIST digits sit in the central 20×20 box, so the border
      is background, and every later layer gets 27% fewer positions to compute.
    * A 5×5 stride-2 stem (24→12) with 8 channels and no batch norm.
    * Two conv blocks that max-pool *before* batch norm and ReLU (12→6→3), so those run on
      4× fewer values; 16 and then 64 channels.

    docs/benchmarks.md measures these choices.
    """

    def __init__(self, width: int = 8, border: int = 2, num_classes: int = 10
                 ) -> None:
        super().__init__()
        w = width
        self.border = border
        self.features = nn.Sequential(
            nn.Conv2d(1, w, kernel_size=5, stride=2, padding=2),  # 24 -> 12
            nn.ReLU(inplace=True),
            *conv_pool_bn(w, 2 * w),  # -> 6
            *conv_pool_bn(2 * w, 8 * w),  # -> 3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * w * 3 * 3, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(crop_border(x, self.border)))


class DeepCNN(nn.Module):
    """The best recipe's network: depth where it is cheap.

    * Crop the empty 2-pixel border (28→24), as ``tiny_cnn`` does.
    * A 5×5 stride-2 stem with batch norm (24→12), so no layer works on full-size maps (the
      first layer of ``fast_cnn`` runs batch norm, ReLU and pooling over 28×28 maps).
    * Two 3×3 convolutions at 12×12 (``2·width`` channels) and two at 6×6 (``4·width``), the
      second of each pair max-pooling before its batch norm (12→6→3), then one linear layer.

    docs/benchmarks.md compares its speed and accuracy with ``fast_cnn``'s.
    """

    def __init__(self, width: int = 24, border: int = 2, num_classes: int = 10
                 ) -> None:
        super().__init__()
        w = width
        self.border = border
        self.features = nn.Sequential(
            nn.Conv2d(1, w, kernel_size=5, stride=2, padding=2, bias=False),  # 24 -> 12
            nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            conv_bn(w, 2 * w), *conv_pool_bn(2 * w, 2 * w),  # 12 -> 6
            conv_bn(2 * w, 4 * w), *conv_pool_bn(4 * w, 4 * w),  # 6 -> 3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 3 * 3, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(crop_border(x, self.border)))


class BasicBlock(nn.Module):
    """A ResNet basic block: two 3×3 conv-BN layers and an identity (or 1×1) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetSmall(nn.Module):
    """A small ResNet for 28×28 digits: stem, two stages of basic blocks, global pooling."""

    def __init__(self, width: int = 32, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.stem = conv_bn(1, w)
        self.stages = nn.Sequential(
            BasicBlock(w, w, stride=2),  # 28 -> 14
            BasicBlock(w, 2 * w, stride=2),  # 14 -> 7
            BasicBlock(2 * w, 2 * w),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(2 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class VGGStyle(nn.Module):
    """VGG's pattern at MNIST size: pairs of 3×3 conv-BN-ReLU, then max-pool, twice; then fc."""

    def __init__(self, width: int = 32, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            conv_bn(1, w), conv_bn(w, w), nn.MaxPool2d(2),  # 28 -> 14
            conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),  # 14 -> 7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * w * 7 * 7, 128), nn.ReLU(inplace=True),
            nn.Dropout(0.3), nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


#: Every architecture by the name checkpoints and profiles use.
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "logistic": Logistic,
    "mlp": MLP,
    "classic_cnn": ClassicCNN,
    "fast_cnn": FastCNN,
    "tiny_cnn": TinyCNN,
    "deep_cnn": DeepCNN,
    "resnet_small": ResNetSmall,
    "vgg_style": VGGStyle,
}

#: The range of every argument an architecture takes. A checkpoint names its architecture's
#: arguments; they are checked against these before anything is built, so a crafted file
#: cannot make the loader allocate gigabytes.
ARGUMENT_RANGES: dict[str, tuple[type, float, float]] = {
    "width": (int, 1, 256),
    "hidden": (int, 2, 4096),
    "border": (int, 0, 4),
    "num_classes": (int, 10, 12),
    "dropout1": (float, 0.0, 0.95),
    "dropout2": (float, 0.0, 0.95),
}


def check_arguments(arch: str, kwargs: dict) -> None:
    """Raise :class:`ConfigError` unless ``arch`` is known and ``kwargs`` are arguments it
    takes, each of the right type and within :data:`ARGUMENT_RANGES`."""
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise ConfigError(f"Unknown architecture {arch!r}; choose one of "
                          f"{', '.join(ARCHITECTURES)}.")
    if not isinstance(kwargs, dict):
        raise ConfigError(f"The arguments of {arch} must be a dict, got "
                          f"{type(kwargs).__name__}.")
    accepted = set(inspect.signature(ARCHITECTURES[arch]).parameters)
    for name, value in kwargs.items():
        if name not in accepted:
            raise ConfigError(f"{arch} takes no argument {name!r} (it takes "
                              f"{', '.join(sorted(accepted))}).")
        kind, low, high = ARGUMENT_RANGES[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (kind is int and not isinstance(value, int)) or not low <= value <= high:
            raise ConfigError(f"{arch}: {name}={value!r} is out of range (a {kind.__name__} "
                              f"from {low:g} to {high:g}).")


def build_model(arch: str, **kwargs: object) -> nn.Module:
    """A fresh, untrained model of architecture ``arch`` (a key of :data:`ARCHITECTURES`)."""
    check_arguments(arch, kwargs)
    return ARCHITECTURES[arch](**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_multiply_adds(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 28, 28)) -> int:
    """Multiply-adds of the convolutions and linear layers when ``model`` runs on one batch of
    ``input_shape`` (zeros), counted by PyTorch as it runs."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, not {type(model).__name__}")
    # Imported here, not at the top: PyTorch's counter loads Triton, about 90 MiB of memory that
    # a process which never counts (one that only predicts) would hold for nothing.
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()  # a run in training mode would update batch norm's running averages
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(input_shape, device=model_device(model)))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2  # PyTorch counts a multiply-add as 2 operations
