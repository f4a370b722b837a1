"""Training a model: :func:`fit` runs the loop of :mod:`mnist_helpers.loop` and adds what a
real run needs around it: validation after every epoch, the best epoch's weights kept, a
checkpoint written atomically after every epoch (never over a better model), Jupyter's stop
button, Ctrl-C and SIGTERM survived, and an interrupted run resumed exactly.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import (
    architecture_of,
    model_class_of,
    one_line,
    read_checkpoint,
    save_checkpoint,
)
from .data import Batches
from .device import place_model, seed_everything
from .errors import CheckpointError, Terminated
from .evaluate import EvalResult, LabelledBatches, evaluate
from .files import ensure_writable_folder, resolve_target
from .loop import Step, TrainingSetup, check_model, training_steps
from .profiles import Profile


@dataclass
class History:
    """What happened during ``fit``: every step's loss and learning rate, every epoch's
    training and validation figures."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean over the epoch's batches
    train_accuracy: list[float] = field(default_factory=list)  # while the weights changed
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)  # training time, validation apart
    step_loss: list[float] = field(default_factory=list)  # every batch's loss
    step_lr: list[float] = field(default_factory=list)  # every step's learning rate
    best_epoch: int = 0
    best_val_accuracy: float = -1.0
    stopped: bool = False  # ended early: by Jupyter's stop button, a callback or divergence
    stop_reason: str | None = None  # "callback", "interrupted", "terminated" or "diverged"
    saved_to: str | None = None  # the file that holds this run's model (None: none saved)

    @property
    def diverged(self) -> bool:
        """Whether training stopped because the weights stopped being numbers."""
        return self.stop_reason == "diverged"

    def to_dict(self) -> dict:
        """Plain lists and numbers (stored in checkpoints)."""
        return {k: v for k, v in asdict(self).items() if k != "saved_to"}

    def record_epoch(self, epoch: int, steps: list[Step], seconds: float, val: EvalResult,
                     *, keep_last: bool = False) -> bool:
        """Add an epoch's figures (one wait for the device, not one per step); return whether
        it is the epoch to keep: the best so far, or with ``keep_last`` every new one."""
        losses = torch.stack([s.loss_tensor.float() for s in steps]).tolist()
        correct = int(torch.stack([s.correct_tensor for s in steps]).sum())
        images = sum(s.images for s in steps)
        self.step_loss += losses
        self.step_lr += [s.lr for s in steps]
        self.epoch.append(epoch)
        self.train_loss.append(sum(v * s.images for v, s in zip(losses, steps, strict=True))
                               / images)
        self.train_accuracy.append(correct / images)
        self.val_loss.append(val.loss)
        self.val_accuracy.append(val.accuracy)
        self.train_seconds.append(seconds)
        if keep_last or val.accuracy >= self.best_val_accuracy or val.total == 0:  # ties: later
            self.best_epoch, self.best_val_accuracy = epoch, val.accuracy
            return True
        return False


def fit(model: nn.Module, train: Batches, val: LabelledBatches, profile: Profile, *,
        device: torch.device | str, seed: int = 0,
        checkpoint_path: str | os.PathLike | None = None,
        resume_from: str | os.PathLike | None = None,
        on_step: Callable[[Step], bool | None] | None = None,
        on_epoch: Callable[[History], bool | None] | None = None,
        keep: Literal["best", "last"] = "best", verbose: bool = True) -> History:
    """Train ``model`` with ``profile``'s hyperparameters; return the :class:`History`.

    ``model`` is any network (a ``torch.nn.Module``) that turns a batch of N×1×28×28 images
    into one score per class (10, or 12 for a profile with non-digits): one ``build_model``
    makes, or one of your own. ``profile.arch`` names the network that ``train_model`` and
    the command line build; ``fit`` trains the one it is given, and its checkpoint records
    what that is (load one of your own with ``load_checkpoint(path, model=MyNet())``).

    After every epoch the model is measured on ``val``, the best weights so far are kept and
    (with ``checkpoint_path``) saved with all it takes to resume. ``on_step(step)`` and
    ``on_epoch(history)`` are called as training goes; either returning True stops it, as
    Jupyter's stop button does. Either way ``model`` ends with the best epoch's weights, or
    with ``keep="last"`` the last epoch's (for a run that trains on its validation images too,
    so that they choose nothing; ``history.best_epoch`` is then the epoch kept).
    ``resume_from`` continues an interrupted run of the same network (pass a fresh one),
    profile and seed from its last finished epoch; the result is the same as that of a run
    never interrupted.

    A good model is never lost: nothing is saved before the first epoch ends or once the
    weights stop being numbers (the run stops, saying so), and a model already at
    ``checkpoint_path`` is replaced only by one at least as good on the same validation images;
    otherwise this run's model goes to a file beside it, and ``history.saved_to`` says where.
    """
    if keep not in ("best", "last"):
        raise ValueError(f'keep must be "best" or "last", not {keep!r}')
    device = torch.device(device)
    check_model(model, profile.model_kwargs().get("num_classes", 10))  # before any work
    if resume_from is not None:
        check_resume(resume_from, profile, seed, model)
    files = _RunFiles.choose(checkpoint_path, resume_from)
    arch = architecture_of(model, profile.model_kwargs())  # what its checkpoint records
    seed_everything(seed)
    if profile.channels_last:
        place_model(model, device)
    else:
        model.to(device)
    setup = TrainingSetup.create(model, profile, len(train), device, seed)
    history, best = History(), copy.deepcopy(model.state_dict())
    if resume_from is not None:
        history, best = _resume(resume_from, model, train, setup, profile, verbose)
    run = _RunLog(model, profile, seed, setup, train, history, files, _validation_id(val), arch)
    say = print if verbose else (lambda _line: None)
    steps: list[Step] = []
    started = time.perf_counter()
    bar = None
    try:
        for step in training_steps(model, train, setup, device=device,
                                   epochs=range(len(history.epoch) + 1, profile.epochs + 1)):
            if bar is None:  # a progress bar per epoch (only where someone watches)
                bar = tqdm(total=step.batches, desc=f"epoch {step.epoch}", leave=False,
                           disable=None if verbose else True, mininterval=1.0)
            steps.append(step)
            bar.update()
            if verbose and (step.batch % 100 == 0 or step.epoch_done):
                bar.write(run.train_line(step))
            stop = on_step is not None and on_step(step)
            if step.epoch_done:
                bar.close()
                bar = None
                seconds = time.perf_counter() - started
                if not all_finite(model):
                    history.stopped, history.stop_reason = True, "diverged"
                    say(f"Training diverged in epoch {step.epoch}: the weights are no longer "
                        "numbers (NaN or infinity). Stopped; lower the learning rate.")
                    break
                result = evaluate(model, val)
                if history.record_epoch(step.epoch, steps, seconds, result,
                                        keep_last=keep == "last"):
                    best = copy.deepcopy(model.state_dict())
                say(f"{result.log_line('Validation set')}  [epoch {step.epoch}: {seconds:.1f} s]")
                run.save(best)
                stop = (on_epoch is not None and on_epoch(history)) or stop
                steps, started = [], time.perf_counter()
            if stop:
                history.stopped, history.stop_reason = True, "callback"
                break
    except KeyboardInterrupt as exc:  # Ctrl-C, Jupyter's stop button, or SIGTERM
        history.stopped = True
        history.stop_reason = "terminated" if isinstance(exc, Terminated) else "interrupted"
        say(f"Interrupted after {len(history.epoch)} finished epoch(s)."
            + (f" Keeping the best model so far (epoch {history.best_epoch})."
               if history.epoch else " Nothing was saved."))
    finally:
        if bar is not None:
            bar.close()
    if history.epoch and run.saved_epochs != len(history.epoch) and not history.diverged:
        run.save(best)  # an epoch finished but was not saved yet (or a finished run resumed)
    try:
        history.saved_to = run.finish(say)
    except KeyboardInterrupt:  # a second Ctrl-C while the files are put in place
        history.saved_to = None if run.files.own is None else str(run.files.own)
        say(f"Interrupted while saving: this run's model is in {history.saved_to}.")
        raise
    model.load_state_dict(best)
    return history


def all_finite(model: nn.Module) -> bool:
    """Whether every floating-point weight and buffer of ``model`` is a finite number."""
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values()
               if t.is_floating_point())


def _validation_id(val: LabelledBatches) -> str:
    """A short fingerprint of the validation images and labels: two runs' accuracies can be
    compared only when they were measured on the same images."""
    sha = hashlib.sha256()
    for images, labels in val:
        sha.update(images.detach().cpu().contiguous().numpy().tobytes())
        sha.update(labels.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()[:16]


@dataclass
class _RunFiles:
    """Where a run's checkpoint goes. ``asked`` is the file the caller named; ``own`` is the
    file this run writes: ``asked`` itself when nothing is there yet or when the run resumes
    from it, else a free name beside it (``model.run2.pt``), so that the model already there
    is replaced only at the end, and only by a better one."""

    asked: Path | None
    own: Path | None

    @classmethod
    def choose(cls, asked: str | os.PathLike | None, resume_from: str | os.PathLike | None
               ) -> _RunFiles:
        if asked is None:
            return cls(None, None)
        asked = Path(asked)
        real = resolve_target(asked)  # not a folder, FIFO or device: refused before any work
        ensure_writable_folder(real.parent)  # fail now, not after an epoch
        if not real.exists() or (resume_from is not None and Path(resume_from).exists()
                                 and os.path.samefile(real, resume_from)):
            return cls(asked, asked)
        if resume_from is not None and Path(resume_from).is_file():
            return cls(asked, Path(resume_from))  # the interrupted run's own file goes on
        return cls(asked, free_name_beside(real))  # beside the real file: same disk


def free_name_beside(path: Path) -> Path:
    """``model.run2.pt``, ``model.run3.pt``, ...: the first name beside ``path`` not taken."""
    for number in itertools.count(2):
        candidate = path.with_name(f"{path.stem}.run{number}{path.suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class _RunLog:
    """The parts of ``fit`` that are bookkeeping: log lines and checkpoints."""

    model: nn.Module
    profile: Profile
    seed: int
    setup: TrainingSetup
    train: Batches
    history: History
    files: _RunFiles
    validation: str  # fingerprint of the validation images
    arch: tuple[str | None, dict]  # what rebuilds the model (None: a network of your own)
    saved_epochs: int = -1  # the number of finished epochs in the file written last (-1: none)

    @property
    def saved(self) -> bool:
        """Whether this run has written its checkpoint."""
        return self.saved_epochs >= 0

    def train_line(self, step: Step) -> str:
        """PyTorch's MNIST example's progress line, e.g.
        ``Train Epoch: 1 [12800/55000 (23%)]\\tLoss: 0.140212``."""
        dataset = getattr(self.train, "dataset", None)
        total = len(dataset) if dataset is not None else step.batches * step.images
        seen = min((step.batch - 1) * getattr(self.train, "batch_size", step.images)
                   + step.images, total)
        return (f"Train Epoch: {step.epoch} [{seen}/{total} "
                f"({100 * step.batch / step.batches:.0f}%)]\tLoss: {step.loss:.6f}")

    def save(self, best: dict) -> None:
        """Write the run's checkpoint at the end of an epoch: the best weights, and what it
        takes to resume from exactly this point."""
        if self.files.own is None:
            return
        h, setup = self.history, self.setup
        shuffle = getattr(self.train, "generator", None)
        save_checkpoint(
            self.files.own, best, arch=self.arch[0], arch_kwargs=self.arch[1],
            model_class=type(self.model).__name__,
            metadata={"profile": self.profile.to_dict(), "seed": self.seed,
                      "num_classes": self.profile.model_kwargs().get("num_classes", 10),
                      "epochs": len(h.epoch), "best_epoch": h.best_epoch,
                      "val_accuracy": h.best_val_accuracy, "validation": self.validation,
                      "history": h.to_dict()},
            resume={"model": self.model.state_dict(), "epoch": len(h.epoch),
                    "planned_epochs": self.profile.epochs, "steps_per_epoch": len(self.train),
                    "optimizer": setup.optimizer.state_dict(),
                    "scheduler": setup.scheduler.state_dict(),
                    "scaler": setup.speedups.scaler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "augment_rng": None if setup.augment is None
                    else setup.augment.get_state(),
                    "shuffle_rng": None if shuffle is None else shuffle.get_state()})
        self.saved_epochs = len(h.epoch)

    def finish(self, say: Callable[[str], None]) -> str | None:
        """At the end of the run: if it wrote beside a model already there, replace that model
        only when this run's is at least as good on the same validation images. Returns the
        file that holds this run's model (None: nothing was saved)."""
        asked, own = self.files.asked, self.files.own
        if asked is None or own is None or not self.saved:  # no file named: both None
            if asked is not None and asked.exists():
                say(f"{asked} was left as it was.")
            return None
        if own == asked:
            return str(own)
        ours = self.history.best_val_accuracy
        theirs = _comparable_accuracy(asked, self.validation)
        if theirs is not None and ours >= theirs:
            real = resolve_target(asked)
            os.chmod(own, stat.S_IMODE(real.stat().st_mode))  # the replaced file's permissions
            os.replace(own, real)
            say(f"This run's model (validation {100 * ours:.2f}%) replaced the one in {asked} "
                f"({100 * theirs:.2f}%).")
            return str(asked)
        why = ("it was better on the same validation images "
               f"({100 * theirs:.2f}% against {100 * ours:.2f}%)" if theirs is not None else
               "it cannot be compared with this run's (another validation set, or not a "
               "checkpoint of this version)")
        say(f"Kept the model in {asked}: {why}. This run's model is in {own}; move it over "
            f"{asked} yourself if you want it there.")
        return str(own)


def _comparable_accuracy(path: Path, validation: str) -> float | None:
    """The validation accuracy of the checkpoint at ``path`` if it was measured on the
    images with fingerprint ``validation``, else None."""
    try:
        meta = read_checkpoint(path)["metadata"]
    except (CheckpointError, OSError):
        return None
    value = meta.get("val_accuracy")
    if meta.get("validation") != validation or not isinstance(value, float):
        return None
    return value


#: Profile fields that do not change what training computes (so a resume may differ in them).
_NOT_TRAINING = {"name", "eval_limit", "imagefolder_limit"}


def check_resume(path: str | os.PathLike, profile: Profile, seed: int,
                 model: nn.Module | None = None) -> None:
    """Refuse, before any work, to resume the run in ``path`` with another plan: another
    network (``model``, or without it ``profile.arch``), hyperparameters, number of epochs or
    seed would not continue that run."""
    payload = read_checkpoint(path)
    state, meta = payload.get("resume"), payload.get("metadata", {})
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds no training state to resume from.")
    trained = model_class_of(payload)
    if model is not None and type(model).__name__ != trained:
        raise CheckpointError(f"{path}: that run trained a {trained}, not a "
                              f"{type(model).__name__}: resume it with a fresh {trained}().")
    if model is None and payload["arch"] is None:
        raise CheckpointError(f"{path}: that run trained a network of your own, a {trained}: "
                              f"resume it in Python, fit({trained}(), ..., resume_from=path).")
    if model is None and payload["arch"] != profile.arch:
        raise CheckpointError(f"{path}: was trained as {payload['arch']!r}, not "
                              f"{profile.arch!r}: resume with the profile it was trained with.")
    if state.get("planned_epochs") != profile.epochs:
        raise CheckpointError(
            f"{path}: that run was planned for {state.get('planned_epochs')} epoch(s) (its "
            f"learning-rate schedule ends there), not {profile.epochs}. Resuming continues the "
            "same plan; to train for longer, start a new run without --resume.")
    if meta.get("seed") != seed:
        raise CheckpointError(f"{path}: that run used seed {meta.get('seed')!r}, not {seed}: "
                              f"resume with --seed {meta.get('seed')!r} (or leave --seed out).")
    stored = meta.get("profile") if isinstance(meta.get("profile"), dict) else {}
    ours = profile.to_dict()
    differ = sorted(k for k in ours if k not in _NOT_TRAINING and k in stored
                    and stored[k] != ours[k])
    if differ:
        shown = ", ".join(f"{k} {stored[k]!r} (now {ours[k]!r})" for k in differ)
        raise CheckpointError(f"{path}: that run was trained with {shown}: resume with the "
                              "same settings, or start a new run without --resume.")


def _resume(path: str | os.PathLike, model: nn.Module, train: Batches, setup: TrainingSetup,
            profile: Profile, verbose: bool) -> tuple[History, dict]:
    """Restore an interrupted run's weights, optimizer, schedule and random streams, as they
    were at the end of its last finished epoch."""
    payload = read_checkpoint(path)
    state = payload["resume"]
    if state.get("steps_per_epoch") != len(train):
        raise CheckpointError(
            f"{path}: that run had {state.get('steps_per_epoch')} batches per epoch, this one "
            f"has {len(train)}: resume with the same profile and data.")
    try:
        model.load_state_dict(state["model"])
        setup.optimizer.load_state_dict(state["optimizer"])
        setup.scheduler.load_state_dict(state["scheduler"])
        setup.speedups.scaler.load_state_dict(state["scaler"])
        if state.get("torch_rng") is not None:
            torch.set_rng_state(state["torch_rng"])
        if setup.augment is not None and state.get("augment_rng") is not None:
            setup.augment.set_state(state["augment_rng"])
        shuffle = getattr(train, "generator", None)
        if shuffle is not None and state.get("shuffle_rng") is not None:
            shuffle.set_state(state["shuffle_rng"])
        history = History(**payload["metadata"]["history"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: its training state does not fit this run "
                              f"({type(exc).__name__}: {one_line(exc)}).") from None
    history.stopped, history.stop_reason = False, None
    if verbose:
        done = len(history.epoch)
        print(f"Resuming from {path} after epoch {done} of {profile.epochs}."
              + (" That run had finished: nothing left to train." if done >= profile.epochs
                 else ""))
    return history, payload["state_dict"]
