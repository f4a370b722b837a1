"""Real-handwriting support: the shipped model, uneven light, chalk on a board, stroke-width
augmentation, the naive tutorial-script preprocessing for comparison, and the sample images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_helpers import TensorBatches, evaluate, load_checkpoint, load_mnist
from mnist_helpers.augment import augment_batch, random_low_resolution, random_stroke_width
from mnist_helpers.config import MNIST_MEAN, MNIST_STD, sample_images_dir, shipped_checkpoint_path
from mnist_helpers.evaluate import class_probabilities
from mnist_helpers.images import open_image
from mnist_helpers.lab.pictures import label_from_name, make_sample_images, mnist_as_photo
from mnist_helpers.predict import predict_files
from mnist_helpers.preprocess import naive_preprocess, preprocess_image


@pytest.fixture(scope="module")
def test_digits(mnist_raw_dir, mnist_cache):
    test = load_mnist(False, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    return test.data[:60].numpy(), test.targets[:60].numpy()


@pytest.fixture(scope="module")
def shipped_model():
    path = shipped_checkpoint_path()
    assert path.is_file(), f"the shipped model {path} is missing"
    model, info = load_checkpoint(path, "cpu")
    return model, info


def test_shipped_model_is_small_robust_and_accurate(shipped_model, test_tensors):
    model, info = shipped_model
    assert shipped_checkpoint_path().stat().st_size <= 2 * 1024 * 1024
    assert info.profile["name"] == "robust" and info.profile["augment"] is True
    result = evaluate(model, TensorBatches(test_tensors, 1000))
    assert result.accuracy >= 0.993, result.log_line()


def _centred(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float64) / 255.0).reshape(-1)


@pytest.mark.parametrize("variant", ["photo", "thick", "thin", "chalk"])
def test_photos_under_uneven_light_come_back_as_the_digit(test_digits, variant):
    """The shading of the page must not be taken for ink: the 28×28 result looks like the
    MNIST original (correlation), whatever the pen or the polarity."""
    rng = np.random.default_rng(0)
    pixels, _ = test_digits
    scores = []
    for i in range(20):
        photo = mnist_as_photo(pixels[i], rng, stroke={"thick": 1, "thin": -1}.get(variant, 0),
                               light_on_dark=variant == "chalk")
        canvas = preprocess_image(photo).pixels.reshape(-1)
        scores.append(np.corrcoef(canvas, _centred(pixels[i]))[0, 1])
    assert np.median(scores) > 0.75, scores


def test_shipped_model_reads_photos_much_better_than_the_naive_way(test_digits, shipped_model):
    model, _ = shipped_model
    rng = np.random.default_rng(1)
    pixels, labels = test_digits
    photos = [mnist_as_photo(p, rng) for p in pixels]
    ours = class_probabilities(model, torch.cat([preprocess_image(p).tensor for p in photos]))
    naive = class_probabilities(model, torch.cat([naive_preprocess(p) for p in photos]))
    truth = torch.from_numpy(labels)
    ours_acc = (ours.argmax(1) == truth).float().mean().item()
    naive_acc = (naive.argmax(1) == truth).float().mean().item()
    assert ours_acc >= 0.9, ours_acc
    assert ours_acc > naive_acc + 0.3, (ours_acc, naive_acc)


def test_naive_preprocess_is_the_squashed_inverted_picture(test_digits):
    pixels, _ = test_digits
    photo = mnist_as_photo(pixels[0], np.random.default_rng(0))
    tensor = naive_preprocess(photo)
    assert tensor.shape == (1, 1, 28, 28)
    raw = tensor * MNIST_STD + MNIST_MEAN
    assert raw.min() >= -1e-6 and raw.max() <= 1 + 1e-6
    # paper (light) became dark: most of the picture is near black after inversion
    assert (raw < 0.4).float().mean() > 0.8


def test_stroke_width_augmentation_thickens_and_thins(test_tensors):
    images = test_tensors.batch(slice(0, 200))[0]
    generator = torch.Generator().manual_seed(0)
    changed = random_stroke_width(images, p=1.0, generator=generator)
    ink_before = (images > 0).sum(dim=(1, 2, 3))
    ink_after = (changed > 0).sum(dim=(1, 2, 3))
    assert (ink_after > ink_before).any() and (ink_after < ink_before).any()
    untouched = random_stroke_width(images, p=0.0, generator=generator)
    assert torch.equal(untouched, images)


def test_low_resolution_augmentation_blurs_a_share_and_keeps_the_brightest_ink(test_tensors):
    """A quarter of the images blurred like a small scan: fewer sharp edges, the same peak
    brightness (preparing a real picture stretches its ink to full contrast), the rest as
    they were; the same seed blurs the same images."""
    images = test_tensors.batch(slice(0, 400))[0]
    blurred = random_low_resolution(images, p=0.25, generator=torch.Generator().manual_seed(0))
    changed = (blurred != images).flatten(1).any(1)
    assert 0.15 < changed.float().mean() < 0.35
    edges = (images[:, :, :, 1:] - images[:, :, :, :-1]).abs().amax((1, 2, 3))
    edges_after = (blurred[:, :, :, 1:] - blurred[:, :, :, :-1]).abs().amax((1, 2, 3))
    assert (edges_after[changed] < edges[changed]).float().mean() > 0.9
    assert torch.allclose(blurred.amax((1, 2, 3)), images.amax((1, 2, 3)), atol=1e-5)
    again = random_low_resolution(images, p=0.25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(blurred, again)
    assert torch.equal(augment_batch(images[:8], torch.Generator().manual_seed(1)),
                       augment_batch(images[:8], torch.Generator().manual_seed(1),
                                     low_resolution=0.0))


def test_augment_batch_is_repeatable_under_a_seed(test_tensors):
    images = test_tensors.batch(slice(0, 64))[0]
    a = augment_batch(images, torch.Generator().manual_seed(3))
    b = augment_batch(images, torch.Generator().manual_seed(3))
    c = augment_batch(images, torch.Generator().manual_seed(4))
    assert a.shape == images.shape and torch.equal(a, b) and not torch.equal(a, c)


def test_sample_images_are_made_and_named_with_their_digit(tmp_path, mnist_raw_dir,
                                                           private_default_data_dir, shipped_model):
    written = make_sample_images(tmp_path, data_dir=mnist_raw_dir)
    assert len(written) == 30
    labels = [label_from_name(p) for p in written]
    assert sorted(labels) == sorted(list(range(10)) * 3)
    model, _ = shipped_model
    batch = torch.cat([preprocess_image(open_image(p)).tensor for p in written])
    right = (class_probabilities(model, batch).argmax(1) == torch.tensor(labels)).sum().item()
    assert right >= 27, right


def test_truncated_jpeg_animated_gif_and_huge_photo(tmp_path, test_digits, shipped_model):
    from mnist_helpers.errors import ImageError

    model, _ = shipped_model
    pixels, labels = test_digits
    rng = np.random.default_rng(5)
    photo = mnist_as_photo(pixels[1], rng).convert("RGB")
    full = tmp_path / "photo.jpg"
    photo.save(full, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    gif = tmp_path / "animated.gif"
    other = mnist_as_photo(pixels[2], rng).convert("L")
    photo.convert("L").save(gif, save_all=True, append_images=[other], duration=200, loop=0)
    huge = tmp_path / "huge.jpg"
    page = mnist_as_photo(pixels[3], rng, page=1000).resize((6000, 4000)).convert("RGB")
    page.save(huge, quality=85)

    results = list(predict_files(model, [full, truncated, gif, huge]))
    assert [type(r).__name__ for r in results] == ["Prediction", "ImageError", "Prediction",
                                                   "Prediction"]
    assert isinstance(results[1], ImageError) and "truncated.jpg" in str(results[1])
    assert results[0].digit == labels[1]
    assert results[2].digit == labels[1]  # the first frame of the animation
    assert results[3].digit == labels[3]


def test_the_shipped_sample_images_are_the_ones_the_generator_makes(tmp_path, mnist_raw_dir,
                                                                    private_default_data_dir):
    """The 30 sample images that ship in the package are what ``make_sample_images`` writes
    (so they can be made again, not just trusted); Pillow versions draw pen joints a little
    differently, so within a mean of 2 grey levels of 255."""
    import numpy as np
    from PIL import Image

    made = {p.name: p for p in make_sample_images(tmp_path, data_dir=mnist_raw_dir)}
    shipped = {p.name: p for p in sample_images_dir().glob("*.png")}
    assert sorted(made) == sorted(shipped)
    for name, path in made.items():
        made_pixels = np.asarray(Image.open(path), dtype=float)
        shipped_pixels = np.asarray(Image.open(shipped[name]), dtype=float)
        assert made_pixels.shape == shipped_pixels.shape
        assert np.abs(made_pixels - shipped_pixels).mean() < 2.0, name
