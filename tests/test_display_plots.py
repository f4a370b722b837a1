"""A zoomed part of an image (``mark_region``, ``show_region``): the pixels shown are exactly
the region's, numbered as in the whole image, and the region is outlined where it comes from."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from mnist_helpers.display.plots import mark_region, show_region


@pytest.fixture
def image() -> np.ndarray:
    """A 40×60 image whose every pixel holds its own number (row × 100 + column)."""
    rows, cols = np.indices((40, 60))
    return (rows * 100 + cols).astype(float)


def test_the_region_is_shown_pixel_for_pixel_with_the_whole_images_numbers(image, tmp_path):
    fig, (whole, zoom) = plt.subplots(1, 2)
    whole.imshow(image)
    shown = show_region(zoom, image, slice(10, 16), slice(20, 29), source=whole,
                        color="tab:red", title="zoomed", cmap="gray")
    assert np.array_equal(shown.get_array(), image[10:16, 20:29])
    assert shown.get_extent() == [19.5, 28.5, 15.5, 9.5]  # left, right, bottom, top
    assert shown.get_interpolation() == "nearest"
    assert shown.get_cmap().name == "gray"
    assert list(zoom.get_xticks()) == [20, 28] and list(zoom.get_yticks()) == [10, 15]
    assert zoom.get_title() == "zoomed"
    assert all(spine.get_edgecolor() == to_rgba("tab:red") for spine in zoom.spines.values())
    (outline,) = [p for p in whole.patches if isinstance(p, Rectangle)]
    assert outline.get_xy() == (19.5, 9.5)
    assert (outline.get_width(), outline.get_height()) == (9, 6)
    assert outline.get_edgecolor() == to_rgba("tab:red") and not outline.get_fill()
    fig.savefig(tmp_path / "zoom.png")
    assert (tmp_path / "zoom.png").stat().st_size > 0
    plt.close(fig)


def test_open_and_negative_slices_count_in_the_images_own_size(image):
    fig, (whole, zoom) = plt.subplots(1, 2)
    shown = show_region(zoom, image, slice(None, 4), slice(-3, None), source=whole)
    assert np.array_equal(shown.get_array(), image[:4, 57:])
    assert shown.get_extent() == [56.5, 59.5, 3.5, -0.5]
    (outline,) = whole.patches
    assert outline.get_xy() == (56.5, -0.5)
    assert (outline.get_width(), outline.get_height()) == (3, 4)
    plt.close(fig)


def test_a_colour_image_keeps_its_three_channels(image):
    colour = np.dstack([image / image.max()] * 3)
    fig, ax = plt.subplots()
    shown = show_region(ax, colour, slice(5, 7), slice(1, 4))
    assert shown.get_array().shape == (2, 3, 3)
    assert not ax.patches  # no source: nothing outlined
    plt.close(fig)


def test_an_interpolation_given_replaces_the_default(image):
    fig, ax = plt.subplots()
    assert show_region(ax, image, slice(0, 2), slice(0, 2),
                       interpolation="bilinear").get_interpolation() == "bilinear"
    plt.close(fig)


@pytest.mark.parametrize("rows", [slice(0, 10, 2), slice(5, 5), slice(30, 10), 3])
def test_a_region_of_no_pixels_or_not_a_plain_slice_is_refused(image, rows):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="region"):
        show_region(ax, image, rows, slice(0, 10))
    plt.close(fig)


@pytest.mark.parametrize("cols", [slice(None, 10), slice(3, None), slice(-5, -1), slice(4, 4)])
def test_mark_region_needs_the_first_pixel_and_the_one_after_the_last(cols):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="first pixel"):
        mark_region(ax, slice(0, 5), cols)
    plt.close(fig)


def test_a_figure_of_photos_is_shown_once_as_a_jpeg_at_twice_its_screen_dots(monkeypatch):
    import io

    import IPython.display
    from PIL import Image as PILImage

    from mnist_helpers.display.notebook import show_as_jpeg

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig = plt.figure(figsize=(4, 2))
    fig.add_subplot().imshow(np.random.default_rng(0).random((50, 100)), cmap="gray")
    show_as_jpeg(fig, dpi=50)
    assert not plt.fignum_exists(fig.number)  # closed: the inline backend will not show it again
    [image] = shown
    assert image.format == "jpeg"
    with PILImage.open(io.BytesIO(image.data)) as decoded:
        assert decoded.format == "JPEG"
        width, height = decoded.size  # 4×2 inches at 2 × 50 dpi, trimmed to what is drawn
        assert 300 < width <= 420 and 150 < height <= 220
    assert image.width == width // 2  # shown at 50 dots per inch: half its pixels
