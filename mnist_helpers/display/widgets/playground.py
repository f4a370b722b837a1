"""The hyperparameter playground: pick settings, press Train, watch loss and accuracy move."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ...data import TensorBatches, TrainingData
from ...loop import Step
from ...models import ARCHITECTURES
from ...profiles import Profile, get_profile
from ...recipe import prepare_training_data, train_model
from ...train import History
from .common import Displayable, figure_png, html_text, report_errors, show_error


@dataclass
class LiveCurves:
    """What the playground's figure shows: every batch's training loss and accuracy, and the
    validation loss and accuracy after every epoch."""

    batches_per_epoch: int = 1
    epochs: int = 1  # how many the run is for (the x axis spans them all)
    step_loss: list[float] = field(default_factory=list)
    step_accuracy: list[float] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def plot_live_curves(curves: LiveCurves, title: str = "") -> Figure:
    """Loss (left) and accuracy (right), x axis in epochs; made without pyplot, so it can be
    drawn from a background thread and never shows up as a stray notebook output."""
    fig = Figure(figsize=(9.5, 3.1), dpi=100)
    ax1, ax2 = fig.subplots(1, 2)
    n = len(curves.step_loss)
    steps = np.arange(1, n + 1) / max(curves.batches_per_epoch, 1)
    if n:
        marker = "." if n < 30 else None  # a few batches are dots, not an invisible line
        ax1.plot(steps, curves.step_loss, lw=0.8, alpha=0.7, marker=marker,
                 label="training (per batch)")
        accuracy = np.cumsum(np.asarray(curves.step_accuracy, dtype=float))
        window = np.minimum(np.arange(1, n + 1), 10)
        shifted = np.concatenate([[0.0], accuracy])[np.arange(1, n + 1) - window]
        ax2.plot(steps, 100 * (accuracy - shifted) / window, lw=1.0, alpha=0.8, marker=marker,
                 label="training (mean of the last 10 batches)")
    if curves.epoch:
        ax1.plot(curves.epoch, curves.val_loss, "o-", label="validation (per epoch)")
        ax2.plot(curves.epoch, [100 * a for a in curves.val_accuracy], "o-",
                 color="tab:green", label="validation (per epoch)")
    if not curves.step_loss:
        for ax in (ax1, ax2):
            ax.text(0.5, 0.5, "press Train", ha="center", va="center", transform=ax.transAxes,
                    color="gray")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax1.set_ylim(bottom=0)
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    for ax in (ax1, ax2):
        ax.set_xlim(0, max(curves.epochs, 1))
        ax.grid(alpha=0.3)
        if curves.step_loss:
            ax.legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    # Fixed margins: tight_layout would draw the figure twice, and this one is redrawn often.
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.84, wspace=0.25)
    return fig


BATCH_SIZES = (16, 32, 64, 128, 256, 512)
OPTIMIZERS = ("sgd", "adam", "adamw")
#: A good starting learning rate per optimizer (chosen when the optimizer changes).
SUGGESTED_LR = {"sgd": 0.1, "adam": 0.003, "adamw": 0.003}


def run_summary(history: History) -> str:
    """One line about a finished (or stopped) run."""
    if history.stopped:
        if not history.epoch:
            return ("Stopped before the first epoch ended: the model keeps its starting "
                    "(random) weights.")
        return (f"Stopped after {len(history.epoch)} epoch(s): kept the best model, epoch "
                f"{history.best_epoch} (validation accuracy "
                f"{100 * history.best_val_accuracy:.2f}%).")
    return (f"Finished {len(history.epoch)} epoch(s) in {sum(history.train_seconds):.1f} s: "
            f"best epoch {history.best_epoch}, validation accuracy "
            f"{100 * history.best_val_accuracy:.2f}%.")


class Settings(Displayable):
    """The playground's hyperparameter controls, and the :class:`Profile` they describe."""

    def __init__(self, base: Profile, n_train: int, epochs: int, train_images: int) -> None:
        self.base = base
        style = {"description_width": "110px"}
        wide = widgets.Layout(width="330px")
        self.lr = widgets.FloatLogSlider(value=base.lr, base=10, min=-4, max=0, step=0.1,
                                         readout_format=".4f", description="learning rate",
                                         style=style, layout=wide)
        self.batch_size = widgets.Dropdown(options=sorted({*BATCH_SIZES, base.batch_size}),
                                           value=base.batch_size, description="batch size",
                                           style=style, layout=wide)
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=20, description="epochs",
                                        style=style, layout=wide)
        self.train_images = widgets.IntSlider(
            value=min(train_images, n_train), min=min(500, n_train), max=n_train, step=500,
            description="train images", style=style, layout=wide)
        self.optimizer = widgets.Dropdown(options=list(OPTIMIZERS), value=base.optimizer,
                                          description="optimizer", style=style, layout=wide)
        self.arch = widgets.Dropdown(options=list(ARCHITECTURES), value=base.arch,
                                     description="architecture", style=style, layout=wide)
        self.augment = widgets.Checkbox(value=base.augment, description="augmentation",
                                        style=style, layout=wide)
        self.optimizer.observe(self.optimizer_changed, names="value")
        self.widget = widgets.HBox([
            widgets.VBox([self.lr, self.batch_size, self.epochs, self.train_images]),
            widgets.VBox([self.optimizer, self.arch, self.augment])])

    def optimizer_changed(self, change: dict | None = None) -> None:
        """Set the learning rate to a good start for the new optimizer (SGD wants ~0.1,
        Adam ~0.003)."""
        self.lr.value = SUGGESTED_LR.get(self.optimizer.value, self.lr.value)

    def profile(self) -> Profile:
        """The hyperparameters the widgets show, as a :class:`Profile`."""
        same_arch = self.arch.value == self.base.arch
        return self.base.with_overrides(
            name="playground", lr=float(self.lr.value), batch_size=int(self.batch_size.value),
            epochs=int(self.epochs.value), optimizer=str(self.optimizer.value),
            arch=str(self.arch.value), augment=bool(self.augment.value),
            train_limit=int(self.train_images.value),
            width=self.base.width if same_arch else None)


class Playground(Displayable):
    """Pick hyperparameters, press Train and watch loss and accuracy move as the model learns.

    Each run trains a fresh model on the first ``train images`` of ``data.train`` (MNIST's
    when no ``data`` is given) with :func:`~mnist_helpers.train.fit`, in a background thread,
    and keeps the best epoch's weights in :attr:`model`. Stop sets a flag that ``fit``'s
    ``on_step`` callback returns, which ends the run after the current step.
    """

    def __init__(self, device: torch.device | str, *, data: TrainingData | None = None,
                 base_profile: Profile | None = None,
                 data_dir: str | os.PathLike | None = None, epochs: int = 3,
                 train_images: int = 4_000, seed: int = 0, redraw_seconds: float = 0.5) -> None:
        self.device = torch.device(device)
        self.base_profile = base_profile or get_profile("quick")
        if data is None:
            data = prepare_training_data(self.base_profile.with_overrides(train_limit=None),
                                         self.device, seed=seed, data_dir=data_dir)
        self.data = data
        self.seed = seed
        self.redraw_seconds = redraw_seconds
        self.model: nn.Module | None = None
        self.history: History | None = None
        self.curves = LiveCurves(epochs=epochs)
        self.redraws = 0
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_redraw = 0.0
        self._redraw_lock = threading.Lock()
        self._build_controls(epochs, train_images)

    def _build_controls(self, epochs: int, train_images: int) -> None:
        self.settings = Settings(self.base_profile, len(self.data.train.dataset), epochs,
                                 train_images)
        self.train_button = widgets.Button(description="Train", button_style="success",
                                           icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger",
                                          icon="stop", disabled=True)
        self.status = widgets.HTML(html_text("Ready: choose settings and press Train.",
                                             "mnist-playground-status"))
        self.figure = widgets.Image(value=figure_png(plot_live_curves(self.curves)),
                                    format="png", layout=widgets.Layout(width="760px"))
        self.figure.add_class("mnist-playground-figure")
        self.messages = widgets.Output(layout=widgets.Layout(max_height="160px",
                                                             overflow="auto"))
        self.train_button.add_class("mnist-train")
        self.stop_button.add_class("mnist-stop")
        self.train_button.on_click(report_errors(self.messages, "Train")(lambda _b: self.start()))
        self.stop_button.on_click(report_errors(self.messages, "Stop")(lambda _b: self.stop()))
        buttons = widgets.HBox([self.train_button, self.stop_button, self.status])
        self.widget = widgets.VBox([self.settings.widget, buttons, self.figure, self.messages])
        self.widget.add_class("mnist-playground")

    @property
    def running(self) -> bool:
        """Whether a background run is under way."""
        return self._thread is not None and self._thread.is_alive()

    def train(self) -> History:
        """Train a fresh model with the current settings, in this thread, updating the figure
        as it goes; returns the :class:`History` (``stopped`` when Stop was pressed)."""
        if self.running and threading.current_thread() is not self._thread:
            raise RuntimeError("A run is already going in the background: press Stop (or call "
                               "stop() and join()) first.")
        profile = self.settings.profile()
        train_data = self.data.train.dataset.subset(slice(0, profile.train_limit))
        batches = TensorBatches(train_data, profile.batch_size, shuffle=True, seed=self.seed)
        self.curves = LiveCurves(batches_per_epoch=len(batches), epochs=profile.epochs)
        self.messages.outputs = ()  # the last run's errors
        self._set_status(f"Training {profile.arch} on {len(train_data):,} images "
                         f"({profile.epochs} epoch(s), {profile.optimizer}, lr {profile.lr:.4g})…")
        self._redraw(force=True)
        try:
            trained = train_model(profile, self.device, seed=self.seed,
                                  data=replace(self.data, train=batches),
                                  on_step=self._step_done, on_epoch=self._epoch_done)
        finally:
            self._stop_event.clear()
        self.model, self.history = trained.model, trained.history
        history = trained.history
        self._redraw(force=True)
        self._set_status(run_summary(history))
        return history

    def start(self) -> threading.Thread | None:
        """Start :meth:`train` in a background thread (the Train button). The kernel stays free
        to handle clicks, so Stop works while the model trains. Returns the thread, or
        ``None`` when a run is already going."""
        if self.running:
            return None
        self._stop_event.clear()
        self.train_button.disabled = True
        self.stop_button.disabled = False
        self._thread = threading.Thread(target=self._train_in_background,
                                        name="mnist-playground", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Ask the run to stop after the current step (the Stop button); ``fit`` then keeps
        the best weights so far."""
        if self.running:
            self._stop_event.set()
            self._set_status("Stopping after this batch…")

    def join(self, timeout: float | None = None) -> None:
        """Wait for a background run to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _train_in_background(self) -> None:
        try:
            self.train()
        except Exception as exc:  # noqa: BLE001 - shown in the widget, the thread ends cleanly
            show_error(self.messages, "Training", exc)
            self._set_status("Training failed (see the message below).")
        finally:
            self.train_button.disabled = False
            self.stop_button.disabled = True

    def _step_done(self, step: Step) -> bool:
        """``fit``'s ``on_step``: record the batch and ask for a redraw (``_redraw`` draws at
        most every ``redraw_seconds``); True stops the run."""
        self.curves.step_loss.append(step.loss)
        self.curves.step_accuracy.append(step.accuracy)
        self._redraw()
        return self._stop_event.is_set()

    def _epoch_done(self, history: History) -> bool:
        """``fit``'s ``on_epoch``: show the validation figures; True stops the run."""
        self.curves.epoch = list(history.epoch)
        self.curves.val_loss = list(history.val_loss)
        self.curves.val_accuracy = list(history.val_accuracy)
        epochs = self.curves.epochs
        self._set_status(f"Epoch {history.epoch[-1]}/{epochs}: validation accuracy "
                         f"{100 * history.val_accuracy[-1]:.2f}%"
                         + ("" if history.epoch[-1] == epochs else "…"))
        self._redraw(force=True)
        return self._stop_event.is_set()

    def _redraw(self, force: bool = False) -> None:
        """Draw the figure again: always when ``force``, else at most every
        ``redraw_seconds`` (and never spending more than a fifth of the time drawing). How
        often it redraws is all the clock decides: every batch is in the curves."""
        started = time.monotonic()
        if not force and started < self._next_redraw:
            return
        with self._redraw_lock:
            n = len(self.curves.step_loss)
            title = (f"{n} batches ({n / max(self.curves.batches_per_epoch, 1):.1f} epochs)"
                     if n else "")
            self.figure.value = figure_png(plot_live_curves(self.curves, title))
            self.redraws += 1
            cost = time.monotonic() - started
            self._next_redraw = started + max(self.redraw_seconds, 4 * cost)

    def _set_status(self, text: str) -> None:
        self.status.value = html_text(text, "mnist-playground-status")
