"""The non-digits of new kinds (notebook 07a's second test set): MNIST-shaped pixels, the same
pictures from the same seed, every kind drawn, pictures without ink left out as ``predict``
refuses them, kinds and fonts no model trained on, and one-line errors for bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers import nondigits
from mnist_helpers.errors import ConfigError, NoInkError
from mnist_helpers.lab import new_kinds
from mnist_helpers.lab.new_kinds import NEW_KINDS, new_kind_pictures, photos, varied_picture
from mnist_helpers.preprocess import preprocess_image


@pytest.fixture(scope="module")
def drawn() -> new_kinds.NewKindPictures:
    """Three of each kind from a seed whose draw has two pictures without ink."""
    return new_kind_pictures(3, seed=2)


def test_pixels_are_mnist_shaped_and_hold_ink(drawn):
    assert drawn.pixels.dtype == torch.uint8 and drawn.pixels.shape[1:] == (28, 28)
    n = len(drawn.pixels)
    assert len(drawn.kinds) == len(drawn.pictures) == n
    assert n + drawn.no_ink == 3 * len(NEW_KINDS)
    assert drawn.no_ink == 2  # this seed's draw has some; the count is what was left out
    assert bool((drawn.pixels.flatten(1).amax(dim=1) > 0).all())  # ink in every picture
    assert all(p.mode == "L" for p in drawn.pictures)


def test_every_kind_appears_in_order(drawn):
    assert set(drawn.kinds) == set(NEW_KINDS)
    order = [NEW_KINDS.index(kind) for kind in drawn.kinds]
    assert order == sorted(order)  # drawn kind by kind, as the notebook's gallery expects


def test_the_pixels_are_what_preprocessing_makes_of_each_picture(drawn):
    for picture, pixels in zip(drawn.pictures, drawn.pixels, strict=True):
        made = preprocess_image(picture).pixels
        assert torch.equal(torch.from_numpy((made * 255).round().astype(np.uint8)), pixels)


def test_the_same_seed_gives_the_same_pixels_and_another_seed_others(drawn):
    again = new_kind_pictures(3, seed=np.int64(2))  # numpy's integers count as seeds too
    assert torch.equal(again.pixels, drawn.pixels)
    assert list(again.kinds) == list(drawn.kinds) and again.no_ink == drawn.no_ink
    other = new_kind_pictures(3, seed=3).pixels
    assert other.shape != drawn.pixels.shape or not torch.equal(other, drawn.pixels)


def test_a_drawing_without_ink_is_refused_and_left_out(monkeypatch):
    def blank(rng: np.random.Generator) -> np.ndarray:
        return np.ones((160, 160))  # bare paper

    picture = varied_picture(blank(np.random.default_rng(0)), np.random.default_rng(0))
    with pytest.raises(NoInkError):
        preprocess_image(picture)  # what predict says of it: not a digit, before any model
    monkeypatch.setitem(new_kinds.DRAWERS, "pattern", blank)
    result = new_kind_pictures(2, seed=0)
    assert result.no_ink >= 2 and "pattern" not in set(result.kinds)
    assert len(result.pixels) + result.no_ink == 2 * len(NEW_KINDS)


def test_zero_per_kind_gives_an_empty_set():
    result = new_kind_pictures(0, seed=0)
    assert result.pixels.shape == (0, 28, 28) and result.pixels.dtype == torch.uint8
    assert len(result.kinds) == 0 and result.pictures == [] and result.no_ink == 0


def test_kinds_and_fonts_are_new_to_every_model():
    assert set(NEW_KINDS).isdisjoint(nondigits.KINDS)
    assert set(new_kinds.GLYPH_FONTS).isdisjoint(nondigits.TRAIN_FONTS + nondigits.TEST_FONTS)
    assert set(new_kinds.GLYPHS).isdisjoint(nondigits.LETTERS + nondigits.SYMBOLS)


def test_no_glyph_looks_like_a_digit():
    assert set(new_kinds.GLYPHS).isdisjoint(new_kinds.LOOK_LIKE_DIGITS)
    assert len(set(new_kinds.GLYPHS)) == len(new_kinds.GLYPHS)  # none drawn more often


def test_the_shared_photos_cannot_be_changed_by_a_drawing():
    hopper = photos()[0]
    with pytest.raises(ValueError, match="read-only"):
        hopper[0, 0] = 0.0
    assert photos()[0] is hopper  # read once, then shared


@pytest.mark.parametrize(("per_kind", "seed", "error", "named"), [
    (-1, 0, ConfigError, "per_kind must be 0 or more, not -1"),
    (2.0, 0, TypeError, "per_kind must be a whole number, not float 2.0"),
    ("2", 0, TypeError, "per_kind must be a whole number, not str '2'"),
    (True, 0, TypeError, "per_kind must be a whole number"),
    (2, -5, ConfigError, "seed must be 0 or more, not -5"),
    (2, None, TypeError, "seed must be a whole number, not NoneType None"),
])
def test_bad_arguments_raise_one_line_naming_them(per_kind, seed, error, named):
    with pytest.raises(error) as raised:
        new_kind_pictures(per_kind, seed)
    assert str(raised.value).startswith(named) and "\n" not in str(raised.value)


def test_a_picture_is_8_bit_and_its_ink_dark_on_light():
    drawing = new_kinds.pattern(np.random.default_rng(1))
    picture = varied_picture(drawing, np.random.default_rng(1))
    assert isinstance(picture, Image.Image) and picture.mode == "L"
    assert preprocess_image(picture).inverted  # dark ink on light paper, as a user's photo
