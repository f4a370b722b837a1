"""The model that ships with the package, so predictions work right after install.

It is made by the project's own training command (augmented for real handwriting)::

    python -m mnist_helpers train --profile robust --out mnist_helpers/weights/mnist_robust.pt
"""

from __future__ import annotations

from pathlib import Path


def shipped_checkpoint_path() -> Path:
    """``mnist_helpers/weights/mnist_robust.pt``: the predict command's default model."""
    return Path(__file__).resolve().parent / "weights" / "mnist_robust.pt"
