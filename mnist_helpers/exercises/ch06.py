"""Checks for notebook 06's exercises: centring a digit by its bounding box, comparing two
preprocessing variants on the same pictures, and how much paper and ink fall on the wrong side
of a threshold.

Each check runs the learner's function on inputs it makes itself (seeded, so every run asks
the same) and compares the answer with scipy's shift, with its own bootstrap, or with its own
count of the two groups, never with a number typed in here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from ..preprocess import _otsu_threshold
from . import raised, verdict

CENTRE = "centring by the bounding box"
COMPARE = "two variants on the same pictures"
OTSU = "ink and paper on either side of a threshold"

# --- core: centre a 28×28 digit by its bounding box ----------------------------------------


def centring_images() -> list[np.ndarray]:
    """The test images: a bright piece and a faint one, off-centre towards the top left and
    (turned round) the bottom right, so that the middle of their box is far from their centre
    of mass; a heavy bar with a faint tail, 7 rows by 9 columns (odd sizes, where a box placed
    by its middle and one placed as ``to_mnist_pixels`` pastes differ by a pixel); and an image
    whose box is already where it belongs."""
    two_pieces = np.zeros((28, 28))
    two_pieces[3:10, 2:6] = 1.0
    two_pieces[12:15, 19:24] = 0.3
    tail = np.zeros((28, 28))
    tail[18:20, 17:26] = 1.0  # the bar
    tail[20:25, 24] = 0.2  # a faint tail
    placed = np.zeros((28, 28))
    placed[4:24, 9:19] = 0.8  # 20 rows from row (28 − 20) // 2 = 4, 10 columns from 9
    return [two_pieces, np.flip(two_pieces).copy(), tail, placed]


def _shift(pixels: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``pixels`` moved by whole pixels, with zero fill (ink pushed past an edge is lost)."""
    return ndimage.shift(pixels, (round(dy), round(dx)), order=0, mode="constant", cval=0.0)


def _box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """The ink's bounding box: its top row, left column, height and width, in pixels."""
    rows, cols = np.nonzero(pixels)
    top, left = int(rows.min()), int(cols.min())
    return top, left, int(rows.max()) - top + 1, int(cols.max()) - left + 1


def reference_box_centring(pixels: np.ndarray) -> np.ndarray:
    """The reference: ``pixels`` moved by whole pixels so that its ink's bounding box sits
    where ``to_mnist_pixels`` pastes the fitted ink, top row (28 − height) // 2 and left
    column (28 − width) // 2."""
    top, left, height, width = _box(pixels)
    return _shift(pixels, (28 - height) // 2 - top, (28 - width) // 2 - left)


def _centring_slips(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Typical wrong centrings of ``pixels``, each with its hint."""
    top, left, height, width = _box(pixels)
    cy, cx = ndimage.center_of_mass(pixels)
    return {
        "that centres the centre of mass (what MNIST did); this exercise places the ink's "
        "bounding box instead": _shift(pixels, 14 - cy, 14 - cx),
        "rows and columns are swapped: axis 0 is y (rows, down), axis 1 is x (columns); "
        "shift by (dy, dx) in that order": _shift(pixels, (28 - width) // 2 - left,
                                                   (28 - height) // 2 - top),
        "the box is one pixel taller and wider than last − first: its height is "
        "rows.max() − rows.min() + 1": _shift(pixels, (28 - height + 1) // 2 - top,
                                               (28 - width + 1) // 2 - left),
        "the shift went the wrong way: move the ink by (where the box belongs) − (where it "
        "is)": _shift(pixels, top - (28 - height) // 2, left - (28 - width) // 2),
    }


def check_centre_by_box(centre: Callable[[np.ndarray], Any]) -> bool:
    """Right if ``centre(pixels)`` returns the 28×28 image moved by whole pixels so that its
    ink's bounding box has its top row at (28 − height) // 2 and its left column at
    (28 − width) // 2, on four test images."""
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
        expected = reference_box_centring(pixels)
        if np.allclose(answer, expected):
            continue
        if np.allclose(answer, pixels):
            return verdict(False, CENTRE, "nothing moved: find the ink's first and last rows "
                           "and columns (np.nonzero), then shift the image by whole pixels")
        for hint, slip in _centring_slips(pixels).items():
            if np.allclose(answer, slip):
                return verdict(False, CENTRE, hint)
        top, left, height, width = _box(pixels)
        if answer.any() and _box(answer)[:2] != _box(expected)[:2]:
            return verdict(False, CENTRE, f"your box's top-left pixel is at {_box(answer)[:2]}; "
                           f"a box of {height}×{width} pixels belongs at "
                           f"({(28 - height) // 2}, {(28 - width) // 2})")
        return verdict(False, CENTRE, "move the image by whole pixels with no interpolation "
                       "(order=0): the ink keeps its values, only its place changes")
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


# --- stretch: where Otsu's threshold stops separating ink from paper ------------------------


def paper_and_ink(share: float, n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` grey levels 0..1 as a flat field leaves them (seeded): dark paper near 0.08 and a
    ``share`` (0..1) of ink near 0.75; and which of them are ink (True/False)."""
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ValueError(f"share must be a number from 0 to 1 (the share of ink), got {share!r}")
    rng = np.random.default_rng(seed)
    n_ink = round(share * n)
    values = np.concatenate([rng.normal(0.08, 0.05, n - n_ink), rng.normal(0.75, 0.12, n_ink)])
    return np.clip(values, 0.0, 1.0), np.arange(n) >= n - n_ink


def separation_samples() -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The test sets (values, which are ink, threshold): seven pixels by hand, two of them
    exactly at the threshold (the package keeps as ink what is *above* it); 10% ink at Otsu's
    threshold; 0.2% ink at Otsu's threshold (the paper then lands partly above it); and 30%
    ink at a threshold of 0.3."""
    tiny = np.array([0.1, 0.5, 0.6, 0.2, 0.5, 0.9, 0.3])
    tiny_ink = np.array([False, False, False, False, True, True, True])
    some, few = paper_and_ink(0.1, 2000, seed=1), paper_and_ink(0.002, 20_000, seed=2)
    more = paper_and_ink(0.3, 1000, seed=3)
    return [(tiny, tiny_ink, 0.5), (*some, _otsu_threshold(some[0])),
            (*few, _otsu_threshold(few[0])), (*more, 0.3)]


def _wrong_sides(kept: np.ndarray, is_ink: np.ndarray) -> tuple[float, float]:
    """The share of the paper that ``kept`` (True: taken for ink) puts with the ink, and the
    share of the ink it leaves out."""
    paper_share = float(kept[~is_ink].mean()) if (~is_ink).any() else 0.0
    ink_share = float((~kept[is_ink]).mean()) if is_ink.any() else 0.0
    return paper_share, ink_share


def _two_numbers(answer: Any) -> tuple[float, float] | None:
    """The answer as two floats, or None if it is not two numbers."""
    try:
        numbers = [float(np.asarray(v, dtype=np.float64).reshape(())) for v in answer]
    except (TypeError, ValueError, RuntimeError):
        return None
    return (numbers[0], numbers[1]) if len(numbers) == 2 else None


def _separation_hint(got: tuple[float, float], values: np.ndarray, is_ink: np.ndarray,
                     threshold: float) -> str:
    """Why ``got`` is not (share of the paper above ``threshold``, share of the ink not)."""
    paper, ink = _wrong_sides(values > threshold, is_ink)
    counts = (paper * int((~is_ink).sum()), ink * int(is_ink.sum()))
    if np.allclose(got, (ink, paper)):
        return "the two are swapped: first the share of the paper above the threshold"
    if np.allclose(got, counts):
        return ("those are counts of pixels: divide each by the size of its own group "
                "(the paper's pixels, the ink's pixels)")
    if np.allclose(got, (counts[0] / len(values), counts[1] / len(values))):
        return ("those are shares of all the pixels: divide by the size of each group instead "
                "(the paper's pixels for the first, the ink's for the second)")
    if np.allclose(got, _wrong_sides(values >= threshold, is_ink)):
        return ("a pixel exactly at the threshold is not ink: the package keeps what is "
                "above it (values > threshold)")
    return ("the paper is where is_ink is False: the first number is the share of those "
            "values above the threshold, the second the share of the ink's values at or below it")


def check_separation(wrong_side: Callable[..., Any]) -> bool:
    """Right if ``wrong_side(values, is_ink, threshold)`` returns the share of the paper
    above ``threshold`` and the share of the ink at or below it (each of its own group), on
    four test sets."""
    for values, is_ink, threshold in separation_samples():
        try:
            answer = wrong_side(values.copy(), is_ink.copy(), threshold)
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, OTSU, raised(error, "your function"))
        got = _two_numbers(answer)
        if got is None:
            return verdict(False, OTSU, "return two numbers: the share of the paper above the "
                           "threshold, the share of the ink at or below it")
        expected = _wrong_sides(values > threshold, is_ink)
        if not np.allclose(got, expected):
            return verdict(False, OTSU, _separation_hint(got, values, is_ink, threshold)
                           + f" (on {len(values):,} values, {int(is_ink.sum()):,} of them ink)")
    return verdict(True, OTSU, "")
