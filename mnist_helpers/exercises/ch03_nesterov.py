"""Check for notebook 03's stretch exercise: one step of SGD with Nesterov momentum written
out, compared with ``torch.optim.SGD`` (``mnist_helpers.exercises.ch03`` offers it too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from . import raised, verdict

# --- stretch: one step of SGD with Nesterov momentum, by hand -----------------------------------


def _torch_steps(w: torch.Tensor, grads: list[torch.Tensor], lr: float, momentum: float,
                 weight_decay: float, nesterov: bool = True, forget: bool = False
                 ) -> list[torch.Tensor]:
    """The weights after each step of ``torch.optim.SGD`` fed the gradients ``grads``
    (``forget``: a fresh optimizer every step, so no velocity is carried over)."""
    weight = nn.Parameter(w.clone())
    after = []
    for step, grad in enumerate(grads):
        if step == 0 or forget:
            optimizer = torch.optim.SGD([weight], lr=lr, momentum=momentum, nesterov=nesterov,
                                        weight_decay=weight_decay)
        weight.grad = grad.clone()
        optimizer.step()
        after.append(weight.detach().clone())
    return after


def check_nesterov_step(sgd_step: Callable[..., Any]) -> bool:
    """Does ``sgd_step(w, grad, velocity, lr, momentum, weight_decay)`` return the
    ``(new_w, new_velocity)`` with which three steps in a row take the weights where
    ``torch.optim.SGD(..., nesterov=True)`` takes them?"""
    what = "your SGD step with Nesterov momentum"
    generator = torch.Generator().manual_seed(5)
    w0 = torch.randn(5, generator=generator, dtype=torch.float64)
    grads = [torch.randn(5, generator=generator, dtype=torch.float64) for _ in range(3)]
    lr, momentum, weight_decay = 0.1, 0.9, 0.01
    expected = _torch_steps(w0, grads, lr, momentum, weight_decay)
    slips = {  # what a typical slip computes, by PyTorch, with what to do instead
        "that is plain momentum (the step is the velocity); Nesterov's step is the gradient "
        "plus momentum × the new velocity": _torch_steps(w0, grads, lr, momentum,
                                                         weight_decay, nesterov=False),
        "the weight decay is missing: add weight_decay × w to the gradient first":
            _torch_steps(w0, grads, lr, momentum, 0.0),
        "the velocity is not kept from one step to the next: return the new velocity, "
        "momentum × velocity + gradient": _torch_steps(w0, grads, lr, momentum,
                                                         weight_decay, forget=True),
    }
    w, velocity = w0.clone(), torch.zeros_like(w0)
    for step, grad in enumerate(grads):
        try:
            result = sgd_step(w.clone(), grad.clone(), velocity.clone(), lr, momentum,
                              weight_decay)
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, what, raised(error))
        if not (isinstance(result, tuple | list) and len(result) == 2
                and all(isinstance(v, torch.Tensor) for v in result)):
            return verdict(False, what, "return two tensors, (new_w, new_velocity)")
        w, velocity = (torch.as_tensor(v, dtype=torch.float64) for v in result)
        if w.shape != w0.shape:
            return verdict(False, what, f"new_w should have w's shape {tuple(w0.shape)}")
        if not torch.allclose(w, expected[step], atol=1e-9):
            for hint, slip in slips.items():
                if torch.allclose(w, slip[step], atol=1e-9):
                    return verdict(False, what, hint)
            if torch.allclose(2 * w0 - w, expected[0], atol=1e-9) and step == 0:
                return verdict(False, what, "the step goes up the gradient: subtract lr × "
                               "step from w")
            return verdict(False, what, f"after step {step + 1} the weights differ from "
                           "torch.optim.SGD's: g = grad + weight_decay·w; velocity = "
                           "momentum·velocity + g; w = w − lr·(g + momentum·velocity)")
    return verdict(True, f"{what}: the same weights as torch.optim.SGD after "
                   f"{len(grads)} steps", "")
