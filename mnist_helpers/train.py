"""Training: the loop, one optimizer step at a time, and ``fit``, which adds what a real run
needs around it.

:func:`training_steps` is the loop every caller shares (``fit``, the benchmark, the
experiments and the playground widget). It is a generator: it yields a :class:`Step` after
each optimizer step, so a caller watches training by reading the steps and stops it by
leaving its ``for`` loop. :func:`fit` adds validation after every epoch, keeps the best
epoch's weights, writes a checkpoint atomically after every epoch, survives Jupyter's stop
button and resumes an interrupted run.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .augment import augment_batch
from .checkpoint import read_checkpoint, save_checkpoint
from .device import GpuSettings, gpu_settings, place_model, seed_everything, seeded_generator
from .errors import CheckpointError, ConfigError
from .evaluate import EvalResult, evaluate
from .files import ensure_writable_folder
from .models import ARCHITECTURES
from .profiles import Profile

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def make_optimizer(profile: Profile, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """``sgd`` (with Nesterov momentum), ``adam``, ``adamw``, or ``adadelta`` (as PyTorch's
    MNIST example trains its network)."""
    lr, decay = profile.lr, profile.weight_decay
    if profile.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=profile.momentum,
                               nesterov=profile.momentum > 0, weight_decay=decay)
    if profile.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if profile.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    return torch.optim.Adadelta(params, lr=lr, weight_decay=decay)


def make_scheduler(profile: Profile, optimizer: torch.optim.Optimizer, steps_per_epoch: int
                   ) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule, stepped once per optimizer step.

    ``onecycle``: warm up from ``lr/25`` to ``lr`` over the first 25% of the steps (at least
    1.5 steps: OneCycleLR divides by zero at exactly one), then anneal to almost zero. The
    momentum is left as the profile sets it. ``steplr``: multiply the rate by 0.7 after every
    epoch, as PyTorch's MNIST example does.
    """
    total = profile.epochs * steps_per_epoch
    if profile.schedule == "steplr":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=steps_per_epoch, gamma=0.7)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=profile.lr, total_steps=total,
        pct_start=min(max(0.25, 1.5 / total), 0.9), cycle_momentum=False)


def learning_rates(profile: Profile, steps_per_epoch: int) -> list[float]:
    """The learning rate of every step of a run of ``profile``, as its schedule plans it."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=profile.lr)
    scheduler = make_scheduler(profile, optimizer, steps_per_epoch)
    rates = []
    for _ in range(profile.epochs * steps_per_epoch):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@dataclass
class TrainingSetup:
    """Everything that changes the weights besides the model and the data, made once per run
    by :meth:`create`: the optimizer, the learning-rate schedule, the GPU settings (and the
    gradient scaler of mixed precision), label smoothing and augmentation."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    gpu: GpuSettings
    label_smoothing: float
    augment: torch.Generator | None  # the random numbers of augmentation, or None: no augmentation

    @classmethod
    def create(cls, model: nn.Module, profile: Profile, steps_per_epoch: int,
               device: torch.device, seed: int = 0) -> TrainingSetup:
        """Optimizer, schedule, GPU settings and augmentation for ``profile``."""
        optimizer = make_optimizer(profile, model.parameters())
        gpu = gpu_settings(device, profile.mixed_precision)
        return cls(optimizer=optimizer,
                   scheduler=make_scheduler(profile, optimizer, steps_per_epoch),
                   scaler=gpu.grad_scaler(device), gpu=gpu,
                   label_smoothing=profile.label_smoothing,
                   augment=seeded_generator(seed + 1) if profile.augment else None)


@dataclass
class Step:
    """One optimizer step, as :func:`training_steps` reports it."""

    epoch: int  # 1, 2, ...
    batch: int  # 1 .. batches
    batches: int  # batches per epoch
    images: int  # images in this batch
    lr: float  # the learning rate this step used
    loss_tensor: torch.Tensor = field(repr=False)  # the batch's mean loss (on the device)
    correct_tensor: torch.Tensor = field(repr=False)  # how many it got right (on the device)

    @property
    def loss(self) -> float:
        """The batch's mean training loss (reading it waits for a GPU to finish the step)."""
        return self.loss_tensor.item()

    @property
    def accuracy(self) -> float:
        """The share of the batch the model got right (before this step's update)."""
        return self.correct_tensor.item() / self.images

    @property
    def epoch_done(self) -> bool:
        """Whether this was the last step of its epoch."""
        return self.batch == self.batches


def training_steps(model: nn.Module, batches: Batches, setup: TrainingSetup, *,
                   epochs: Iterable[int], device: torch.device | str) -> Iterator[Step]:
    """The training loop: for every batch of every epoch, forward, loss, backward, optimizer
    step and schedule step, then yield a :class:`Step`. Leave the ``for`` loop to stop."""
    device = torch.device(device)
    n_batches = len(batches)  # type: ignore[arg-type]
    with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled,
                                    benchmark=setup.gpu.cudnn_benchmark):
        for epoch in epochs:
            model.train()
            for batch, (images, labels) in enumerate(batches, start=1):
                images = images.to(device, non_blocking=setup.gpu.non_blocking)
                labels = labels.to(device, non_blocking=setup.gpu.non_blocking)
                if setup.augment is not None:
                    images = augment_batch(images, generator=setup.augment)
                with setup.gpu.autocast(device):
                    logits = model(images)
                    loss = F.cross_entropy(logits, labels,
                                           label_smoothing=setup.label_smoothing)
                setup.optimizer.zero_grad(set_to_none=True)
                setup.scaler.scale(loss).backward()
                setup.scaler.step(setup.optimizer)
                setup.scaler.update()
                lr = setup.optimizer.param_groups[0]["lr"]
                setup.scheduler.step()
                yield Step(epoch, batch, n_batches, len(labels), lr, loss.detach(),
                           (logits.argmax(1) == labels).sum())


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
    stopped: bool = False  # ended early: by Jupyter's stop button or a callback

    def to_dict(self) -> dict:
        """Plain lists and numbers (stored in checkpoints)."""
        return asdict(self)

    def record_epoch(self, epoch: int, steps: list[Step], seconds: float, val: EvalResult
                     ) -> bool:
        """Add an epoch's figures (one wait for the device, not one per step); return whether
        it is the best epoch so far."""
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
        if val.accuracy >= self.best_val_accuracy or val.total == 0:  # ties: the later epoch
            self.best_epoch, self.best_val_accuracy = epoch, val.accuracy
            return True
        return False


def fit(model: nn.Module, train: Batches, val: Batches, profile: Profile, *,
        device: torch.device | str, seed: int = 0,
        checkpoint_path: str | os.PathLike | None = None,
        resume_from: str | os.PathLike | None = None,
        on_step: Callable[[Step], bool | None] | None = None,
        on_epoch: Callable[[History], bool | None] | None = None,
        verbose: bool = True) -> History:
    """Train ``model`` with ``profile``'s hyperparameters; return the :class:`History`.

    After every epoch the model is measured on ``val``, the best weights so far are kept and
    (with ``checkpoint_path``) saved with all it takes to resume. ``on_step(step)`` and
    ``on_epoch(history)`` are called as training goes; either returning True stops it, as
    Jupyter's stop button does. Either way ``model`` ends with the best epoch's weights.
    ``resume_from`` continues an interrupted run of the same profile from its last epoch.
    """
    device = torch.device(device)
    if not isinstance(model, ARCHITECTURES[profile.arch]):
        raise ConfigError(f"The model is a {type(model).__name__}, but the profile trains "
                          f"{profile.arch!r}: build it with build_model(profile.arch, ...).")
    if checkpoint_path is not None:
        ensure_writable_folder(Path(checkpoint_path).parent)  # fail now, not after an epoch
    seed_everything(seed)
    if profile.channels_last:
        place_model(model, device)
    else:
        model.to(device)
    setup = TrainingSetup.create(model, profile, len(train), device, seed)  # type: ignore[arg-type]
    history, best = History(), copy.deepcopy(model.state_dict())
    if resume_from is not None:
        history, best = _resume(resume_from, model, train, setup, profile, verbose)
    run = _Run(model, profile, seed, setup, train, history, checkpoint_path)
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
                result = evaluate(model, val)
                if history.record_epoch(step.epoch, steps, seconds, result):
                    best = copy.deepcopy(model.state_dict())
                say(f"{result.log_line('Validation set')}  [epoch {step.epoch}: {seconds:.1f} s]")
                run.save(best)
                stop = (on_epoch is not None and on_epoch(history)) or stop
                steps, started = [], time.perf_counter()
            if stop:
                history.stopped = True
                break
    except KeyboardInterrupt:
        history.stopped = True
        say(f"Interrupted. Keeping the best model so far (epoch {history.best_epoch}).")
    finally:
        if bar is not None:
            bar.close()
    run.save(best, only_if_unsaved=True)
    model.load_state_dict(best)
    return history


@dataclass
class _Run:
    """The parts of ``fit`` that are bookkeeping: log lines and checkpoints."""

    model: nn.Module
    profile: Profile
    seed: int
    setup: TrainingSetup
    train: Batches
    history: History
    checkpoint_path: str | os.PathLike | None
    saved: bool = False

    def train_line(self, step: Step) -> str:
        """PyTorch's MNIST example's progress line, e.g.
        ``Train Epoch: 1 [12800/55000 (23%)]\\tLoss: 0.140212``."""
        dataset = getattr(self.train, "dataset", None)
        total = len(dataset) if dataset is not None else step.batches * step.images
        seen = min((step.batch - 1) * getattr(self.train, "batch_size", step.images)
                   + step.images, total)
        return (f"Train Epoch: {step.epoch} [{seen}/{total} "
                f"({100 * step.batch / step.batches:.0f}%)]\tLoss: {step.loss:.6f}")

    def save(self, best: dict, only_if_unsaved: bool = False) -> None:
        """Write the checkpoint: the best weights, and what it takes to resume."""
        if self.checkpoint_path is None or (only_if_unsaved and self.saved):
            return
        h, setup = self.history, self.setup
        shuffle = getattr(self.train, "generator", None)
        save_checkpoint(
            self.checkpoint_path, best, arch=self.profile.arch,
            arch_kwargs=self.profile.model_kwargs(),
            metadata={"profile": self.profile.to_dict(), "seed": self.seed,
                      "epochs": len(h.epoch), "best_epoch": h.best_epoch,
                      "val_accuracy": h.best_val_accuracy, "history": h.to_dict()},
            resume={"model": self.model.state_dict(), "epoch": len(h.epoch),
                    "planned_epochs": self.profile.epochs, "steps_per_epoch": len(self.train),
                    "optimizer": setup.optimizer.state_dict(),
                    "scheduler": setup.scheduler.state_dict(),
                    "scaler": setup.scaler.state_dict(),
                    "augment_rng": None if setup.augment is None
                    else setup.augment.get_state(),
                    "shuffle_rng": None if shuffle is None else shuffle.get_state()})
        self.saved = True


def _resume(path: str | os.PathLike, model: nn.Module, train: Batches, setup: TrainingSetup,
            profile: Profile, verbose: bool) -> tuple[History, dict]:
    """Restore an interrupted run's weights, optimizer, schedule and random streams."""
    payload = read_checkpoint(path)
    state = payload.get("resume")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds no training state to resume from.")
    if payload["arch"] != profile.arch:
        raise CheckpointError(f"{path}: was trained as {payload['arch']!r}, not "
                              f"{profile.arch!r}: resume with the profile it was trained with.")
    if state.get("planned_epochs") != profile.epochs:
        raise CheckpointError(
            f"{path}: that run was planned for {state.get('planned_epochs')} epoch(s) (its "
            f"learning-rate schedule ends there), not {profile.epochs}. Resuming continues the "
            "same plan; to train for longer, start a new run without --resume.")
    if state.get("steps_per_epoch") != len(train):  # type: ignore[arg-type]
        raise CheckpointError(
            f"{path}: that run had {state.get('steps_per_epoch')} batches per epoch, this one "
            f"has {len(train)}: resume with the same profile and data.")  # type: ignore[arg-type]
    try:
        model.load_state_dict(state["model"])
        setup.optimizer.load_state_dict(state["optimizer"])
        setup.scheduler.load_state_dict(state["scheduler"])
        setup.scaler.load_state_dict(state["scaler"])
        if setup.augment is not None and state.get("augment_rng") is not None:
            setup.augment.set_state(state["augment_rng"])
        shuffle = getattr(train, "generator", None)
        if shuffle is not None and state.get("shuffle_rng") is not None:
            shuffle.set_state(state["shuffle_rng"])
        history = History(**payload["metadata"]["history"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: its training state does not fit this run "
                              f"({type(exc).__name__}: {exc}).") from None
    history.stopped = False
    if verbose:
        done = len(history.epoch)
        print(f"Resuming from {path} after epoch {done} of {profile.epochs}."
              + (" That run had finished: nothing left to train." if done >= profile.epochs
                 else ""))
    return history, payload["state_dict"]
