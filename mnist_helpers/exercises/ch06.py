"""Checks for notebook 06's exercises: centring a digit by its centre of mass, comparing two
preprocessing variants on the same pictures, and Otsu's threshold.

Each check runs the learner's function on inputs it makes itself (seeded, so every run asks
the same) and compares the answer with scipy's centre of mass and shift, with its own
bootstrap, or with the package's own threshold, never with a number typed in here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from ..preprocess import _otsu_threshold
from . import raised, verdict

CENTRE = "centring by the centre of mass"
COMPARE = "two variants on the same pictures"
OTSU = "Otsu's threshold"

# --- core: centre a 28×28 digit by its centre of mass ---------------------------------------


def centring_images() -> list[np.ndarray]:
    """The test images: a bright piece and a faint one, off-centre towards the top left and
    (turned round) the bottom right, so that their centre of mass is neither the middle of
    their box nor where the unweighted pixels would put it; ink at the left edge with a faint
    speck at the right edge, which centring pushes off the image; and an image already
    centred."""
    two_pieces = np.zeros((28, 28))
    two_pieces[3:10, 2:6] = 1.0
    two_pieces[12:15, 19:24] = 0.3
    edge = np.zeros((28, 28))
    edge[8:19, 0:6] = np.linspace(1.0, 0.4, 6)  # brighter towards the edge
    edge[14, 27] = 0.05  # a speck: shifted right, it must fall off, not wrap round
    centred = np.zeros((28, 28))
    centred[11:18, 11:18] = 0.8  # its centre of mass is pixel (14, 14) already
    return [two_pieces, np.flip(two_pieces).copy(), edge, centred]


def _shift(pixels: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``pixels`` moved by whole pixels, with zero fill (ink pushed past an edge is lost)."""
    return ndimage.shift(pixels, (round(dy), round(dx)), order=0, mode="constant", cval=0.0)


def reference_centring(pixels: np.ndarray) -> np.ndarray:
    """The reference: ``pixels`` moved by whole pixels so that the centre of mass of its
    ink is as near pixel (14, 14) as whole pixels allow, as ``to_mnist_pixels`` centres."""
    cy, cx = ndimage.center_of_mass(pixels)
    return _shift(pixels, 14 - cy, 14 - cx)


def _centring_slips(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Typical wrong centrings of ``pixels``, each with its hint."""
    cy, cx = ndimage.center_of_mass(pixels)
    rows, cols = np.nonzero(pixels)
    my, mx = rows.mean(), cols.mean()  # every inked pixel counted once, however faint
    by, bx = (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2
    return {
        "the ink wrapped round to the opposite edge (np.roll does that): use a shift with "
        "zero fill, scipy.ndimage.shift(pixels, (dy, dx), order=0, mode='constant')":
            np.roll(pixels, (round(14 - cy), round(14 - cx)), axis=(0, 1)),
        "the shift went the wrong way: move the ink by 14 − centre (towards the middle), "
        "not by centre − 14": _shift(pixels, cy - 14, cx - 14),
        "rows and columns are swapped: axis 0 is y (rows, down), axis 1 is x (columns); "
        "shift by (dy, dx) in that order": _shift(pixels, 14 - cx, 14 - cy),
        "weigh each pixel by its brightness: (ys * pixels).sum() / pixels.sum(), not the "
        "average position of the inked pixels": _shift(pixels, 14 - my, 14 - mx),
        "that centres the box round the ink; MNIST centres the centre of mass (the ink's "
        "average position, weighted by brightness)": _shift(pixels, 14 - by, 14 - bx),
    }


def check_centre_by_mass(centre: Callable[[np.ndarray], Any]) -> bool:
    """Right if ``centre(pixels)`` returns the 28×28 image moved by whole pixels (rounded),
    with zero fill, so that the centre of mass of its ink is at pixel (14, 14), on four test
    images: two off-centre digits, ink at an edge, one already centred."""
    for pixels in centring_images():
        try:
            answer = centre(pixels.copy())
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, CENTRE, raised(error, "your function"))
        try:
            answer = np.asarray(answer, dtype=np.float64)
        except (TypeError, ValueError, RuntimeError):
            answer = None
        if answer is None or answer.shape != (28, 28):
            return verdict(False, CENTRE, "return the moved image: a 28×28 array")
        expected = reference_centring(pixels)
        if np.allclose(answer, expected):
            continue
        if np.allclose(answer, pixels):
            return verdict(False, CENTRE, "nothing moved: find the centre of mass (cy, cx) "
                           "and shift the image by round(14 − cy) rows, round(14 − cx) columns")
        for hint, slip in _centring_slips(pixels).items():
            if np.allclose(answer, slip):
                return verdict(False, CENTRE, hint)
        if np.isclose(answer.sum(), expected.sum(), rtol=0.02):
            return verdict(False, CENTRE, "nearly: move by whole pixels (round 14 − centre to "
                           "the nearest integer) and do not interpolate (order=0)")
        return verdict(False, CENTRE, "compute the centre of mass with np.indices (rows: "
                       "(ys * pixels).sum() / pixels.sum(), columns likewise), then shift by "
                       "round(14 − cy), round(14 − cx) with zero fill")
    return verdict(True, CENTRE, "")


# --- core: two preprocessing variants compared on the same pictures -------------------------

#: How far the learner's interval ends may be from the check's, in pictures: 2,000 redrawn
#: sets (or 1,000) land within one picture of the check's 20,000 on these test sets.
TOLERANCE = 1.5


def variant_results() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The test pairs (variant a right?, variant b right?) on the same pictures, shuffled
    (seeded): a a little ahead of b with disagreements both ways; a losing no picture that b
    gets; two identical variants; and b well ahead of a."""
    rng = np.random.default_rng(64)
    pairs = []
    for pictures, both, only_a, only_b in ((120, 90, 12, 6), (120, 110, 10, 0), (100, 80, 0, 0),
                                           (200, 160, 3, 15)):
        a, b = np.zeros(pictures, bool), np.zeros(pictures, bool)
        a[:both + only_a] = True
        b[:both] = True
        b[both + only_a:both + only_a + only_b] = True
        order = rng.permutation(pictures)
        pairs.append((torch.from_numpy(a[order]), torch.from_numpy(b[order])))
    return pairs


def bootstrap_difference(right_a: torch.Tensor, right_b: torch.Tensor, resamples: int = 20_000,
                         seed: int = 0, paired: bool = True) -> tuple[float, float]:
    """The 95% bootstrap interval of (pictures a reads right − pictures b reads right), as
    notebook 04 makes it: the pictures redrawn with replacement, the same picks for a and b
    (``paired=False`` draws them separately, the slip the check recognises)."""
    generator = torch.Generator().manual_seed(seed)
    n = len(right_a)
    picks = torch.randint(n, (resamples, n), generator=generator)
    other = picks if paired else torch.randint(n, (resamples, n), generator=generator)
    difference = right_a[picks].sum(1).double() - right_b[other].sum(1).double()
    low, high = difference.quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
    return float(low), float(high)


def _four_numbers(answer: Any) -> list[float] | None:
    """The answer as four floats, or None if it is not four numbers."""
    try:
        numbers = [float(np.asarray(v, dtype=np.float64).reshape(())) for v in answer]
    except (TypeError, ValueError, RuntimeError):
        return None
    return numbers if len(numbers) == 4 else None


def _near(interval: tuple[float, float], expected: tuple[float, float]) -> bool:
    """Whether both ends of ``interval`` are within :data:`TOLERANCE` of ``expected``'s."""
    return all(abs(x - y) <= TOLERANCE for x, y in zip(interval, expected, strict=True))


def _interval_hint(interval: tuple[float, float], expected: tuple[float, float], n: int) -> str:
    """Why ``interval`` is not the paired bootstrap interval ``expected`` on ``n`` pictures."""
    low, high = interval
    if low > high:
        return "return the lower end of the interval first, then the upper end"
    if _near((-high, -low), expected):
        return ("that is the interval of b − a: the difference is a's pictures right minus b's, "
                "in that order")
    if _near((low * n, high * n), expected) or _near((low * n / 100, high * n / 100), expected):
        return ("give the interval in pictures (a difference of counts), not as a share or in "
                "points")
    if high - low > expected[1] - expected[0] + 2 * TOLERANCE:
        return ("too wide: redraw the pictures once per resample and use the same picks for a "
                "and b (right_a[picks], right_b[picks]); drawn separately, the interval forgets "
                "that both variants saw the same pictures")
    return ("redraw n pictures with replacement 2,000 times (torch.randint(n, (2000, n))), take "
            "right_a[picks].sum(1) − right_b[picks].sum(1) on each, and its 2.5th and 97.5th "
            "percentiles (quantile 0.025 and 0.975)")


def check_compare_variants(compare: Callable[..., Any]) -> bool:
    """Right if ``compare(right_a, right_b)`` (two tensors of True/False, one value a picture,
    True where that variant read the picture right) returns ``(only_a, only_b, low, high)``:
    the pictures only a reads right, those only b reads right, and the 95% bootstrap interval
    of a's pictures right minus b's, the same pictures redrawn for both, on four test pairs."""
    for right_a, right_b in variant_results():
        try:
            answer = compare(right_a.clone(), right_b.clone())
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, COMPARE, raised(error, "your function"))
        numbers = _four_numbers(answer)
        if numbers is None:
            return verdict(False, COMPARE, "return four numbers: only_a, only_b, low, high")
        only_a, only_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
        counts = (numbers[0], numbers[1])
        if counts != (only_a, only_b):
            if counts == (only_b, only_a):
                hint = "the two counts are swapped: first the pictures only a reads right"
            elif counts == (int(right_a.sum()), int(right_b.sum())):
                hint = ("those are all the pictures each reads right; count only those one "
                        "variant reads right and the other wrong (right_a & ~right_b)")
            else:
                hint = ("only_a counts the pictures a reads right and b wrong "
                        "(right_a & ~right_b).sum(); only_b the other way round")
            return verdict(False, COMPARE, f"{hint} (on {len(right_a)} pictures)")
        expected = bootstrap_difference(right_a, right_b)
        interval = (numbers[2], numbers[3])
        if not _near(interval, expected):
            return verdict(False, COMPARE, _interval_hint(interval, expected, len(right_a))
                           + f" (on {len(right_a)} pictures, {only_a} only a, {only_b} only b)")
    return verdict(True, COMPARE, "")


# --- stretch: Otsu's threshold ---------------------------------------------------------------


def _paper_and_ink(rng: np.random.Generator, n_ink: int) -> np.ndarray:
    """5,000 grey levels: dark paper near 0.08 and ``n_ink`` values of ink near 0.75."""
    paper = rng.normal(0.08, 0.05, 5000 - n_ink)
    ink = rng.normal(0.75, 0.12, n_ink)
    return np.clip(np.concatenate([paper, ink]), 0.0, 1.0)


def threshold_samples() -> list[tuple[np.ndarray, int]]:
    """The test sets of grey levels 0..1 and the number of bins for each: a tiny histogram on
    8 levels, paper with 10% ink, paper with 3% ink (the mean is no split there), and values
    of exactly 0 and 1 (the last bin must hold 1.0)."""
    rng = np.random.default_rng(60)
    tiny = np.repeat((np.arange(8) + 0.5) / 8, [30, 12, 4, 1, 2, 3, 5, 3])
    ends = np.concatenate([np.zeros(300), np.ones(100), rng.uniform(0, 1, 50)])
    return [(tiny, 8), (_paper_and_ink(rng, 500), 64), (_paper_and_ink(rng, 150), 64),
            (ends, 64)]


def _as_level(answer: object) -> float | None:
    """The answer as one float, or None if it is not one number."""
    try:
        return float(np.asarray(answer, dtype=np.float64).reshape(()))
    except (TypeError, ValueError, RuntimeError):
        return None


def _otsu_hint(values: np.ndarray, bins: int, level: float, right: float) -> str:
    """Why the split at ``level`` is not the split at Otsu's threshold ``right``."""
    split = values > level
    if level > 1:
        return ("return a grey level between 0 and 1 (bin k's centre is (k + 0.5) / bins), "
                "not a bin number")
    if np.array_equal(split, values > values.mean()):
        return ("that splits at the mean grey level; Otsu tries every bin k and keeps the one "
                "with the largest between-group variance w0·w1·(m0 − m1)²")
    if np.array_equal(split, values > (values.min() + values.max()) / 2):
        return "that splits halfway between the darkest and the brightest value, not Otsu's"
    if any(np.array_equal(split, values > right + step / bins) for step in (-1, -0.5, 0.5, 1)):
        return ("a bin or half a bin off: return the centre of the last bin of the dark "
                "group, (k + 0.5) / bins")
    return ("for each bin k: w0 = the share of values in bins 0..k, w1 = 1 − w0, m0 and m1 "
            "the means of the two groups; keep the k with the largest w0·w1·(m0 − m1)² and "
            "return (k + 0.5) / bins")


def check_otsu_threshold(otsu: Callable[..., Any]) -> bool:
    """Right if ``otsu(values, bins)`` returns a level that splits ``values`` (grey levels
    0..1, put into ``bins`` equal bins) where the package's Otsu threshold splits them (the
    values above it are the ink), on four test sets."""
    for values, bins in threshold_samples():
        try:
            answer = otsu(values.copy(), bins)
        except IndexError as error:
            return verdict(False, OTSU, f"{raised(error, 'your function')}; a value of "
                           "exactly 1.0 falls in bin number `bins`: clip the bin numbers to "
                           "bins − 1")
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, OTSU, raised(error, "your function"))
        level = _as_level(answer)
        if level is None:
            return verdict(False, OTSU, "return one number: the grey level of the threshold")
        right = _otsu_threshold(values, bins)
        if not np.array_equal(values > level, values > right):
            return verdict(False, OTSU, _otsu_hint(values, bins, level, right)
                           + f" (on {len(values):,} values in {bins} bins)")
    return verdict(True, OTSU, "")
