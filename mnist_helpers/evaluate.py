"""Measuring a model: loss and accuracy over a dataset, every prediction, per-class accuracy,
the confusion matrix (and its spread over redrawn test sets) and the most confident mistakes.

Every inference here runs inside :func:`evaluation_mode`: dropout off, batch norm on its
running statistics, no gradients, and the model's mode restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .device import model_device
from .errors import ConfigError

LabelledBatches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` for inference: eval mode and no gradients, its mode restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


@dataclass
class EvalResult:
    """Mean loss and correct count over a dataset."""

    loss: float  # mean cross-entropy per image
    correct: int
    total: int
    not_numbers: int = 0  # images whose outputs hold NaN or infinity (a broken model)

    @property
    def accuracy(self) -> float:
        """Fraction correct, 0..1."""
        return self.correct / self.total if self.total else 0.0

    def log_line(self, name: str = "Test set") -> str:
        """PyTorch's MNIST example's summary line: ``Test set: Average loss: 0.0301,
        Accuracy: 9904/10000 (99.04%)``."""
        broken = (f" [outputs of {self.not_numbers} images are not numbers]"
                  if self.not_numbers else "")
        return (f"{name}: Average loss: {self.loss:.4f}, "
                f"Accuracy: {self.correct}/{self.total} ({100 * self.accuracy:.2f}%){broken}")


def evaluate(model: nn.Module, batches: LabelledBatches) -> EvalResult:
    """Mean cross-entropy and accuracy of ``model`` over ``batches``."""
    device = model_device(model)
    loss_sum, correct, total, not_numbers = 0.0, 0, 0, 0
    with evaluation_mode(model):
        for images, labels in batches:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            total += labels.numel()
            not_numbers += int((~torch.isfinite(logits)).any(1).sum())
    return EvalResult(loss_sum / max(total, 1), int(correct), total, not_numbers)


def class_probabilities(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities (N×classes, on the CPU) for normalised N×1×28×28 images."""
    with evaluation_mode(model):
        return torch.softmax(model(images.to(model_device(model))), dim=1).cpu()


def all_logits(model: nn.Module, batches: LabelledBatches) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's logits (N×classes) and the true labels (N) for every image, on the CPU,
    in order."""
    logits, labels = [], []
    with evaluation_mode(model):
        for images, targets in batches:
            logits.append(model(images.to(model_device(model))).float().cpu())
            labels.append(targets.cpu())
    return torch.cat(logits), torch.cat(labels)


def predict_all(model: nn.Module, batches: LabelledBatches) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities (N×classes) and true labels (N) for every image, on the CPU, in order."""
    logits, labels = all_logits(model, batches)
    return torch.softmax(logits, dim=1), labels


#: Test-time augmentation's copies of an image: (rows, columns) to move it by. Each copy is
#: moved one pixel up, down, left or right, besides the image itself.
SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def shifted_logits(model: nn.Module, batches: LabelledBatches,
                   shifts: Iterable[tuple[int, int]] = SHIFTS) -> torch.Tensor:
    """The model's logits for every image of ``batches`` moved by each of ``shifts``: a tensor
    (shifts, images, classes) on the CPU. ``torch.roll`` moves the image; what leaves one
    edge comes back at the other, which for MNIST's empty 4-pixel border is only paper.
    *Test-time augmentation* (TTA) averages the softmax over the first axis; an *ensemble*
    averages the softmax of several models."""
    return torch.stack([all_logits(model, ((torch.roll(images, shift, dims=(2, 3)), labels)
                                           for images, labels in batches))[0]
                        for shift in shifts])


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int = 10
                     ) -> torch.Tensor:
    """``cm[true, predicted]`` counts (num_classes × num_classes, int64)."""
    # Each (true, predicted) pair becomes one number, its cell's place in the matrix read row
    # by row; counting how often each number occurs fills the cells.
    cells = labels.long() * num_classes + predicted.long()
    return torch.bincount(cells, minlength=num_classes ** 2).view(num_classes, num_classes)


def bootstrap_confusion_matrices(predicted: torch.Tensor, labels: torch.Tensor, *,
                                 resamples: int = 1000, seed: int = 0, num_classes: int = 10
                                 ) -> torch.Tensor:
    """The confusion matrices of ``resamples`` test sets redrawn from this one (as many images,
    drawn at random with replacement: the bootstrap), resamples × num_classes × num_classes."""
    if labels.dim() != 1 or predicted.shape != labels.shape or len(labels) == 0:
        raise ConfigError("predicted and labels must be 1-D and of the same, non-zero length; "
                          f"got shapes {tuple(predicted.shape)} and {tuple(labels.shape)}")
    if resamples < 1:
        raise ConfigError(f"resamples must be at least 1, got {resamples}")
    n, size = len(labels), num_classes ** 2
    cells = (labels.long() * num_classes + predicted.long()).cpu()  # as in confusion_matrix
    picks = torch.randint(n, (resamples, n), generator=torch.Generator().manual_seed(seed))
    # Row r of picks is redrawn test set r. One bincount counts them all, each set into its
    # own block of cells (r·size … r·size + size − 1): a loop of small counts is far slower.
    blocks = cells[picks] + size * torch.arange(resamples).unsqueeze(1)
    counts = torch.bincount(blocks.flatten(), minlength=resamples * size)
    return counts.view(resamples, num_classes, num_classes)


def per_class_accuracy(cm: torch.Tensor) -> torch.Tensor:
    """Accuracy of each true class (the diagonal over the row sums); for a stack of matrices
    (…× classes × classes), that of each."""
    right = cm.diagonal(dim1=-2, dim2=-1).double()
    return right / cm.sum(-1).clamp(min=1).double()


def largest_confusions(cm: torch.Tensor, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells as ``(true, predicted, count)``, largest first."""
    off = cm.clone()
    off.fill_diagonal_(0)
    counts, flat = off.flatten().sort(descending=True)
    n = cm.shape[1]
    return [(int(i) // n, int(i) % n, int(c)) for c, i in zip(counts[:k], flat[:k], strict=True)
            if c > 0]


def most_confident_mistakes(probabilities: torch.Tensor, labels: torch.Tensor, k: int = 12
                            ) -> torch.Tensor:
    """Indices of the ``k`` wrong predictions made with the highest confidence."""
    confidence, predicted = probabilities.max(1)
    wrong = (predicted != labels).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)
    return wrong[order[:k]]
