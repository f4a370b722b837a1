"""The widgets, driven through the methods their buttons call, with real MNIST data and tiny
training runs (a few hundred images: seconds on a CPU)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers import TensorBatches, TrainingData, evaluate
from mnist_helpers.display.widgets import DrawDigit, Playground, PredictionBrowser
from mnist_helpers.display.widgets.browser import ALL_DIGITS
from mnist_helpers.display.widgets.common import format_error, report_errors
from mnist_helpers.images import rasterize_strokes

#: A "1" and a "7" as the canvas sends them: strokes of [x, y] points on a 280×280 canvas.
ONE = [[[140.0, 40.0 + 5 * i] for i in range(41)]]
SEVEN = [[[80.0 + 6 * i, 50.0] for i in range(21)],
         [[200.0 - 2 * i, 50.0 + 5 * i] for i in range(39)]]


def stderr_text(output) -> str:
    return "".join(o.get("text", "") for o in output.outputs if o.get("name") == "stderr")


def stdout_text(output) -> str:
    return "".join(o.get("text", "") for o in output.outputs if o.get("name") == "stdout")


@pytest.fixture
def small_data(train_tensors, test_tensors) -> TrainingData:
    """1,000 training images, 300 for validation, 300 test images."""
    return TrainingData(
        train=TensorBatches(train_tensors.subset(slice(0, 1000)), 64, shuffle=True),
        val=TensorBatches(train_tensors.subset(slice(59000, 59300)), 300),
        test=TensorBatches(test_tensors.subset(slice(0, 300)), 300),
    )


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ---- errors in callbacks --------------------------------------------------------------------


def test_report_errors_shows_the_exception_in_the_output():
    import ipywidgets as widgets

    out = widgets.Output()

    @report_errors(out, "Next")
    def broken(_button: object) -> None:
        raise ValueError("no such sample")

    assert broken(None) is None
    text = stderr_text(out)
    assert "Next failed: ValueError: no such sample" in text
    assert "in broken" in text  # the frame where it happened


def test_format_error_keeps_only_the_last_frames():
    def inner() -> None:
        raise KeyError("x")

    try:
        inner()
    except KeyError as exc:
        report = format_error("Train", exc, frames=1)
    assert report.splitlines()[0] == "Train failed: KeyError: 'x'"
    assert len(report.splitlines()) == 2 and "in inner" in report


# ---- playground -----------------------------------------------------------------------------


def test_playground_settings_become_the_profile(small_data):
    pg = Playground("cpu", data=small_data, epochs=2, train_images=500)
    pg.settings.optimizer.value = "adam"
    assert pg.settings.lr.value == pytest.approx(0.003)  # a sensible start for Adam
    settings = pg.settings
    settings.lr.value, settings.batch_size.value, settings.arch.value = 0.01, 32, "classic_cnn"
    pg.settings.augment.value = True
    profile = pg.settings.profile()
    assert (profile.optimizer, profile.lr, profile.batch_size, profile.arch) == \
        ("adam", pytest.approx(0.01), 32, "classic_cnn")
    assert profile.epochs == 2 and profile.train_limit == 500 and profile.augment
    assert pg.settings.train_images.max == 1000  # the size of the training split given


def test_playground_train_runs_and_updates_the_figure(small_data):
    pg = Playground("cpu", data=small_data, epochs=2, train_images=500)
    pg.settings.batch_size.value = 64
    first_figure = pg.figure.value
    history = pg.train()
    assert history.epoch == [1, 2] and not history.stopped
    assert len(pg.curves.step_loss) == len(pg.curves.step_accuracy) == 2 * 8  # 500 / 64
    assert pg.curves.step_loss == pytest.approx(history.step_loss), "the loss fit computed"
    assert pg.curves.val_accuracy == history.val_accuracy
    assert pg.figure.value != first_figure and bytes(pg.figure.value).startswith(b"\x89PNG")
    assert "Finished 2 epoch(s)" in pg.status.value
    # The model kept is the best epoch's.
    result = evaluate(pg.model, small_data.val)
    assert result.accuracy == pytest.approx(history.best_val_accuracy)
    assert history.best_val_accuracy > 0.2  # well above chance (0.1) after 16 steps


def test_playground_stop_keeps_the_best_model(small_data):
    pg = Playground("cpu", data=small_data, epochs=20, train_images=1000)
    thread = pg.start()
    assert thread is not None and pg.running
    assert pg.train_button.disabled and not pg.stop_button.disabled
    assert pg.start() is None  # one run at a time
    with pytest.raises(RuntimeError, match="already going"):
        pg.train()
    wait_for(lambda: len(pg.curves.epoch) >= 1)
    pg.stop()
    pg.join(60)
    assert not pg.running
    history = pg.history
    assert history.stopped and 1 <= len(history.epoch) < 20
    assert "Stopped after" in pg.status.value and "kept the best model" in pg.status.value
    assert not pg.train_button.disabled and pg.stop_button.disabled
    assert evaluate(pg.model, small_data.val).accuracy == \
        pytest.approx(history.best_val_accuracy)
    # The flag is reset: the next run trains normally.
    pg.settings.epochs.value, pg.settings.train_images.value = 1, 500
    assert not pg.train().stopped


def test_playground_error_in_background_run_is_shown(small_data, monkeypatch):
    pg = Playground("cpu", data=small_data, epochs=1, train_images=500)
    good = pg.settings.profile
    monkeypatch.setattr(pg.settings, "profile",
                        lambda: good().with_overrides(optimizer="rmsprop"))
    pg.start()
    pg.join(60)
    assert "Training failed: ConfigError:" in stderr_text(pg.messages)
    assert "optimizer must be one of" in stderr_text(pg.messages)
    assert "Training failed" in pg.status.value
    assert not pg.train_button.disabled and pg.stop_button.disabled


# ---- prediction browser ---------------------------------------------------------------------


@pytest.fixture
def browser(quick_model, test_tensors) -> PredictionBrowser:
    return PredictionBrowser.from_model(quick_model, test_tensors.subset(slice(0, 400)))


def test_browser_steps_through_the_samples(browser, test_tensors):
    first = browser.current
    assert first.index == 0 and first.true_label == int(test_tensors.labels[0])
    assert len(first.probabilities) == 10 and sum(first.probabilities) == pytest.approx(1, 1e-5)
    image_before = browser.image.value
    assert browser.next().index == 1
    assert browser.image.value != image_before
    assert "2 of 400 images" in browser.position_label.value
    assert browser.previous().index == 0
    assert browser.previous().index == 399  # wraps round
    assert browser.next().index == 0
    assert 0 <= browser.random().index < 400
    assert f"#{browser.current.index}" in browser.title.value


def test_browser_filters_mistakes_and_classes(browser):
    wrong = int((browser.predicted != browser.labels).sum())
    assert 0 < wrong < 100  # the quick model is ~94% right
    assert browser.filter_changed(mistakes_only=True) == wrong
    for _ in range(wrong):
        assert not browser.current.correct
        browser.next()
    assert browser.mistakes_box.value is True  # widgets follow calls from code
    assert browser.class_dropdown.label == "all digits"
    threes = int((browser.labels == 3).sum())
    assert browser.filter_changed(mistakes_only=False, true_class=3) == threes
    assert browser.class_dropdown.value == 3
    assert {browser.random().true_label for _ in range(20)} == {3}
    # Changing the widgets filters as well.
    browser.class_dropdown.value = 5
    assert browser.true_class == 5 and browser.current.true_label == 5
    browser.mistakes_box.value = True
    assert all(browser.labels[i] == 5 and browser.predicted[i] != 5 for i in browser.indices)
    browser.class_dropdown.value = ALL_DIGITS
    assert browser.true_class is None and len(browser.indices) == wrong


def test_browser_with_nothing_to_show(test_tensors):
    labels = test_tensors.labels[:20]
    probabilities = torch.nn.functional.one_hot(labels, 10).float()  # always right
    browser = PredictionBrowser(test_tensors.pixels[:20], probabilities, labels)
    assert browser.filter_changed(mistakes_only=True) == 0
    assert browser.current is None and browser.next() is None and browser.random() is None
    assert "No mistakes to show" in browser.position_label.value
    with pytest.raises(ValueError, match="0..9"):
        browser.filter_changed(true_class=12)
    with pytest.raises(ValueError, match="same length"):
        PredictionBrowser(test_tensors.pixels[:3], probabilities, labels)


# ---- draw a digit ---------------------------------------------------------------------------


def test_rasterize_strokes_draws_black_ink_on_white():
    pixels = rasterize_strokes(ONE, size=280, line_width=18)
    assert pixels.shape == (280, 280) and pixels.max() == 1.0 and pixels.min() == 0.0
    ink_rows, ink_cols = np.nonzero(pixels < 0.5)
    assert ink_cols.min() >= 140 - 10 and ink_cols.max() <= 140 + 10
    assert ink_rows.min() >= 40 - 10 and ink_rows.max() <= 240 + 10
    dot = rasterize_strokes([[[50.0, 50.0]]], size=100, line_width=10)
    assert dot[50, 50] == 0.0 and dot[0, 0] == 1.0


def test_draw_predicts_strokes_like_the_canvas_sends_them(quick_model):
    draw = DrawDigit(quick_model)
    assert draw.predict_strokes(ONE).digit == 1
    assert draw.predict_strokes(SEVEN).digit == 7
    draw.pad.strokes = ONE  # what a drawing in the browser does
    assert draw.last is not None and draw.last.digit == 1
    assert "Prediction: 1" in draw.prediction.value
    assert draw.last.pixels.shape == (28, 28)
    draw.clear()
    assert draw.pad.strokes == [] and draw.last is None
    assert "Draw a digit" in draw.prediction.value


def test_draw_predict_from_pixels_uses_the_image_preprocessing(quick_model, test_tensors):
    from mnist_helpers.evaluate import class_probabilities

    draw = DrawDigit(quick_model)
    images, labels = test_tensors.batch(slice(0, 50))
    probabilities = class_probabilities(quick_model, images)
    confident = [i for i in range(50) if probabilities[i].max() > 0.99][:5]
    assert confident
    for i in confident:
        digit = test_tensors.pixels[i].numpy()  # white on black
        drawn = 1.0 - np.asarray(Image.fromarray(digit).resize(
            (280, 280), Image.Resampling.BILINEAR), dtype=float) / 255.0  # dark on light
        assert draw.predict_from_pixels(drawn).digit == int(labels[i])
    blank = draw.predict_from_pixels(np.ones((280, 280)))
    assert blank.digit is None and blank.reason.startswith("not a digit: no ink found")


def test_draw_error_is_shown_in_its_output(quick_model):
    draw = DrawDigit(quick_model)

    def broken(_batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("model exploded")

    draw.model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    draw.model.forward = broken  # type: ignore[method-assign]
    draw.pad.strokes = ONE
    assert "Prediction failed: RuntimeError: model exploded" in stderr_text(draw.messages)


def test_the_sketchpad_script_ships_with_the_package():
    from pathlib import Path

    from mnist_helpers.display.widgets import draw
    from mnist_helpers.display.widgets.draw import SketchPad

    assert Path(draw.__file__).with_name("sketchpad.js").is_file()
    assert "export default { render }" in str(SketchPad._esm)


# ---- write a number -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_model():
    from mnist_helpers import load_checkpoint
    from mnist_helpers.config import shipped_checkpoint_path
    from mnist_helpers.predict import Refusal

    model, info = load_checkpoint(shipped_checkpoint_path())
    return model, Refusal.from_metadata(info.metadata)


def test_draw_number_reads_strokes_and_shows_boxes(shipped_model):
    from mnist_helpers.display.widgets import DrawNumber
    from mnist_helpers.lab.pictures import STROKES

    model, refusal = shipped_model
    widget = DrawNumber(model, refusal=refusal, width=640, height=200)
    assert "Write a number" in widget.result.value and widget.last is None
    strokes = [[[40 + 120 * i + 80 * x, 30 + 140 * y] for x, y in stroke]
               for i, digit in enumerate((1, 9, 8, 4)) for stroke in STROKES[digit]]
    widget.pad.strokes = strokes  # what writing in the browser does
    assert widget.last is not None and widget.last.number == "1984"
    assert "Number: 1984" in widget.result.value
    assert bytes(widget.boxes.value).startswith(b"\x89PNG")
    assert len(widget.digits.children) == 4
    widget.clear()
    assert widget.pad.strokes == [] and widget.last is None


def test_draw_digit_says_when_it_is_not_a_digit(shipped_model):
    model, refusal = shipped_model
    draw = DrawDigit(model, refusal=refusal)
    spiral = [[[140 + t * 6 * np.cos(t), 140 + t * 6 * np.sin(t)] for t in np.linspace(0, 18, 80)]]
    hatch = [[[40 + 40 * i, 40], [80 + 40 * i, 240]] for i in range(5)]
    refused = [draw.predict_strokes(s) for s in (spiral, hatch)]
    assert any(r.digit is None for r in refused), [r.digit for r in refused]
    draw.pad.strokes = hatch if refused[1].digit is None else spiral
    assert "Not a digit" in draw.prediction.value
