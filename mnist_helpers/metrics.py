"""Looking closer at a trained model: all predictions, per-class accuracy, confusion matrix,
the most confident mistakes."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def collect_predictions(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities (N×10) and true labels (N), on the CPU, in dataset order."""
    device = device or next(model.parameters()).device
    model.eval()
    probs, labels = [], []
    for images, targets in batches:
        probs.append(torch.softmax(model(images.to(device)), dim=1).cpu())
        labels.append(targets.cpu())
    return torch.cat(probs), torch.cat(labels)


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int = 10
                     ) -> torch.Tensor:
    """``cm[true, predicted]`` counts (num_classes × num_classes, int64)."""
    flat = labels.long() * num_classes + predicted.long()
    return torch.bincount(flat, minlength=num_classes ** 2).view(num_classes, num_classes)


def per_class_accuracy(cm: torch.Tensor) -> torch.Tensor:
    """Accuracy of each true class (the diagonal over the row sums)."""
    return cm.diag().double() / cm.sum(1).clamp(min=1).double()


def most_confident_mistakes(probs: torch.Tensor, labels: torch.Tensor, k: int = 12
                            ) -> torch.Tensor:
    """Indices of the ``k`` wrong predictions made with the highest confidence."""
    confidence, predicted = probs.max(1)
    wrong = (predicted != labels).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)
    return wrong[order[:k]]
