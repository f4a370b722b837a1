"""Training digits drawn as real pictures (small scans, bold markers, fine pens, faint ink) and
prepared like any picture: real MNIST digits, each style checked for what makes it that style."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_helpers import get_profile, train_model
from mnist_helpers.data import load_tensors
from mnist_helpers.digit_pictures import (
    STYLES,
    digit_picture_pixels,
    draw_digit_picture,
    prepared,
)
from mnist_helpers.preprocess import stroke_width


@pytest.fixture(scope="module")
def digits(mnist_raw_dir):
    train = load_tensors(True, mnist_raw_dir)
    return train.pixels[:200], train.labels[:200]


def _ink_sharpness(picture) -> float:
    """The largest step between neighbouring grey levels, over the picture's range: a small
    scan enlarged smoothly has no sharp edges."""
    grey = np.asarray(picture, dtype=np.float64)
    steps = np.abs(np.diff(grey, axis=1)).max()
    return float(steps / max(grey.max() - grey.min(), 1e-9))


def test_each_style_is_dark_ink_on_light_paper_with_a_margin(digits):
    rng = np.random.default_rng(0)
    for style in STYLES:
        picture = np.asarray(draw_digit_picture(digits[0][0].numpy(), style, rng),
                             dtype=np.float64) / 255
        assert np.median(picture) > 0.5, style  # light paper
        assert picture.min() < np.median(picture) - 0.15, style  # darker ink on it
        border = np.concatenate([picture[0], picture[-1], picture[:, 0], picture[:, -1]])
        assert border.min() > picture.min() + 0.1, style  # the digit does not touch the edge


def test_a_small_scan_is_blurred_and_a_bold_marker_is_bolder(digits):
    rng = np.random.default_rng(1)
    digit = digits[0][3].numpy()
    scans = [_ink_sharpness(draw_digit_picture(digit, "small scan", rng)) for _ in range(20)]
    pens = [_ink_sharpness(draw_digit_picture(digit, "fine pen", rng)) for _ in range(20)]
    assert np.median(scans) < np.median(pens)
    plain = stroke_width(prepared(draw_digit_picture(digit, "faint ink", rng)))
    bold = [stroke_width(prepared(draw_digit_picture(digit, "bold marker", rng)))
            for _ in range(20)]
    assert np.median(bold) > plain


def test_prepared_pictures_keep_their_labels_and_are_seeded(digits):
    pixels, labels = digits
    made, made_labels = digit_picture_pixels(pixels, labels, 40, seed=5)
    again, again_labels = digit_picture_pixels(pixels, labels, 40, seed=5)
    other, _ = digit_picture_pixels(pixels, labels, 40, seed=6)
    assert made.shape == (40, 28, 28) and made.dtype == torch.uint8
    assert torch.equal(made, again) and torch.equal(made_labels, again_labels)
    assert not torch.equal(made, other)
    assert set(made_labels.tolist()) <= set(labels.tolist())
    # Every picture was prepared like MNIST's digits: ink, centred, inside the 28×28 field.
    assert (made.flatten(1).amax(1) > 200).all()
    rows = made.float().sum(2)
    centre = (rows * torch.arange(28)).sum(1) / rows.sum(1)
    assert ((centre - 14).abs() < 2.5).all()


def test_a_model_trains_on_them_and_fits_its_threshold_on_them_too(tmp_path, mnist_raw_dir):
    profile = get_profile("quick").with_overrides(
        nondigits=100, digit_pictures=200, train_limit=1_000, val_size=300, eval_limit=300)
    trained = train_model(profile, "cpu", seed=2, data_dir=mnist_raw_dir)
    assert trained.data.val_pictures is not None and len(trained.data.val_pictures) == 20
    assert len(trained.data.train.dataset) == 1_000 + 200 + 100
    assert trained.refusal_threshold is not None


def test_an_unknown_style_names_the_styles(digits):
    with pytest.raises(ValueError, match="small scan"):
        draw_digit_picture(digits[0][0].numpy(), "crayon", np.random.default_rng(0))
