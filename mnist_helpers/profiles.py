"""Run profiles: one switch (``MNIST_PROFILE`` or an argument) that sizes every training run.

``quick`` is for CI and a first look (a small subset, one epoch), ``default`` is what
``make run`` uses and reaches the accuracy the README claims, ``robust`` trains with
augmentation (stroke width, rotation, shift, scale) for real handwriting and is the model the
predict command ships with, ``best`` trades minutes for the last tenths of a percent.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

PROFILE_ENV = "MNIST_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Hyperparameters and data sizes for one kind of run."""

    name: str
    arch: str  # a name from ``mnist_helpers.models.ARCHITECTURES``
    epochs: int
    batch_size: int
    lr: float  # peak learning rate of the one-cycle schedule
    optimizer: str  # "sgd" (with momentum, as in the seeds), "adam" or "adamw"
    momentum: float
    weight_decay: float
    label_smoothing: float
    augment: bool  # random shifts/rotations/scale on the training batches
    train_limit: int | None  # use only the first N training images (None: all)
    val_size: int  # images held out of the training set for validation
    eval_limit: int | None  # evaluate on the first N test images (None: all)
    imagefolder_limit: int | None  # images per split exported to PNG folders (None: all)
    width: int | None = None  # the architecture's width argument (None: its default)

    def model_kwargs(self) -> dict:
        """Keyword arguments for ``build_model(profile.arch, ...)`` (the width, if set)."""
        return {} if self.width is None else {"width": self.width}

    def to_dict(self) -> dict:
        """The profile as a plain dict (stored in checkpoints)."""
        return asdict(self)

    def with_overrides(self, **changes: object) -> Profile:
        """A copy with some fields changed, e.g. ``profile.with_overrides(epochs=3)``."""
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise ValueError(
                f"Unknown profile field(s) {sorted(unknown)}; valid fields: {sorted(asdict(self))}"
            )
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick", arch="fast_cnn", epochs=1, batch_size=128, lr=0.1, optimizer="sgd",
        momentum=0.9, weight_decay=5e-4, label_smoothing=0.0, augment=False,
        train_limit=8_000, val_size=1_000, eval_limit=2_000, imagefolder_limit=500,
    ),
    "default": Profile(
        name="default", arch="fast_cnn", epochs=5, batch_size=128, lr=0.1, optimizer="sgd",
        momentum=0.9, weight_decay=5e-4, label_smoothing=0.0, augment=False,
        train_limit=None, val_size=5_000, eval_limit=None, imagefolder_limit=None,
    ),
    "robust": Profile(
        name="robust", arch="fast_cnn", epochs=8, batch_size=128, lr=0.1, optimizer="sgd",
        momentum=0.9, weight_decay=5e-4, label_smoothing=0.1, augment=True,
        train_limit=None, val_size=5_000, eval_limit=None, imagefolder_limit=None,
    ),
    # The benchmark's best recipe (python -m mnist_helpers.bench --best), with 5,000 training
    # images held out so the epoch kept is chosen on validation, never on the test set.
    "best": Profile(
        name="best", arch="deep_cnn", width=24, epochs=28, batch_size=256, lr=0.2,
        optimizer="sgd", momentum=0.9, weight_decay=5e-4, label_smoothing=0.1, augment=True,
        train_limit=None, val_size=5_000, eval_limit=None, imagefolder_limit=None,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else the one named by ``$MNIST_PROFILE``, else ``default``."""
    chosen = name or os.environ.get(PROFILE_ENV) or "default"
    key = chosen.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"Unknown profile {chosen!r}. Choose one of {', '.join(PROFILES)} "
            f"(argument or the {PROFILE_ENV} environment variable)."
        )
    return PROFILES[key]
