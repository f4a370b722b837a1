"""Interactive widgets for notebook 07: a hyperparameter playground, a prediction browser and a
canvas to draw a digit on.

Each widget is a small class that owns its state (nothing lives at module level) and shows
itself in a notebook cell. What a button does is a plain method that tests call directly:

* :class:`Playground` — ``train()`` (synchronous), ``start()`` (in a background thread, so
  the Stop button can be clicked meanwhile), ``stop()``;
* :class:`PredictionBrowser` — ``next()``, ``previous()``, ``random()``, ``filter_changed()``;
* :class:`DrawDigit` — ``predict_from_pixels()``, ``predict_strokes()``, ``clear()``.

An exception inside a callback is written, as a short traceback, to the widget's own message
area: a click that fails says so where the user is looking, not in a log console.
"""

from __future__ import annotations

import functools
import html
import io
import os
import random as _random
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from .data import MNISTTensors, TensorBatches
from .metrics import collect_predictions
from .models import ARCHITECTURES, build_model
from .plots import to_pixels
from .predict import ImageError, Prediction, predict_picture
from .profiles import Profile, get_profile
from .samples import draw_strokes
from .train import Batches, History, TrainingData, fit, prepare_training_data

CallbackT = TypeVar("CallbackT", bound=Callable[..., Any])

# --------------------------------------------------------------------------------------------
# Shared pieces: errors shown in the widget, PNG rendering, probability bars
# --------------------------------------------------------------------------------------------


def format_error(what: str, exc: BaseException, frames: int = 3) -> str:
    """A short report of ``exc``: what failed, the exception, and its last few frames."""
    lines = [f"{what} failed: {type(exc).__name__}: {exc}"]
    for frame in traceback.extract_tb(exc.__traceback__)[-frames:]:
        lines.append(f"  {Path(frame.filename).name}:{frame.lineno} in {frame.name}")
    return "\n".join(lines) + "\n"


def show_error(output: widgets.Output, what: str, exc: BaseException) -> None:
    """Write :func:`format_error`'s report to ``output`` (as stderr: shown in red)."""
    output.append_stderr(format_error(what, exc))


def report_errors(output: widgets.Output, what: str) -> Callable[[CallbackT], CallbackT]:
    """Decorator for widget callbacks: an exception is shown in ``output`` instead of being
    lost in the kernel's log, and the callback returns ``None``."""

    def decorate(callback: CallbackT) -> CallbackT:
        @functools.wraps(callback)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure is shown to the user
                show_error(output, what, exc)
                return None

        return guarded  # type: ignore[return-value]

    return decorate


def figure_png(fig: Figure) -> bytes:
    """Render a matplotlib ``Figure`` (made without pyplot) to PNG bytes."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def digit_png(pixels: np.ndarray | torch.Tensor, scale: int = 5) -> bytes:
    """A 28×28 digit (a normalised tensor, or an array in 0..1) as a PNG, enlarged ``scale``×
    with square pixels, so the image shows exactly what the model gets."""
    values = to_pixels(pixels) if isinstance(pixels, torch.Tensor) else np.asarray(pixels)
    image = Image.fromarray((np.clip(values, 0, 1) * 255).astype(np.uint8), mode="L")
    image = image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def probability_bars_html(probabilities: Sequence[float], true_label: int | None = None) -> str:
    """The ten class probabilities as horizontal HTML bars (cheap enough to redraw on every
    pen stroke): the prediction green (red when it is wrong), the true class blue."""
    probs = [float(p) for p in probabilities]
    predicted = int(np.argmax(probs))
    rows = []
    for digit, p in enumerate(probs):
        if digit == predicted:
            color = "#2ca02c" if true_label in (None, predicted) else "#d62728"
        elif digit == true_label:
            color = "#1f77b4"
        else:
            color = "#9e9e9e"
        weight = "bold" if digit == predicted else "normal"
        rows.append(
            f'<tr><td style="width:1.5em;font-weight:{weight}">{digit}</td>'
            f'<td style="width:220px"><div style="background:{color};height:12px;'
            f'width:{max(100 * p, 0.5):.1f}%"></div></td>'
            f'<td style="text-align:right;width:4.5em">{100 * p:.1f}%</td></tr>'
        )
    return ('<table class="mnist-probabilities" style="border-collapse:collapse;'
            'font-size:12px;line-height:14px">' + "".join(rows) + "</table>")


def _html_text(text: str, css_class: str, **style: str) -> str:
    styles = ";".join(f"{k.replace('_', '-')}:{v}" for k, v in style.items())
    return f'<div class="{css_class}" style="{styles}">{html.escape(text)}</div>'


class _Displayable:
    """Shows ``self.widget`` when the object is the last expression of a cell."""

    widget: widgets.Widget

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


# --------------------------------------------------------------------------------------------
# 1. Hyperparameter playground
# --------------------------------------------------------------------------------------------


class StoppableBatches:
    """Training batches that can be stopped from another thread, and that tell which labels
    the model is looking at (so a forward hook can measure the batch's loss and accuracy).

    Once ``stop`` is set, asking for the next batch raises ``KeyboardInterrupt``: exactly what
    Jupyter's stop button does, so :func:`~mnist_helpers.train.fit` ends the same clean way
    and keeps the best weights so far.
    """

    def __init__(self, batches: Batches, stop: threading.Event) -> None:
        self.batches = batches
        self.stop = stop
        self.current_labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    @property
    def dataset(self) -> Any:
        """The wrapped split (``fit`` reads its size for the log lines)."""
        return getattr(self.batches, "dataset", None)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in self.batches:
            if self.stop.is_set():
                raise KeyboardInterrupt("stopped from the widget")
            self.current_labels = labels
            yield images, labels
        self.current_labels = None


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
    fig = Figure(figsize=(9.5, 3.1), dpi=80)
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


class Playground(_Displayable):
    """Pick hyperparameters, press Train and watch loss and accuracy move as the model learns.

    ``data`` holds the splits (``prepare_training_data``'s result; loaded from MNIST when not
    given). Each run trains a fresh model on the first ``train images`` of the training split
    and keeps, in :attr:`model`, the weights of its best epoch by validation accuracy.
    """

    def __init__(
        self,
        device: torch.device | str,
        *,
        data: TrainingData | None = None,
        base_profile: Profile | None = None,
        data_dir: str | os.PathLike | None = None,
        epochs: int = 3,
        train_images: int = 4_000,
        seed: int = 0,
        redraw_seconds: float = 0.5,
    ) -> None:
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
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_redraw = 0.0
        self._redraw_lock = threading.Lock()

        n_train = len(self.data.train.dataset)
        p = self.base_profile
        style = {"description_width": "110px"}
        wide = widgets.Layout(width="330px")
        self.lr = widgets.FloatLogSlider(value=p.lr, base=10, min=-4, max=0, step=0.1,
                                         readout_format=".4f", description="learning rate",
                                         style=style, layout=wide)
        self.batch_size = widgets.Dropdown(
            options=sorted({*BATCH_SIZES, p.batch_size}), value=p.batch_size,
            description="batch size", style=style, layout=wide)
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=20, description="epochs",
                                        style=style, layout=wide)
        self.train_images = widgets.IntSlider(
            value=min(train_images, n_train), min=min(500, n_train), max=n_train, step=500,
            description="train images", style=style, layout=wide)
        self.optimizer = widgets.Dropdown(options=list(OPTIMIZERS), value=p.optimizer.lower(),
                                          description="optimizer", style=style, layout=wide)
        self.arch = widgets.Dropdown(options=list(ARCHITECTURES), value=p.arch,
                                     description="architecture", style=style, layout=wide)
        self.augment = widgets.Checkbox(value=p.augment, description="augmentation",
                                        style=style, layout=wide)
        self.train_button = widgets.Button(description="Train", button_style="success",
                                           icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger",
                                          icon="stop", disabled=True)
        self.status = widgets.HTML(_html_text("Ready: choose settings and press Train.",
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
        self.optimizer.observe(report_errors(self.messages, "optimizer")(self.optimizer_changed),
                               names="value")
        controls = widgets.HBox([
            widgets.VBox([self.lr, self.batch_size, self.epochs, self.train_images]),
            widgets.VBox([self.optimizer, self.arch, self.augment]),
        ])
        buttons = widgets.HBox([self.train_button, self.stop_button, self.status])
        self.widget = widgets.VBox([controls, buttons, self.figure, self.messages])
        self.widget.add_class("mnist-playground")

    # ---- the settings -----------------------------------------------------------------------

    def optimizer_changed(self, change: dict | None = None) -> None:
        """Set the learning rate to a good start for the new optimizer (SGD wants ~0.1,
        Adam ~0.003)."""
        self.lr.value = SUGGESTED_LR.get(self.optimizer.value, self.lr.value)

    def profile(self) -> Profile:
        """The hyperparameters the widgets show, as a :class:`Profile`."""
        return self.base_profile.with_overrides(
            name="playground", lr=float(self.lr.value), batch_size=int(self.batch_size.value),
            epochs=int(self.epochs.value), optimizer=str(self.optimizer.value),
            arch=str(self.arch.value), augment=bool(self.augment.value),
            train_limit=int(self.train_images.value),
            width=self.base_profile.width if self.arch.value == self.base_profile.arch else None,
        )

    # ---- training ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a background run is under way."""
        return self._thread is not None and self._thread.is_alive()

    def train(self) -> History:
        """Train a fresh model with the current settings, in this thread, updating the figure
        as it goes; returns the :class:`History` (``interrupted`` when stopped)."""
        if self.running and threading.current_thread() is not self._thread:
            raise RuntimeError("A run is already going in the background: press Stop (or call "
                               "stop() and join()) first.")
        profile = self.profile()
        train_data = self.data.train.dataset.subset(slice(0, profile.train_limit))
        batches = StoppableBatches(
            TensorBatches(train_data, profile.batch_size, shuffle=True, seed=self.seed),
            self._stop_event)
        self.curves = LiveCurves(batches_per_epoch=len(batches), epochs=profile.epochs)
        self.messages.outputs = ()  # the last run's log and errors
        self._set_status(f"Training {profile.arch} on {len(train_data):,} images "
                         f"({profile.epochs} epoch(s), {profile.optimizer}, lr {profile.lr:.4g})…")
        self._redraw(force=True)

        torch.manual_seed(self.seed)
        model = build_model(profile.arch, **profile.model_kwargs()).to(self.device)
        hook = model.register_forward_hook(self._batch_hook(batches, profile.label_smoothing))
        try:
            history = fit(model, batches, self.data.val, profile, device=self.device,
                          seed=self.seed, progress=False, log_interval=0, log=self._log,
                          on_epoch_end=lambda h: self._epoch_ended(h, profile.epochs))
        finally:
            hook.remove()
            self._stop_event.clear()
        self.model, self.history = model.eval(), history
        self._redraw(force=True)
        self._set_status(self.summary(history))
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
        """Ask the run to stop (the Stop button): the next batch raises ``KeyboardInterrupt``,
        ``fit`` catches it and keeps the best weights so far."""
        if self.running:
            self._stop_event.set()
            self._set_status("Stopping after this batch…")

    def join(self, timeout: float | None = None) -> None:
        """Wait for a background run to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    @staticmethod
    def summary(history: History) -> str:
        """One line about a finished (or stopped) run."""
        if history.interrupted:
            if not history.epoch:
                return ("Stopped before the first epoch ended: the model keeps its starting "
                        "(random) weights.")
            return (f"Stopped after {len(history.epoch)} epoch(s): kept the best model, epoch "
                    f"{history.best_epoch} (validation accuracy "
                    f"{100 * history.best_val_accuracy:.2f}%).")
        return (f"Finished {len(history.epoch)} epoch(s) in {sum(history.train_seconds):.1f} s: "
                f"best epoch {history.best_epoch}, validation accuracy "
                f"{100 * history.best_val_accuracy:.2f}%.")

    # ---- internals --------------------------------------------------------------------------

    def _train_in_background(self) -> None:
        try:
            self.train()
        except Exception as exc:  # noqa: BLE001 - shown in the widget, the thread ends cleanly
            show_error(self.messages, "Training", exc)
            self._set_status("Training failed (see the message below).")
        finally:
            self.train_button.disabled = False
            self.stop_button.disabled = True

    def _batch_hook(self, batches: StoppableBatches, label_smoothing: float
                    ) -> Callable[[nn.Module, Any, torch.Tensor], None]:
        """A forward hook that records each training batch's loss and accuracy from the logits
        the model just computed (no extra forward pass), and redraws the figure now and then."""

        def hook(module: nn.Module, _inputs: Any, logits: torch.Tensor) -> None:
            labels = batches.current_labels
            if not module.training or labels is None or len(labels) != len(logits):
                return
            detached = logits.detach()
            self.curves.step_loss.append(
                F.cross_entropy(detached, labels, label_smoothing=label_smoothing).item())
            self.curves.step_accuracy.append((detached.argmax(1) == labels).float().mean().item())
            self._redraw()

        return hook

    def _epoch_ended(self, history: History, epochs: int) -> None:
        self.curves.epoch = list(history.epoch)
        self.curves.val_loss = list(history.val_loss)
        self.curves.val_accuracy = list(history.val_accuracy)
        self._set_status(f"Epoch {history.epoch[-1]}/{epochs}: validation accuracy "
                         f"{100 * history.val_accuracy[-1]:.2f}%"
                         + ("" if history.epoch[-1] == epochs else "…"))
        self._redraw(force=True)

    def _redraw(self, force: bool = False) -> None:
        """Draw the figure again: always when ``force``, else at most every
        ``redraw_seconds`` (and never spending more than a fifth of the time drawing)."""
        started = time.monotonic()
        if not force and started < self._next_redraw:
            return
        with self._redraw_lock:
            n = len(self.curves.step_loss)
            title = (f"{n} batches ({n / max(self.curves.batches_per_epoch, 1):.1f} epochs)"
                     if n else "")
            self.figure.value = figure_png(plot_live_curves(self.curves, title))
            cost = time.monotonic() - started
            self._next_redraw = started + max(self.redraw_seconds, 4 * cost)

    def _set_status(self, text: str) -> None:
        self.status.value = _html_text(text, "mnist-playground-status")

    def _log(self, line: str) -> None:
        self.messages.append_stdout(line + "\n")


# --------------------------------------------------------------------------------------------
# 2. Prediction browser
# --------------------------------------------------------------------------------------------


@dataclass
class BrowsedSample:
    """The sample a :class:`PredictionBrowser` shows."""

    index: int  # position in the dataset
    true_label: int
    predicted: int
    probabilities: list[float]

    @property
    def correct(self) -> bool:
        """Whether the prediction is right."""
        return self.true_label == self.predicted


#: The class dropdown's value for "all digits" (a dropdown cannot show ``None`` as chosen).
ALL_DIGITS = -1


class PredictionBrowser(_Displayable):
    """Step through a dataset's images with the model's prediction and all ten probabilities;
    show only the mistakes, or only one true digit."""

    def __init__(
        self,
        images: torch.Tensor,
        probabilities: torch.Tensor,
        labels: torch.Tensor,
        *,
        seed: int = 0,
        name: str = "test image",
    ) -> None:
        if not len(images) == len(probabilities) == len(labels):
            raise ValueError(f"images ({len(images)}), probabilities ({len(probabilities)}) "
                             f"and labels ({len(labels)}) must have the same length")
        self.images = images.detach().cpu()
        self.probabilities = probabilities.detach().cpu().float()
        self.labels = labels.detach().cpu().long()
        self.predicted = self.probabilities.argmax(1)
        self.name = name
        self.mistakes_only = False
        self.true_class: int | None = None
        self.indices: list[int] = list(range(len(self.labels)))
        self.position = 0
        self._rng = _random.Random(seed)
        self._syncing = False

        self.random_button = widgets.Button(description="Random", icon="random")
        self.previous_button = widgets.Button(description="Previous", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", icon="arrow-right")
        self.mistakes_box = widgets.Checkbox(value=False, description="mistakes only",
                                             indent=False, layout=widgets.Layout(width="130px"))
        self.class_dropdown = widgets.Dropdown(
            options=[("all digits", ALL_DIGITS)] + [(f"true {d}", d) for d in range(10)],
            value=ALL_DIGITS,
            description="show", layout=widgets.Layout(width="190px"),
            style={"description_width": "40px"})
        self.position_label = widgets.HTML()
        self.title = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="140px",
                                                                       height="140px"))
        self.bars = widgets.HTML()
        self.messages = widgets.Output()
        self.next_button.add_class("mnist-browser-next")
        self.image.add_class("mnist-browser-image")

        self.random_button.on_click(report_errors(self.messages, "Random")(
            lambda _b: self.random()))
        self.previous_button.on_click(report_errors(self.messages, "Previous")(
            lambda _b: self.previous()))
        self.next_button.on_click(report_errors(self.messages, "Next")(lambda _b: self.next()))
        on_filter = report_errors(self.messages, "Filter")(self._filter_widgets_changed)
        self.mistakes_box.observe(on_filter, names="value")
        self.class_dropdown.observe(on_filter, names="value")

        nav = widgets.HBox([self.random_button, self.previous_button, self.next_button,
                            self.mistakes_box, self.class_dropdown])
        shown = widgets.HBox([self.image, self.bars],
                             layout=widgets.Layout(align_items="center"))
        self.widget = widgets.VBox([nav, self.position_label, self.title, shown, self.messages])
        self.widget.add_class("mnist-browser")
        self.show()

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        data: MNISTTensors,
        *,
        batch_size: int = 1000,
        device: torch.device | str | None = None,
        seed: int = 0,
        name: str = "test image",
    ) -> PredictionBrowser:
        """Predict every image of ``data`` with ``model`` (``collect_predictions``) and browse."""
        probabilities, labels = collect_predictions(model, TensorBatches(data, batch_size),
                                                    device)
        return cls(data.images, probabilities, labels, seed=seed, name=name)

    # ---- what the buttons do ----------------------------------------------------------------

    @property
    def current(self) -> BrowsedSample | None:
        """The sample shown, or ``None`` when no image matches the filter."""
        if not self.indices:
            return None
        index = self.indices[self.position]
        return BrowsedSample(index=index, true_label=int(self.labels[index]),
                             predicted=int(self.predicted[index]),
                             probabilities=self.probabilities[index].tolist())

    def next(self) -> BrowsedSample | None:
        """Show the next matching image (after the last comes the first)."""
        return self._move(self.position + 1)

    def previous(self) -> BrowsedSample | None:
        """Show the previous matching image (before the first comes the last)."""
        return self._move(self.position - 1)

    def random(self) -> BrowsedSample | None:
        """Show a random matching image."""
        return self._move(self._rng.randrange(len(self.indices)) if self.indices else 0)

    def filter_changed(self, mistakes_only: bool = False, true_class: int | None = None
                       ) -> int:
        """Show only the mistakes and/or only one true digit (``None``: all); returns how many
        images match, and shows the first of them."""
        if true_class is not None and not 0 <= int(true_class) <= 9:
            raise ValueError(f"true_class must be 0..9 or None, got {true_class!r}")
        self.mistakes_only = bool(mistakes_only)
        self.true_class = None if true_class is None else int(true_class)
        keep = torch.ones(len(self.labels), dtype=torch.bool)
        if self.mistakes_only:
            keep &= self.predicted != self.labels
        if self.true_class is not None:
            keep &= self.labels == self.true_class
        self.indices = keep.nonzero().flatten().tolist()
        self.position = 0
        self._syncing = True
        try:  # keep the widgets in step when called from code
            self.mistakes_box.value = self.mistakes_only
            self.class_dropdown.value = ALL_DIGITS if self.true_class is None else self.true_class
        finally:
            self._syncing = False
        self.show()
        return len(self.indices)

    def show(self) -> None:
        """Draw the current sample (image, labels, probability bars)."""
        sample = self.current
        wanted = ("mistakes" if self.mistakes_only else "images") + (
            f" of true digit {self.true_class}" if self.true_class is not None else "")
        if sample is None:
            self.position_label.value = _html_text(f"No {wanted} to show.",
                                                   "mnist-browser-position")
            self.title.value = ""
            self.image.value = digit_png(np.zeros((28, 28)))
            self.bars.value = ""
            return
        accuracy = float((self.predicted == self.labels).float().mean())
        self.position_label.value = _html_text(
            f"{self.position + 1:,} of {len(self.indices):,} {wanted} "
            f"(model accuracy on all {len(self.labels):,}: {100 * accuracy:.2f}%)",
            "mnist-browser-position", color="#555")
        verdict = "right" if sample.correct else "wrong"
        self.title.value = _html_text(
            f"{self.name} #{sample.index}: true {sample.true_label}, predicted "
            f"{sample.predicted} ({100 * max(sample.probabilities):.1f}%) — {verdict}",
            "mnist-browser-title", font_weight="bold",
            color="#2ca02c" if sample.correct else "#d62728")
        self.image.value = digit_png(self.images[sample.index])
        self.bars.value = probability_bars_html(sample.probabilities, sample.true_label)

    # ---- internals --------------------------------------------------------------------------

    def _move(self, position: int) -> BrowsedSample | None:
        if self.indices:
            self.position = position % len(self.indices)
        self.show()
        return self.current

    def _filter_widgets_changed(self, _change: dict) -> None:
        if not self._syncing:
            chosen = self.class_dropdown.value
            self.filter_changed(self.mistakes_box.value, None if chosen == ALL_DIGITS else chosen)


# --------------------------------------------------------------------------------------------
# 3. Draw a digit
# --------------------------------------------------------------------------------------------

_SKETCHPAD_ESM = r"""
function render({ model, el }) {
  const size = model.get("size");
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.className = "mnist-sketchpad";
  canvas.style.cssText = `width:${size}px;height:${size}px;border:2px solid #888;` +
    "border-radius:4px;cursor:crosshair;touch-action:none;background:white";
  el.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  let strokes = (model.get("strokes") || []).map((s) => s.map((p) => p.slice()));
  let current = null;
  let lastSync = 0;
  let timer = null;

  function paint() {
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, size, size);
    const width = model.get("line_width");
    ctx.strokeStyle = "black";
    ctx.fillStyle = "black";
    ctx.lineWidth = width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const stroke of strokes) {
      if (stroke.length === 0) continue;
      ctx.beginPath();
      if (stroke.length === 1) {
        ctx.arc(stroke[0][0], stroke[0][1], width / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.moveTo(stroke[0][0], stroke[0][1]);
      for (const [x, y] of stroke.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
  }
  function sync() {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    lastSync = Date.now();
    model.set("strokes", strokes.map((s) => s.map((p) => p.slice())));
    model.save_changes();
  }
  function syncSoon() {  // at most every 100 ms while drawing: predictions follow the pen
    const wait = 100 - (Date.now() - lastSync);
    if (wait <= 0) sync();
    else if (timer === null) timer = setTimeout(sync, wait);
  }
  function point(event) {
    const box = canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) * size) / box.width;
    const y = ((event.clientY - box.top) * size) / box.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
    strokes.push(current);
    paint();
    syncSoon();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (current === null) return;
    current.push(point(event));
    paint();
    syncSoon();
  });
  const end = () => {
    if (current === null) return;
    current = null;
    sync();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  model.on("change:strokes", () => {
    if (current !== null) return;  // the pen is down: what is on screen is newer
    strokes = (model.get("strokes") || []).map((s) => s.map((p) => p.slice()));
    paint();
  });
  model.on("change:line_width", paint);
  paint();
  return () => { if (timer !== null) clearTimeout(timer); };
}
export default { render };
"""


class SketchPad(anywidget.AnyWidget):
    """An HTML canvas to draw on with the mouse, a pen or a finger. The drawing reaches
    Python as ``strokes``: a list of strokes, each a list of ``[x, y]`` canvas pixels."""

    _esm = _SKETCHPAD_ESM
    size = traitlets.Int(280).tag(sync=True)
    line_width = traitlets.Float(18.0).tag(sync=True)
    strokes = traitlets.List(traitlets.List(traitlets.List(traitlets.Float()))).tag(sync=True)


def rasterize_strokes(strokes: Sequence[Sequence[Sequence[float]]], size: int = 280,
                      line_width: float = 18.0) -> np.ndarray:
    """Draw ``strokes`` as the canvas shows them: black round-capped lines on white paper.
    Returns a ``size``×``size`` float array in 0..1 (1 = paper)."""
    image = Image.new("L", (size, size), 255)
    draw_strokes(image, strokes, width=line_width, ink=0)
    return np.asarray(image, dtype=np.float64) / 255.0


class DrawDigit(_Displayable):
    """Draw a digit with the mouse and watch the prediction follow the pen.

    The drawing goes through :func:`~mnist_helpers.predict.preprocess_image`, the same steps
    as any image of your own (dark ink on light paper, cropped, fitted into 20×20, centred by
    mass); the 28×28 image the model sees is shown beside the probabilities.
    """

    def __init__(self, model: nn.Module, *, size: int = 280, line_width: float = 18.0) -> None:
        self.model = model
        self.last: Prediction | None = None
        self.pad = SketchPad(size=size, line_width=line_width)
        self.clear_button = widgets.Button(description="Clear", icon="eraser")
        self.clear_button.add_class("mnist-draw-clear")
        self.prediction = widgets.HTML()
        self.prediction.add_class("mnist-draw-prediction")
        self.bars = widgets.HTML()
        self.seen = widgets.Image(format="png", layout=widgets.Layout(width="112px",
                                                                      height="112px"))
        self.messages = widgets.Output()

        self.clear_button.on_click(report_errors(self.messages, "Clear")(lambda _b: self.clear()))
        self.pad.observe(report_errors(self.messages, "Prediction")(lambda _c: self.update()),
                         names="strokes")
        side = widgets.VBox([self.prediction, self.bars,
                             widgets.HTML("<small>what the model sees (28×28):</small>"),
                             self.seen], layout=widgets.Layout(margin="0 0 0 16px"))
        self.widget = widgets.VBox([widgets.HBox([widgets.VBox([self.pad, self.clear_button]),
                                                  side]), self.messages])
        self.widget.add_class("mnist-draw")
        self.update()

    def predict_from_pixels(self, pixels: np.ndarray) -> Prediction:
        """Predict the digit in a grayscale image (floats 0..1, dark ink on light paper or
        light on dark). Raises :class:`~mnist_helpers.predict.ImageError` when it is blank."""
        return predict_picture(self.model, np.asarray(pixels, dtype=np.float64), "canvas")

    def predict_strokes(self, strokes: Sequence[Sequence[Sequence[float]]]) -> Prediction:
        """Predict the digit drawn as ``strokes`` (the canvas's format)."""
        pixels = rasterize_strokes(strokes, self.pad.size, self.pad.line_width)
        return self.predict_from_pixels(pixels)

    def update(self) -> Prediction | None:
        """Predict what is on the canvas now and show it; ``None`` while it is blank."""
        strokes = self.pad.strokes
        try:
            result = self.predict_strokes(strokes) if strokes else None
        except ImageError:
            result = None
        self.last = result
        if result is None:
            self.prediction.value = _html_text("Draw a digit in the box.",
                                               "mnist-draw-text", font_size="16px")
            self.bars.value = probability_bars_html([0.0] * 10)
            self.seen.value = digit_png(np.zeros((28, 28)))
        else:
            confidence = 100 * result.probabilities[result.label]
            self.prediction.value = _html_text(f"Prediction: {result.label} "
                                               f"({confidence:.1f}%)", "mnist-draw-text",
                                               font_size="16px", font_weight="bold")
            self.bars.value = probability_bars_html(result.probabilities)
            self.seen.value = digit_png(result.image)
        return result

    def clear(self) -> None:
        """Wipe the canvas (the Clear button)."""
        self.pad.strokes = []
        self.update()
