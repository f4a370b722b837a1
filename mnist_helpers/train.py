"""The training loop: one epoch, evaluation, and ``fit`` which ties them together.

``fit`` logs the seeds' lines (``Train Epoch: 1 [58000/60000 (97%)]\\tLoss: 0.303106`` and
``Validation set: Average loss: ..., Accuracy: .../... (..%)``), shows a progress bar,
keeps the weights of the best epoch (by validation accuracy, never the test set), writes a
checkpoint after every epoch atomically, survives an interrupt (Jupyter's stop button)
with the best model so far, and can resume from a checkpoint.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .augment import augment_batch
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .data import MNISTTensors, TensorBatches, load_tensors, split_indices
from .device import place_model, seed_everything
from .models import build_model
from .profiles import Profile, get_profile

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class EvalResult:
    """Summed loss and correct count over a dataset."""

    loss: float  # mean cross-entropy per image
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        """Fraction correct, 0..1."""
        return self.correct / self.total if self.total else 0.0

    def log_line(self, name: str = "Test set") -> str:
        """The seeds' summary line, e.g. ``Test set: Average loss: 0.1095, Accuracy: ...``."""
        return (
            f"{name}: Average loss: {self.loss:.4f}, "
            f"Accuracy: {self.correct}/{self.total} ({100 * self.accuracy:.2f}%)"
        )


@dataclass
class History:
    """What happened during ``fit``, epoch by epoch."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)  # training time, evaluation apart
    step_loss: list[float] = field(default_factory=list)  # every batch's loss
    best_epoch: int = 0
    best_val_accuracy: float = 0.0
    interrupted: bool = False

    def to_dict(self) -> dict:
        """Plain lists and numbers (stored in checkpoints)."""
        return asdict(self)


def make_optimizer(
    name: str, params: Iterable[nn.Parameter], lr: float, momentum: float = 0.9,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """``sgd`` (with Nesterov momentum, as the seeds use SGD), ``adam``, ``adamw``, or
    ``adadelta`` (as pytorch/examples' mnist trains the seeds' network)."""
    key = name.lower()
    if key == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay)
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0,
                               weight_decay=weight_decay)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"Unknown optimizer {name!r}; choose 'sgd', 'adam', 'adamw' or 'adadelta'.")


def make_scheduler(
    optimizer: torch.optim.Optimizer, max_lr: float, total_steps: int
) -> torch.optim.lr_scheduler.OneCycleLR:
    """One-cycle schedule: warm up to ``max_lr`` over the first 25% of steps, then anneal.

    The warm-up lasts at least 1.5 steps: OneCycleLR divides by zero when it is exactly one,
    which 25% would give for a 4-step run.
    """
    total_steps = max(total_steps, 1)
    pct_start = min(max(0.25, 1.5 / total_steps), 0.9)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start
    )


@torch.no_grad()
def evaluate(model: nn.Module, batches: Batches, device: torch.device | str | None = None
             ) -> EvalResult:
    """Mean cross-entropy and accuracy of ``model`` over ``batches`` (eval mode, no grad)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum, correct, total = 0.0, 0, 0
    for images, labels in batches:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
        total += labels.numel()
    model.train(was_training)
    return EvalResult(loss_sum / max(total, 1), int(correct), total)


def _dataset_size(batches: Batches) -> int:
    dataset = getattr(batches, "dataset", None)
    return len(dataset) if dataset is not None else 0


def train_one_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    *,
    epoch: int,
    device: torch.device | str,
    label_smoothing: float = 0.0,
    augment_generator: torch.Generator | None = None,
    log_interval: int = 100,
    progress: bool = True,
    log: Callable[[str], None] = print,
    step_losses: list[float] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> float:
    """One pass over ``batches``; returns the mean training loss.

    With ``augment_generator`` each batch is randomly rotated/shifted/scaled first.
    Every ``log_interval`` batches (and at the last one) a ``Train Epoch: ...`` line is logged;
    ``on_step(batch_size)`` is called after every optimizer step (the benchmark uses it).
    """
    model.train()
    n_images = _dataset_size(batches)
    n_batches = len(batches)  # type: ignore[arg-type]
    loss_sum, seen = 0.0, 0
    bar = tqdm(batches, total=n_batches, desc=f"epoch {epoch}", leave=False,
               disable=not progress, mininterval=1.0)
    for b, (images, labels) in enumerate(bar):
        images, labels = images.to(device), labels.to(device)
        if augment_generator is not None:
            images = augment_batch(images, generator=augment_generator)
        logits = model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        value = loss.item()
        loss_sum += value * len(labels)
        seen += len(labels)
        if step_losses is not None:
            step_losses.append(value)
        if on_step is not None:
            on_step(len(labels))
        if log_interval and (b % log_interval == log_interval - 1 or b == n_batches - 1):
            line = (f"Train Epoch: {epoch} [{seen}/{n_images} ({100 * (b + 1) / n_batches:.0f}%)]"
                    f"\tLoss: {value:.6f}")
            if progress:
                bar.write(line)
            else:
                log(line)
    bar.close()
    return loss_sum / max(seen, 1)


def fit(
    model: nn.Module,
    train_batches: Batches,
    val_batches: Batches,
    profile: Profile,
    *,
    device: torch.device | str,
    seed: int = 0,
    checkpoint_path: str | os.PathLike | None = None,
    resume_from: str | os.PathLike | None = None,
    arch_kwargs: dict | None = None,
    log_interval: int = 100,
    progress: bool = True,
    log: Callable[[str], None] = print,
    on_epoch_end: Callable[[History], None] | None = None,
) -> History:
    """Train ``model`` with the hyperparameters of ``profile``; returns the :class:`History`.

    After every epoch the model is evaluated on ``val_batches``; the best weights so far are
    kept, in memory and (with ``checkpoint_path``) on disk together with everything needed to
    resume. On ``KeyboardInterrupt`` training stops cleanly and the model holds the best
    weights seen. ``resume_from`` continues an earlier run from its last finished epoch.
    """
    seed_everything(seed)
    place_model(model, device)
    if arch_kwargs is None:
        arch_kwargs = profile.model_kwargs()
    optimizer = make_optimizer(profile.optimizer, model.parameters(), profile.lr,
                               profile.momentum, profile.weight_decay)
    steps_per_epoch = len(train_batches)  # type: ignore[arg-type]
    scheduler = make_scheduler(optimizer, profile.lr, profile.epochs * steps_per_epoch)
    augment_generator = torch.Generator().manual_seed(seed + 1) if profile.augment else None
    history = History()
    best_state = copy.deepcopy(model.state_dict())
    start_epoch = 1

    if resume_from is not None:
        payload = read_checkpoint(resume_from, device)
        state = payload.get("resume")
        if state is None:
            raise ValueError(f"{resume_from} holds no training state to resume from.")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = History(**state["history"])
        history.interrupted = False
        best_state = payload["state_dict"]
        start_epoch = state["epoch"] + 1
        log(f"Resuming from {resume_from} after epoch {state['epoch']}.")

    def save(epoch: int) -> None:
        if checkpoint_path is None:
            return
        metadata = {
            "profile": profile.to_dict(),
            "seed": seed,
            "epochs": epoch,
            "best_epoch": history.best_epoch,
            "val_accuracy": history.best_val_accuracy,
            "history": history.to_dict(),
        }
        live = copy.deepcopy(model.state_dict())
        model.load_state_dict(best_state)
        save_checkpoint(
            checkpoint_path, model, arch=profile.arch, arch_kwargs=arch_kwargs,
            metadata=metadata,
            resume={"model": live, "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": epoch,
                    "history": history.to_dict()},
        )
        model.load_state_dict(live)

    try:
        for epoch in range(start_epoch, profile.epochs + 1):
            started = time.perf_counter()
            train_loss = train_one_epoch(
                model, train_batches, optimizer, scheduler, epoch=epoch, device=device,
                label_smoothing=profile.label_smoothing, augment_generator=augment_generator,
                log_interval=log_interval, progress=progress, log=log,
                step_losses=history.step_loss,
            )
            seconds = time.perf_counter() - started
            result = evaluate(model, val_batches, device)
            history.epoch.append(epoch)
            history.train_loss.append(train_loss)
            history.val_loss.append(result.loss)
            history.val_accuracy.append(result.accuracy)
            history.train_seconds.append(seconds)
            if result.accuracy >= history.best_val_accuracy:
                history.best_epoch, history.best_val_accuracy = epoch, result.accuracy
                best_state = copy.deepcopy(model.state_dict())
            log(f"{result.log_line('Validation set')}  [epoch {epoch}: {seconds:.1f} s]")
            save(epoch)
            if on_epoch_end is not None:
                on_epoch_end(history)
    except KeyboardInterrupt:
        history.interrupted = True
        log(f"Interrupted. Keeping the best model so far (epoch {history.best_epoch}, "
            f"validation accuracy {100 * history.best_val_accuracy:.2f}%).")
    model.load_state_dict(best_state)
    return history


@dataclass
class TrainingData:
    """The three splits of a run, as batch iterables."""

    train: TensorBatches
    val: TensorBatches
    test: TensorBatches


def prepare_training_data(
    profile: Profile,
    device: torch.device | str,
    *,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    eval_batch_size: int = 1000,
) -> TrainingData:
    """The fast path for a profile: train/validation split of the training set, plus test.

    The validation images are held out of training (a deterministic split) and are what
    ``fit`` picks the best epoch by; the test set is only for the final figure.
    """
    full_train: MNISTTensors = load_tensors(True, data_dir, device=device)
    test: MNISTTensors = load_tensors(False, data_dir, device=device)
    train_idx, val_idx = split_indices(len(full_train), profile.val_size, seed=0)
    if profile.train_limit is not None:
        train_idx = train_idx[: profile.train_limit]
    if profile.eval_limit is not None:
        test = test.subset(slice(0, profile.eval_limit))
    return TrainingData(
        train=TensorBatches(full_train.subset(train_idx), profile.batch_size, shuffle=True,
                            seed=seed),
        val=TensorBatches(full_train.subset(val_idx), eval_batch_size),
        test=TensorBatches(test, eval_batch_size),
    )


def load_or_train(
    path: str | os.PathLike,
    device: torch.device | str,
    *,
    data_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> tuple[nn.Module, dict]:
    """Load the checkpoint at ``path``; if there is none, say so and train a quick one there.

    Lets a notebook stand on its own when an earlier notebook has not been run.
    """
    if not Path(path).is_file():
        quick = get_profile("quick")
        log(f"No checkpoint at {path} (run notebook 03 for the real one). "
            f"Training a quick one now ({quick.epochs} epoch on {quick.train_limit:,} images).")
        data = prepare_training_data(quick, device, data_dir=data_dir)
        model = build_model(quick.arch, **quick.model_kwargs())
        fit(model, data.train, data.val, quick, device=device, checkpoint_path=path,
            progress=False, log_interval=0, log=log)
    return load_checkpoint(path, device)
