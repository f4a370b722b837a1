"""Checks for notebook 02's exercises (the model): softmax, the output-size rule, a
convolution by hand, an edge filter, and a small network of your own.

Every check runs what you wrote on inputs it makes itself and compares the result with
PyTorch's own functions (``torch.softmax``, ``torch.nn.functional.conv2d``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..evaluate import evaluation_mode
from ..models import count_parameters
from . import NOT_WRITTEN, raised, verdict

#: The hint for a function whose body is still the exercise's ``raise NotImplementedError``.
# --- warm-up: softmax ------------------------------------------------------------------------


def check_softmax(softmax: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Is ``softmax(logits)`` (a batch of rows of scores) equal to ``torch.softmax(logits,
    dim=1)``, for ordinary logits and for logits as large as 1000?"""
    what = "softmax"
    ordinary = torch.randn(4, 10, generator=torch.Generator().manual_seed(0)) * 3
    large = torch.tensor([[1000.0, 999.0, 990.0, 0.0], [-1000.0, -1001.0, -1000.0, -1005.0]])
    for logits in (ordinary, large):
        try:
            mine = softmax(logits.clone())
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, what, raised(error))
        if not isinstance(mine, torch.Tensor) or mine.shape != logits.shape:
            shape = tuple(mine.shape) if isinstance(mine, torch.Tensor) else type(mine).__name__
            return verdict(False, what, f"for logits of shape {tuple(logits.shape)} return a "
                           f"tensor of the same shape (one probability per score), not {shape}")
        expected = torch.softmax(logits, dim=1)
        if torch.allclose(mine.double(), expected.double(), atol=1e-6):
            continue
        if logits is large and not torch.isfinite(mine).all():
            return verdict(False, what, "on logits near 1000 it gives inf or nan: exp(1000) "
                           "overflows. Subtract each row's largest logit first "
                           "(logits - logits.max(dim=1, keepdim=True).values): the result is "
                           "the same, and the largest exponential is then exp(0) = 1")
        if (mine < 0).any():
            return verdict(False, what, "some of its probabilities are negative: take the "
                           "exponential of each logit (torch.exp), which is always positive")
        row_sums = mine.sum(dim=1)
        if not torch.allclose(row_sums.double(), torch.ones(len(logits), dtype=torch.double),
                              atol=1e-4):
            return verdict(False, what, "each row must add up to 1: divide each row's "
                           "exponentials by that row's sum (.sum(dim=1, keepdim=True)); its "
                           f"rows add up to {[round(float(s), 3) for s in row_sums]}")
        return verdict(False, what, "the rows add up to 1 but the values differ from "
                       "torch.softmax: each probability is exp(logit) / sum of exp(logits)")
    return verdict(True, what + ": equal to torch.softmax, even for logits near 1000", "")


# --- warm-up: the output-size rule -----------------------------------------------------------


def _pytorch_size(size: int, kernel: int, padding: int, stride: int) -> int:
    """The output's height when PyTorch convolves a size×size image."""
    image = torch.zeros(1, 1, size, size)
    return F.conv2d(image, torch.zeros(1, 1, kernel, kernel), padding=padding,
                    stride=stride).shape[-1]


def check_output_size(output_size: Callable[..., int]) -> bool:
    """Does ``output_size(size, kernel, padding, stride)`` give the height (or width) PyTorch's
    convolution outputs, for every combination of a grid of settings?"""
    what = "the output-size rule"
    cases = [(n, k, p, s) for n in (5, 7, 12, 24, 28) for k in (1, 2, 3, 5) for p in (0, 1, 2)
             for s in (1, 2, 3) if n + 2 * p >= k]
    for n, k, p, s in cases:
        try:
            mine = output_size(n, k, p, s)
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            hint = raised(error, f"output_size({n}, {k}, {p}, {s})")
            return verdict(False, what, hint if hint == NOT_WRITTEN else
                           f"{hint}; it takes size, kernel, padding, stride")
        expected = _pytorch_size(n, k, p, s)
        try:
            whole = operator.index(mine)
        except TypeError:
            return verdict(False, what, f"output_size({n}, {k}, {p}, {s}) returned {mine!r}: "
                           "return a whole number (divide with //, which rounds down)")
        if whole == expected:
            continue
        where = (f"for size={n}, kernel={k}, padding={p}, stride={s} PyTorch gives "
                 f"{expected}, yours {whole}")
        if p == 0 and s == 1:
            hint = f"{where}: a kernel of width k fits size - k + 1 times"
        elif s == 1:
            hint = f"{where}: padding adds p pixels on each side, so the size grows by 2p"
        else:
            hint = (f"{where}: with a stride the kernel moves s pixels at a time: "
                    "(size + 2·padding − kernel) // stride + 1 (divide first, round down, "
                    "then add 1)")
        return verdict(False, what, hint)
    return verdict(True, f"{what}: agrees with PyTorch on {len(cases)} settings", "")


# --- core: a convolution by hand ---------------------------------------------------------------


def check_conv2d(conv2d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Does ``conv2d(image, kernel)`` (a 2-d image, a 2-d k×k kernel; no padding, stride 1)
    equal ``torch.nn.functional.conv2d`` on the same numbers?"""
    what = "your conv2d"
    generator = torch.Generator().manual_seed(0)
    cases = [
        (torch.arange(25.0).reshape(5, 5), torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])),
        (torch.randn(7, 9, generator=generator), torch.randn(3, 3, generator=generator)),
        (torch.randn(6, 5, generator=generator), torch.randn(2, 2, generator=generator)),
        (torch.randn(8, 8, generator=generator), torch.randn(5, 5, generator=generator)),
    ]
    for image, kernel in cases:
        try:
            mine = conv2d(image.clone(), kernel.clone())
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, what, raised(error, f"on a {tuple(image.shape)} image "
                                                f"and a {tuple(kernel.shape)} kernel it"))
        try:
            mine = torch.as_tensor(mine, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            return verdict(False, what, f"it returned a {type(mine).__name__}: return a "
                           "tensor of outputs")
        expected = F.conv2d(image[None, None], kernel[None, None])[0, 0]
        if mine.shape != expected.shape:
            return verdict(False, what, f"a {tuple(image.shape)} image and a "
                           f"{tuple(kernel.shape)} kernel give {tuple(expected.shape)} outputs "
                           f"(H − k + 1 rows, W − k + 1 columns), yours {tuple(mine.shape)}")
        if torch.allclose(mine, expected, atol=1e-4):
            continue
        flipped = F.conv2d(image[None, None], kernel.flip(0, 1)[None, None])[0, 0]
        if torch.allclose(mine, flipped, atol=1e-4):
            return verdict(False, what, "you flipped the kernel (the textbook convolution); "
                           "PyTorch's conv2d does not: multiply image[i + a, j + b] by "
                           "kernel[a, b]")
        return verdict(False, what, "output[i, j] is the sum of image[i:i + k, j:j + k] "
                       f"times the kernel, element by element; on a {tuple(image.shape)} image "
                       f"the first row should be {[round(v, 2) for v in expected[0].tolist()]}, "
                       f"yours is {[round(v, 2) for v in mine[0].tolist()]}")
    return verdict(True, f"{what}: equal to F.conv2d on {len(cases)} images and kernels", "")


# --- core: an edge filter ----------------------------------------------------------------------


def _outputs(kernel: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Every output of ``kernel`` slid over ``image`` (no padding, stride 1)."""
    return F.conv2d(image[None, None], kernel[None, None]).flatten()


def check_edge_filter(kernel: torch.Tensor | None) -> bool:
    """Is ``kernel`` a 3×3 filter for horizontal edges: 0 on a flat patch, 0 on a vertical
    edge, and positive where the image gets brighter from top to bottom?"""
    what = "horizontal-edge filter"
    if kernel is None:
        return verdict(False, what, "not written yet: make it a 3×3 tensor, run that "
                       "cell, then this one")
    try:
        kernel = torch.as_tensor(kernel, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as error:
        return verdict(False, what,
                       f"give the kernel as a 3×3 tensor ({raised(error, 'reading it')})")
    if kernel.shape != (3, 3):
        return verdict(False, what, f"the kernel must be 3×3 (torch.tensor([[...], [...], "
                       f"[...]])), not of shape {tuple(kernel.shape)}")
    if not torch.isfinite(kernel).all():
        return verdict(False, what, "some weights are inf or nan: use ordinary numbers")
    scale = float(kernel.abs().sum())
    if scale == 0:
        return verdict(False, what, "all its weights are 0, so it responds to nothing")
    flat = torch.ones(8, 8)
    down = torch.zeros(8, 8)
    down[4:] = 1.0  # dark above, bright below: a horizontal edge
    right = down.T.contiguous()  # dark left, bright right: a vertical edge
    tolerance = 1e-4 * scale
    on_flat, on_down, on_right = (_outputs(kernel, image) for image in (flat, down, right))
    if on_flat.abs().max() > tolerance:
        return verdict(False, what, f"on a flat patch it gives {float(on_flat[0]):g}, not 0: "
                       "make the weights add up to 0")
    if on_right.abs().max() > tolerance:
        return verdict(False, what, "it responds to a vertical edge (up to "
                       f"{float(on_right.abs().max()):g}): make every column of the kernel add "
                       "up to 0, so a change from left to right cancels")
    if on_down.min() < -tolerance or on_down.max() <= tolerance:
        return verdict(False, what, "where the image gets brighter from top to bottom it "
                       f"gives {float(on_down.min()):g} to {float(on_down.max()):g}: put "
                       "negative weights in the top row and positive ones in the bottom row")
    return verdict(True, f"{what}: 0 on flat patches and vertical edges, up to "
                   f"{float(on_down.max()):g} on a dark-to-bright horizontal edge", "")


# --- stretch: a network of your own ------------------------------------------------------------


def check_model(model: nn.Module, max_parameters: int | None = None) -> bool:
    """Is ``model`` an ``nn.Module`` with at least one convolution that turns a batch of
    N×1×28×28 images into N×10 logits, each image's scores independent of the others (and,
    when given, with at most ``max_parameters`` parameters)?"""
    what = "your network"
    if isinstance(model, type):
        return verdict(False, what, f"pass a network, {model.__name__}(), not the class "
                       f"{model.__name__}")
    if not isinstance(model, nn.Module):
        return verdict(False, what, f"it is a {type(model).__name__}: define a class that "
                       "subclasses nn.Module and pass an instance of it")
    images = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    device = next(model.parameters(), images).device
    try:
        with evaluation_mode(model), torch.no_grad():
            logits = model(images.to(device))
            alone = model(images[:1].to(device))
    except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
        if isinstance(error, NotImplementedError) and "missing the required" in str(error):
            return verdict(False, what, "it has no forward: define forward(self, x) in the "
                           "class, indented under it")
        hint = raised(error, "a batch of 5 images")
        return verdict(False, what, hint if hint == NOT_WRITTEN else f"{hint}. Print x.shape "
                       "after each line of forward to see where the sizes stop matching (the "
                       "output-size rule)")
    parameters = count_parameters(model)
    if parameters == 0:
        return verdict(False, what, "it has no parameters: create the layers in __init__, "
                       "after super().__init__(), as attributes (self.conv = nn.Conv2d(...))")
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return verdict(False, what, "it has no nn.Conv2d: use at least one convolution")
    if not isinstance(logits, torch.Tensor):
        return verdict(False, what, f"forward returned a {type(logits).__name__}: return the "
                       "tensor of scores")
    if logits.shape[0] != 5:
        return verdict(False, what, f"5 images gave an output of shape {tuple(logits.shape)}: "
                       "keep the batch dimension first; flatten with torch.flatten(x, 1) or "
                       "nn.Flatten(), which keep it")
    if logits.shape != (5, 10):
        return verdict(False, what, f"5 images gave {tuple(logits.shape)}: the last layer "
                       "must give 10 scores per image, e.g. nn.Linear(..., 10), with one row "
                       "per image")
    if not torch.isfinite(logits).all():
        return verdict(False, what, "some scores are inf or nan")
    if not torch.allclose(alone.cpu(), logits[:1].cpu(), atol=1e-4):
        return verdict(False, what, "an image's scores change with the other images in the "
                       "batch: each row must come from its own image only")
    if (logits >= 0).all() and torch.allclose(logits.sum(dim=1).cpu(), torch.ones(5),
                                              atol=1e-4):
        return verdict(False, what, "it returns probabilities: return the logits (no "
                       "softmax at the end); the loss in notebook 03 applies softmax itself")
    if max_parameters is not None and parameters > max_parameters:
        return verdict(False, what, f"{parameters:,} parameters, more than {max_parameters:,}: "
                       "shrink the linear layer's input (pool more, or fewer channels)")
    return verdict(True, f"{what}: 5 images → {tuple(logits.shape)} logits, "
                   f"{parameters:,} parameters", "")
