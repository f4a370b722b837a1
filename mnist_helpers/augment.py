"""Data augmentation on whole batches of tensors (no per-sample PIL work).

Each image in the batch gets its own small random rotation, shift and scale, applied with
one ``affine_grid``/``grid_sample`` call for the whole batch: the same idea as
``torchvision.transforms.v2.RandomAffine``, which draws one set of parameters per call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import BACKGROUND


def random_affine(
    images: torch.Tensor,
    *,
    max_degrees: float = 10.0,
    max_shift: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rotate (±``max_degrees``), shift (± ``max_shift`` of the width) and scale each image.

    ``images`` is N×1×H×W, normalised; new border pixels get the background value.
    Random numbers come from ``generator`` (a CPU generator) so runs repeat under a seed.
    """
    n = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform(-max_degrees, max_degrees) * (math.pi / 180.0)
    factor = uniform(*scale)
    shift_x = uniform(-max_shift, max_shift) * 2.0  # grid coordinates span [-1, 1]
    shift_y = uniform(-max_shift, max_shift) * 2.0
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    ).to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    shifted = images - BACKGROUND  # so zero padding means "background"
    return F.grid_sample(shifted, grid, align_corners=False, padding_mode="zeros") + BACKGROUND


def random_stroke_width(
    images: torch.Tensor, *, p: float = 0.3, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Thicken (dilate) or thin (erode) the strokes of a random ``p`` share of the images each.

    Real pens draw thicker or thinner lines than MNIST's; a 3×3 max-pool of the ink grows a
    stroke by a pixel, a min-pool shrinks it.
    """
    n = images.shape[0]
    choice = torch.rand(n, generator=generator).to(images.device)
    thick = (choice < p / 2).view(n, 1, 1, 1)
    thin = ((choice >= p / 2) & (choice < p)).view(n, 1, 1, 1)
    dilated = F.max_pool2d(images, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-images, 3, stride=1, padding=1)
    return torch.where(thick, dilated, torch.where(thin, eroded, images))


def random_low_resolution(
    images: torch.Tensor, *, p: float = 0.25, sizes: tuple[int, int] = (8, 16),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Blur a random ``p`` share of the images the way a small scan or a far-away photo does:
    shrink each to between ``sizes[0]`` and ``sizes[1]`` pixels a side (averaging), then
    enlarge it back (bilinear), and stretch it back to the same brightest ink. An 8×8 scan
    of a digit, fitted into MNIST's 20×20 box, is as blurry as a 28×28 image shrunk to
    11×11."""
    n, _, height, width = images.shape
    chosen = torch.rand(n, generator=generator) < p
    size = torch.randint(sizes[0], sizes[1] + 1, (n,), generator=generator)
    out = images.clone()
    shifted = images - BACKGROUND  # so the averaging sees empty paper as zero
    for side in size[chosen].unique().tolist():
        picked = (chosen & (size == side)).nonzero().squeeze(1).to(images.device)
        small = F.interpolate(shifted[picked], size=(side, side), mode="area")
        blurred = F.interpolate(small, size=(height, width), mode="bilinear",
                                align_corners=False)
        # As bright as before: preparing a real picture stretches its ink to full contrast.
        peak = shifted[picked].amax((1, 2, 3), keepdim=True)
        blurred = blurred * (peak / blurred.amax((1, 2, 3), keepdim=True).clamp_min(1e-6))
        out[picked] = blurred + BACKGROUND
    return out


def augment_batch(images: torch.Tensor, generator: torch.Generator | None = None,
                  low_resolution: float = 0.0) -> torch.Tensor:
    """The training augmentation: stroke width, then (for a ``low_resolution`` share of the
    images) a blur of low resolution, then a random rotation, shift and scale."""
    images = random_stroke_width(images, generator=generator)
    if low_resolution > 0:
        images = random_low_resolution(images, p=low_resolution, generator=generator)
    return random_affine(images, generator=generator)
