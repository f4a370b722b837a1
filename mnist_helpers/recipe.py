"""A trained model from a :class:`~mnist_helpers.profiles.Profile`, in one call.

Everything that trains a model from a profile comes here: the command line's ``train``, the
notebooks (:func:`mnist_helpers.display.notebook.load_or_train`), the training playground and
the lab's experiments. :func:`train_model` takes the steps in order:

1. the data (:func:`prepare_training_data`): training batches, the validation images that pick
   the epoch, the test set, and for a profile with a "not a digit" class, generated non-digits;
2. a fresh model of the profile's architecture, seeded;
3. :func:`~mnist_helpers.train.fit`, which keeps the best epoch on the validation images;
4. for a model that can refuse, the refusal threshold, fitted on validation digits and
   non-digits it never trained on, and stored in the checkpoint.

The shipped model is ``train_model(get_profile("robust"), "cpu", checkpoint_path=...,
keep_resume_state=False)``: what ``python -m mnist_helpers train --profile robust
--no-resume-state`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from .calibration import RefusalCurve, fit_refusal
from .checkpoint import add_metadata, drop_resume_state
from .config import TWO_DIGITS
from .data import (
    MNISTTensors,
    TensorBatches,
    TrainingData,
    classic_loader,
    load_mnist,
    load_tensors,
    mnist_transform,
    split_indices,
)
from .device import seed_everything
from .digit_pictures import digit_picture_pixels
from .loop import Batches, Step
from .models import build_model
from .nondigits import nondigit_pixels, pair_pixels
from .profiles import Profile
from .train import History, fit


def prepare_training_data(profile: Profile, device: torch.device | str, *, seed: int = 0,
                          data_dir: str | os.PathLike | None = None,
                          eval_batch_size: int = 1000) -> TrainingData:
    """The data for a profile: training batches (shuffled with ``seed``), the validation
    images held out of them (a fixed split, the same in every run) and the test set.

    ``fit`` picks the best epoch on the validation images; the test set is only for the
    final figure. With ``profile.loader == "classic"`` the training batches come from the
    classic ``DataLoader`` pipeline instead of the in-memory tensors. A profile with
    ``nondigits`` adds that many generated non-digits to the training images, and a tenth as
    many other ones (``val_nondigits``) for fitting the refusal threshold; one with
    ``digit_pictures`` adds that many training digits drawn as real pictures and prepared
    (:mod:`mnist_helpers.digit_pictures`), and a tenth as many of the validation digits
    (``val_pictures``), which the refusal threshold must also keep.
    """
    device = torch.device(device)
    full_train = load_tensors(True, data_dir, device=device)
    test = load_tensors(False, data_dir, device=device)
    train_idx, val_idx = split_indices(len(full_train), profile.val_size, seed=0)
    if profile.train_limit is not None:
        train_idx = train_idx[: profile.train_limit]
    # Every image trains: no copy is needed (the batches are shuffled anyway).
    train_images = (full_train if len(train_idx) == len(full_train)
                    else full_train.subset(train_idx))
    val_images = full_train.subset(val_idx)
    val_nondigits = val_pictures = None
    if profile.digit_pictures:  # before the non-digits join: digits only
        train_images = train_images.concat(MNISTTensors(*digit_picture_pixels(
            train_images.pixels, train_images.labels, profile.digit_pictures, seed=3)))
        val_pictures = MNISTTensors(*digit_picture_pixels(
            val_images.pixels, val_images.labels, max(1, profile.digit_pictures // 10), seed=4))
    if profile.nondigits:  # and a tenth as many unseen ones, for validation
        train_images = with_nondigits(train_images, profile.nondigits, seed=1)
        empty = MNISTTensors(val_images.pixels[:0], val_images.labels[:0])
        val_nondigits = with_nondigits(empty, profile.nondigits // 10, seed=2,
                                       digits=val_images.pixels)
    if profile.eval_limit is not None:
        test = test.subset(slice(0, profile.eval_limit))
    train: Batches
    if profile.loader == "classic":
        train = classic_loader(
            load_mnist(True, data_dir, transform=mnist_transform()), profile.batch_size,
            indices=train_idx, shuffle=True, seed=seed, pin_memory=device.type == "cuda")
    else:
        train = TensorBatches(train_images, profile.batch_size, shuffle=True, seed=seed)
    return TrainingData(train=train, val=TensorBatches(val_images, eval_batch_size),
                        test=TensorBatches(test, eval_batch_size), val_nondigits=val_nondigits,
                        val_pictures=val_pictures)


def with_nondigits(split: MNISTTensors, count: int, seed: int,
                   digits: torch.Tensor | None = None) -> MNISTTensors:
    """``split`` and ``count`` generated non-digits: four fifths pictures that are not digits
    (``NOT_A_DIGIT``), one fifth two digits of ``digits`` side by side, touching or nearly
    (``TWO_DIGITS``; by default the split's own)."""
    pairs = count // 5
    return split.with_extra(nondigit_pixels(count - pairs, seed=seed)).with_extra(
        pair_pixels(pairs, seed=seed, digits=split.pixels if digits is None else digits),
        TWO_DIGITS)


@dataclass
class TrainedModel:
    """What :func:`train_model` made: the model (its best epoch's weights, in evaluation
    mode), the run's history, the data it used, and for a model with a "not a digit" class
    the fitted refusal threshold and the curve it was chosen on."""

    model: nn.Module
    history: History
    data: TrainingData
    refusal_threshold: float | None = None
    refusal_curve: RefusalCurve | None = None

    @property
    def checkpoint(self) -> Path | None:
        """The file that holds the model (``None``: nothing was saved)."""
        return None if self.history.saved_to is None else Path(self.history.saved_to)

    def refusal_summary(self) -> str | None:
        """One line on the fitted refusal threshold, or ``None`` when none was fitted."""
        if self.refusal_threshold is None or self.refusal_curve is None:
            return None
        curve = self.refusal_curve
        at = int((curve.thresholds <= self.refusal_threshold).nonzero().max())
        return (f"refusal threshold (fitted on validation images): {self.refusal_threshold:.3f}; "
                f"there it refuses {100 * curve.nondigits_refused[at]:.1f}% of non-digits and "
                f"reads {100 * curve.digits_right[at]:.2f}% of digits right")


def train_model(profile: Profile, device: torch.device | str, *, seed: int = 0,
                data: TrainingData | None = None,
                data_dir: str | os.PathLike | None = None,
                checkpoint_path: str | os.PathLike | None = None,
                resume_from: str | os.PathLike | None = None,
                keep_resume_state: bool = True,
                on_step: Callable[[Step], bool | None] | None = None,
                on_epoch: Callable[[History], bool | None] | None = None,
                keep: Literal["best", "last"] = "best", verbose: bool = False) -> TrainedModel:
    """Train a fresh ``profile.arch`` with ``profile`` and ``seed``; see the module's steps.

    ``data`` defaults to :func:`prepare_training_data` of the profile (pass your own to train
    on other batches); ``checkpoint_path``, ``resume_from``, ``on_step``, ``on_epoch`` and
    ``keep`` (``"last"``: keep the last epoch, not the best) go to
    :func:`~mnist_helpers.train.fit`. When the run finishes (is not stopped early), the
    refusal threshold is fitted and written into the checkpoint, and with
    ``keep_resume_state=False`` the optimizer's state that only resuming needs is dropped from
    it (a smaller file to ship). ``verbose`` prints a line per epoch and the refusal threshold.
    """
    if data is None:
        data = prepare_training_data(profile, device, seed=seed, data_dir=data_dir)
    seed_everything(seed)
    model = build_model(profile.arch, **profile.model_kwargs())
    history = fit(model, data.train, data.val, profile, device=device, seed=seed,
                  checkpoint_path=checkpoint_path, resume_from=resume_from, on_step=on_step,
                  on_epoch=on_epoch, keep=keep, verbose=verbose)
    result = TrainedModel(model=model.eval(), history=history, data=data)
    saved = result.checkpoint
    if history.stopped or not history.epoch:  # unfinished: the file keeps what resuming needs
        return result
    if data.val_nondigits is not None:
        val = data.val.dataset.concat(data.val_nondigits)
        if data.val_pictures is not None:
            val = val.concat(data.val_pictures)
        result.refusal_threshold, result.refusal_curve = fit_refusal(
            model, TensorBatches(val, data.val.batch_size))
        if saved is not None:
            add_metadata(saved, refusal_threshold=result.refusal_threshold)
        if verbose:
            print(result.refusal_summary())
    if saved is not None and not keep_resume_state:
        drop_resume_state(saved)
    return result
