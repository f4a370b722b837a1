"""Run profiles: every hyperparameter of a training run in one object, chosen by one switch
(``MNIST_PROFILE`` or an argument).

``quick`` is for CI and a first look (a small subset, one epoch), ``default`` is what the
notebooks train and reaches the accuracy the README claims, ``robust`` trains with
augmentation for real handwriting and learns to say "not a digit" (the model the predict
command ships with), ``best`` trades minutes for the last tenths of a percent. Notebooks, the
command line and the benchmark all describe a run with a :class:`Profile`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import TypedDict, Unpack

from .config import PROFILE_ENV, setting
from .errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw", "adadelta")
SCHEDULES = ("onecycle", "steplr")
LOADERS = ("tensors", "classic")
NONDIGIT_TARGETS = ("classes", "uniform")


def _is_number(value: object) -> bool:
    """A real number (an int or a float, not a bool or a string)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Profile:
    """Hyperparameters and data sizes for one kind of run."""

    name: str
    arch: str  # a name from ``mnist_helpers.models.ARCHITECTURES``
    epochs: int
    batch_size: int
    lr: float  # the peak of the one-cycle schedule (or the starting rate of "steplr")
    optimizer: str = "sgd"  # "sgd" (with Nesterov momentum), "adam", "adamw" or "adadelta"
    momentum: float = 0.9  # SGD's momentum; the schedule changes only the learning rate
    weight_decay: float = 5e-4  # a pull of every weight towards zero
    label_smoothing: float = 0.0  # the target puts this much probability on the other classes
    augment: bool = False  # random stroke width, rotation, shift and scale of each batch
    low_resolution: float = 0.0  # with augment: the share of images also blurred (small scans)
    schedule: str = "onecycle"  # "onecycle", or "steplr" (×0.7 each epoch: pytorch/examples)
    width: int | None = None  # the architecture's width argument (None: its default)
    nondigits: int = 0  # generated non-digits added to the training images
    # how those non-digits are taught: "classes", two more outputs ("not a digit", "two
    # digits"); "uniform", ten outputs, each non-digit trained towards 1/10 on every digit
    nondigit_target: str = "classes"
    digit_pictures: int = 0  # training digits drawn as real pictures and prepared, added too
    loader: str = "tensors"  # "tensors" (in memory), or "classic" (DataLoader + transforms)
    channels_last: bool = True  # the memory layout CPU and CUDA convolutions are fastest in
    mixed_precision: bool | None = None  # None: on for CUDA GPUs only
    train_limit: int | None = None  # use only the first N training images (None: all)
    val_size: int = 5_000  # images held out of the training set for validation
    eval_limit: int | None = None  # evaluate on the first N test images (None: all)
    imagefolder_limit: int | None = None  # images per split exported to PNG folders

    def __post_init__(self) -> None:
        problems = []
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be a whole number >= 1, got {getattr(self, name)!r}")
        # Bounds far beyond any useful value, but within what float32 weights survive.
        for name, low, high in (("lr", 0.0, 1e6), ("momentum", 0.0, 1.0),
                                ("weight_decay", 0.0, 1e6), ("label_smoothing", 0.0, 1.0)):
            value = getattr(self, name)
            if not _is_number(value) or not (low <= value < high and math.isfinite(value)) or (
                    name == "lr" and value == 0):
                wanted = (f"a number > 0 and below {high:g}" if name == "lr"
                          else f"a number in [{low:g}, {high:g})")
                problems.append(f"{name} must be {wanted}, got {value!r}")
        if not _is_number(self.low_resolution) or not 0 <= self.low_resolution <= 1:
            problems.append(f"low_resolution must be a share from 0 to 1, got "
                            f"{self.low_resolution!r}")
        if self.width is not None and (not isinstance(self.width, int)
                                       or isinstance(self.width, bool) or self.width < 1):
            problems.append(f"width must be a whole number >= 1 or None, got {self.width!r}")
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                              ("loader", LOADERS), ("nondigit_target", NONDIGIT_TARGETS)):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {', '.join(allowed)}; "
                                f"got {getattr(self, name)!r}")
        if self.val_size < 0 or (self.train_limit is not None and self.train_limit < 1):
            problems.append("val_size must be >= 0 and train_limit >= 1")
        for name in ("nondigits", "digit_pictures"):
            value = getattr(self, name)
            if value < 0 or (value and self.loader == "classic"):
                problems.append(f"{name} must be >= 0 (and needs the tensors loader), got "
                                f"{value!r}")
        if problems:
            raise ConfigError(f"Profile {self.name!r}: " + "; ".join(problems) + ".")

    def model_kwargs(self) -> dict:
        """Keyword arguments for ``build_model(profile.arch, ...)``: the width, if set, and two
        more classes, "not a digit" and "two digits", when the profile trains on non-digits as
        classes of their own (``nondigit_target="classes"``)."""
        kwargs: dict = {} if self.width is None else {"width": self.width}
        if self.nondigits and self.nondigit_target == "classes":
            kwargs["num_classes"] = 12
        return kwargs

    def to_dict(self) -> dict:
        """The profile as a plain dict (stored in checkpoints)."""
        return asdict(self)

    def with_overrides(self, **changes: Unpack[ProfileChanges]) -> Profile:
        """A copy with some fields changed, e.g. ``profile.with_overrides(epochs=3)``."""
        valid = {f.name for f in fields(self)}
        unknown = set(changes) - valid
        if unknown:
            raise ConfigError(
                f"Unknown profile field(s) {sorted(unknown)}; valid fields: {sorted(valid)}")
        return replace(self, **changes)


class ProfileChanges(TypedDict, total=False):
    """The fields :meth:`Profile.with_overrides` may change, each with its type."""

    name: str
    arch: str
    epochs: int
    batch_size: int
    lr: float
    optimizer: str
    momentum: float
    weight_decay: float
    label_smoothing: float
    augment: bool
    low_resolution: float
    schedule: str
    width: int | None
    nondigits: int
    nondigit_target: str
    digit_pictures: int
    loader: str
    channels_last: bool
    mixed_precision: bool | None
    train_limit: int | None
    val_size: int
    eval_limit: int | None
    imagefolder_limit: int | None


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick", arch="fast_cnn", epochs=1, batch_size=128, lr=0.1,
        train_limit=8_000, val_size=1_000, eval_limit=2_000, imagefolder_limit=200,
    ),
    "default": Profile(
        name="default", arch="fast_cnn", epochs=5, batch_size=128, lr=0.1,
        imagefolder_limit=1_000,
    ),
    # The model the predict command ships with: augmented for real handwriting (a quarter of
    # the images also blurred like small scans), 30,000 training digits drawn as real
    # pictures (small scans, bold markers, fine pens, faint ink) and prepared, and two more
    # classes, "not a digit" and "two digits", learned from 20,000 generated pictures.
    "robust": Profile(
        name="robust", arch="deep_cnn", width=24, epochs=10, batch_size=128, lr=0.1,
        label_smoothing=0.1, augment=True, low_resolution=0.25, nondigits=20_000,
        digit_pictures=30_000,
    ),
    # The benchmark's best recipe (python -m mnist_helpers.lab.bench --best), with 5,000
    # training images held out so the epoch kept is chosen on validation, never on the test set.
    "best": Profile(
        name="best", arch="deep_cnn", width=24, epochs=28, batch_size=256, lr=0.2,
        label_smoothing=0.1, augment=True,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else the one named by ``$MNIST_PROFILE``, else ``default``."""
    chosen = name or setting(PROFILE_ENV) or "default"
    key = chosen.strip().lower()
    if key not in PROFILES:
        raise ConfigError(
            f"Unknown profile {chosen!r}. Choose one of {', '.join(PROFILES)} "
            f"(argument or the {PROFILE_ENV} environment variable).")
    return PROFILES[key]
