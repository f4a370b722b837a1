"""Saying "not a digit": the generated non-digits, the refusal rule and its threshold, and
calibration (temperature scaling, reliability, expected calibration error)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_helpers.calibration import (
    auroc,
    fit_refusal_threshold,
    fit_temperature,
    refusal_curve,
    reliability,
)
from mnist_helpers.nondigits import (
    KINDS,
    TEST_FONTS,
    TRAIN_FONTS,
    draw_nondigit,
    load_fonts,
    nondigit_pixels,
    pair_pixels,
)
from mnist_helpers.predict import Refusal, decide


def test_train_and_test_fonts_do_not_overlap_and_exist():
    assert not set(TRAIN_FONTS) & set(TEST_FONTS)
    assert len(load_fonts(TRAIN_FONTS + TEST_FONTS)) == len(TRAIN_FONTS) + len(TEST_FONTS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_drawn_as_dark_ink_on_light_paper(kind):
    picture = draw_nondigit(kind, np.random.default_rng(0), load_fonts(TRAIN_FONTS))
    assert picture.ndim == 2 and 0 <= picture.min() and picture.max() <= 1
    border = np.concatenate([picture[0], picture[-1], picture[:, 0], picture[:, -1]])
    assert np.median(border) > 0.5, "paper at the edges"


def _centred_by_mass(pixels: torch.Tensor) -> bool:
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    mass = pixels.float().sum((1, 2))
    centre_y = (pixels.float() * ys).sum((1, 2)) / mass
    centre_x = (pixels.float() * xs).sum((1, 2)) / mass
    return bool((centre_y - 14).abs().max() < 1.5 and (centre_x - 14).abs().max() < 1.5)


def test_nondigit_pixels_are_mnist_shaped_seeded_and_varied():
    pixels = nondigit_pixels(40, seed=3)
    assert pixels.shape == (40, 28, 28) and pixels.dtype == torch.uint8
    assert torch.equal(pixels, nondigit_pixels(40, seed=3))
    assert not torch.equal(pixels, nondigit_pixels(40, seed=4))
    assert (pixels.flatten(1).max(1).values > 30).all(), "every one has ink"
    assert len({p.numpy().tobytes() for p in pixels}) == 40
    assert _centred_by_mass(pixels), "centred by mass, as MNIST's digits"
    assert not torch.equal(nondigit_pixels(8, seed=3, fonts=TEST_FONTS, kinds=("word",)),
                           nondigit_pixels(8, seed=3, kinds=("word",))), "fonts are used"


def test_pair_pixels_are_two_digits_side_by_side(train_tensors):
    digits = train_tensors.pixels[:200]
    pairs = pair_pixels(30, seed=1, digits=digits)
    assert pairs.shape == (30, 28, 28) and pairs.dtype == torch.uint8
    assert torch.equal(pairs, pair_pixels(30, seed=1, digits=digits))
    assert _centred_by_mass(pairs)
    ink = pairs.float().flatten(1).gt(60)
    single = digits.float().flatten(1).gt(60)
    # two digits squeezed into one 20x20 box are wider than tall, unlike most single digits
    widths = (pairs > 60).any(1).sum(1).float()
    heights = (pairs > 60).any(2).sum(1).float()
    assert (widths >= heights).float().mean() > 0.9
    assert ink.any(1).all() and single.any(1).all()
    assert pair_pixels(0, seed=1, digits=digits).shape == (0, 28, 28)


def test_decide_refuses_by_the_extra_classes_or_the_threshold():
    digit = [0.0] * 10
    digit[7] = 0.9
    assert decide(digit + [0.1]) == (7, None)
    assert decide(digit + [0.05, 0.05]) == (7, None)
    refused, reason = decide([0.03] * 10 + [0.7])
    assert refused is None and reason.startswith("not a digit (the model is 70% sure")
    refused, reason = decide([0.02] * 10 + [0.2, 0.6])
    assert refused is None and "two digits, 60%" in reason and "as a number" in reason
    low = [0.05] * 10
    low[3] = 0.4
    assert decide(low) == (3, None), "no threshold: the best digit"
    refused, reason = decide(low, Refusal(threshold=0.5))
    assert refused is None and "a 3 at 40%, below 50%" in reason
    with pytest.raises(Exception, match="not a number"):
        decide([float("nan")] * 10)


def test_refusal_threshold_from_metadata_is_checked():
    assert Refusal.from_metadata({"refusal_threshold": 0.42}).threshold == 0.42
    for bad in (-1, 1.5, "0.4", None, True):
        assert Refusal.from_metadata({"refusal_threshold": bad}).threshold in (0.0, 1.0)
    assert Refusal.from_metadata({}).threshold == 0.0


def test_refusal_curve_and_threshold_on_made_up_probabilities():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (1000,), generator=generator)
    digits = torch.full((1000, 11), 0.01)
    digits[torch.arange(1000), labels] = 0.9  # sure and right
    digits[:20, :] = 0.09  # 20 unsure ones
    others = torch.full((500, 11), 0.05)
    others[:, 10] = 0.5  # the "not a digit" class wins for every non-digit...
    others[:100, 10], others[:100, 3] = 0.05, 0.45  # ...but 100 look like a 3 at 45%
    curve = refusal_curve(digits, labels, others)
    assert curve.digits_right[0] == pytest.approx(0.98 + 0.002, abs=0.003)
    assert curve.nondigits_refused[0] == pytest.approx(0.8)
    threshold = fit_refusal_threshold(curve, budget=0.003)
    assert 0.45 < threshold <= 0.9
    at = int((curve.thresholds <= threshold).nonzero().max())
    assert curve.nondigits_refused[at] == 1.0


def test_calibration_auroc_counts_the_pairs_a_digit_wins_ties_half():
    digits, nondigits = torch.tensor([0.9, 0.7, 0.5]), torch.tensor([0.5, 0.2])
    # pairs: 0.9 and 0.7 beat both (4), 0.5 beats 0.2 and ties 0.5 (1.5): 5.5 of 6
    assert auroc(digits, nondigits) == pytest.approx(5.5 / 6)
    assert auroc(digits, torch.tensor([0.0])) == 1.0
    assert auroc(torch.tensor([0.0]), digits) == 0.0
    generator = torch.Generator().manual_seed(0)
    a, b = torch.rand(300, generator=generator), torch.rand(200, generator=generator) - 0.2
    pairwise = ((b[:, None] < a[None, :]).double()
                + 0.5 * (b[:, None] == a[None, :]).double()).mean()
    assert auroc(a, b) == pytest.approx(float(pairwise))
    with pytest.raises(ValueError):
        auroc(a, torch.tensor([]))


def test_temperature_scaling_makes_overconfident_logits_honest():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (4000,), generator=generator)
    logits = torch.randn(4000, 10, generator=generator)
    logits[torch.arange(4000), labels] += 2.0  # right about 60% of the time...
    overconfident = logits * 4  # ...but sure of itself
    temperature = fit_temperature(overconfident, labels)
    assert temperature > 1.5, "overconfident logits are cooled down"
    before = reliability(torch.softmax(overconfident, 1), labels)
    after = reliability(torch.softmax(overconfident / temperature, 1), labels)
    assert after.expected_calibration_error < before.expected_calibration_error / 3
    assert int(before.count.sum()) == 4000 and len(before.edges) == 11
