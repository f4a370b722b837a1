"""scikit-learn's real UCI handwriting as pictures (mnist_helpers.lab.uci), on the real data."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from mnist_helpers.errors import ConfigError
from mnist_helpers.lab.uci import uci_digit_images

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def uci() -> tuple[list[Image.Image], np.ndarray]:
    """All 1,797 digits at the default size, loaded once for the module."""
    return uci_digit_images()


def test_every_digit_is_a_64_pixel_grey_picture_with_its_label(uci):
    images, labels = uci
    assert len(images) == len(labels) == 1797
    assert {(image.mode, image.size) for image in images} == {("L", (64, 64))}
    # Every digit 0..9 is there, about 180 of each (the data set's own balance).
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_ink_is_dark_and_paper_light(uci):
    images, labels = uci
    zero = np.asarray(images[0])  # a 0: load_digits().images[0] prints its 8×8 counts
    assert labels[0] == 0
    assert zero[0, 0] == 255  # the corner: a count of 0, bare paper
    assert zero[32, 32] == 255  # the 0's hole: the four middle cells hold no ink
    assert zero[12, 28] < 80  # on the 0's top stroke (cell row 1, column 3: a count of 15)


def test_size_is_honoured_and_checked():
    images, _ = uci_digit_images(size=16)
    assert images[0].size == (16, 16)
    with pytest.raises(ValueError, match="size"):
        uci_digit_images(size=4)
    with pytest.raises(ValueError, match="size"):
        uci_digit_images(size=64.0)


def test_without_scikit_learn_the_error_says_how_to_install_it(monkeypatch):
    # None in sys.modules makes `import sklearn...` raise ImportError, as if it were missing;
    # submodules already imported (sklearn.datasets) must be hidden too, or they are reused.
    for name in [n for n in sys.modules if n == "sklearn" or n.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ConfigError, match="pip install scikit-learn"):
        uci_digit_images()
