"""Checks for the notebooks' exercises, one module a notebook (``ch01`` … ``ch10``).

Each ``check_…`` function takes what the learner wrote (a number, a function, a model), says
in one line whether it is right and, when it is not, gives a hint; it returns ``True`` or
``False`` so a notebook cell can also ``assert`` it. The checks compare against the package's
own code or against PyTorch, never against an answer typed into the check.
"""

from __future__ import annotations

from typing import Any

import torch

#: The hint for an exercise still as it came: its bare ``raise NotImplementedError``.
NOT_WRITTEN = ("not written yet: replace `raise NotImplementedError` with your code, run that "
               "cell, then this one")


def raised(error: Exception, where: str = "it") -> str:
    """The hint for an exception from the learner's code: :data:`NOT_WRITTEN` for the
    exercise's bare ``NotImplementedError``, else what was raised, in one line."""
    if type(error) is NotImplementedError and not str(error):
        return NOT_WRITTEN
    lines = str(error).strip().splitlines()
    return f"{where} raised {type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def number(value: Any) -> float | None:
    """A plain float from a number or a one-element tensor, else ``None``."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def close(a: float, b: float) -> bool:
    """Whether two numbers agree to about six significant digits."""
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def verdict(right: bool, what: str, hint: str) -> bool:
    """Print ``✓ what`` when ``right``, else ``✗ what`` and the ``hint``; return ``right``."""
    print(f"✓ {what}" if right else f"✗ {what}\n  hint: {hint}")
    return right
