"""Checks for notebook 08b's exercises: the ceiling on what speeding up one part of a training
step can buy (Amdahl's law), and the speed ladder's rule for calling a change faster or slower.

Each check runs what the learner wrote on inputs it chooses itself and compares the answer with
the formula (the ceiling) or with the verdict each hand-made case was built to have (the rule;
a test checks those verdicts against :func:`mnist_helpers.lab.speed.direction`, which this
module may not import: exercises sit below the lab in the package's layers).
"""

from __future__ import annotations

from collections.abc import Callable

from . import close, number, raised, verdict

CEILING = "the ceiling (Amdahl's law)"
RULE = "the ladder's rule"

#: Shares of a step's time taken by the part made free: none, small, notebook-sized, most.
_SHARES = [0.0, 0.05, 0.18, 0.5, 0.9]


def _ceiling_hint(answer: float, share: float) -> str:
    """What a wrong ceiling for ``share`` most likely got wrong."""
    if share > 0 and close(answer, 1 / share):
        return "that is 1 / f: what is left of the step is 1 − f, so the ceiling is 1 / (1 − f)"
    if close(answer, 1 - share):
        return ("that is the share of the step left (1 − f); the ceiling is how many times as "
                "fast the step becomes: the old time over the new, 1 / (1 − f)")
    if close(answer, 1 + share):
        return "1 + f only approximates the ceiling for a small f; it is 1 / (1 − f)"
    if close(answer, share):
        return "that is the share itself; the step's time falls from 1 to 1 − f: 1 / (1 − f)"
    return "a step of time 1 whose part f becomes free takes 1 − f: the ceiling is 1 / (1 − f)"


def check_ceiling(ceiling: Callable[[float], object]) -> bool:
    """Right if ``ceiling(share)`` gives 1 / (1 − share): how many times as fast a step can get
    at most when a part taking ``share`` of its time (a fraction, 0 to 1) becomes free."""
    for share in _SHARES:
        try:
            answer = number(ceiling(share))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, CEILING, raised(error, "your function"))
        if answer is None:
            return verdict(False, CEILING, "return one number, the ceiling")
        if not close(answer, 1 / (1 - share)):
            return verdict(False, CEILING, f"{_ceiling_hint(answer, share)} (for a share of "
                           f"{share:g} you gave {answer:.4g})")
    return verdict(True, CEILING, "")


#: Round-by-round ratios the rule is checked on, each with the verdict it was built to have: all
#: above 1, all below, mixed with the median above 1, mixed with the mean below 1, exactly 1 in
#: one round, one round only.
RULE_CASES = [([1.2, 1.1, 1.3, 1.05], "faster"), ([0.9, 0.8, 0.95, 0.99], "slower"),
              ([1.5, 1.4, 0.9, 1.3], "not shown"), ([1.01, 1.02, 0.7, 1.03], "not shown"),
              ([1.2, 1.0, 1.3, 1.1], "not shown"), ([0.97], "slower")]


def _rule_hint(ratios: list[float], expected: str) -> str:
    """Why the rule gives ``expected`` for ``ratios``."""
    if expected == "not shown" and 1.0 in ratios:
        return ("a round with a ratio of exactly 1 is not faster: 'faster' needs every ratio "
                "above 1 (min(ratios) > 1)")
    if expected == "not shown":
        return ("some rounds went each way: the rule asks every round to agree, so look at the "
                "smallest and the largest ratio, not the median or the mean")
    return (f"every ratio is {'above' if expected == 'faster' else 'below'} 1, so the rule says "
            f"{expected!r}")


def check_rule(rule: Callable[[list[float]], object]) -> bool:
    """Right if ``rule(ratios)`` says "faster" when every round's ratio is above 1, "slower"
    when every one is below 1, else "not shown", as the ladder's table does."""
    for ratios, expected in RULE_CASES:
        try:
            answer = rule(list(ratios))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, RULE, raised(error, "your function"))
        if answer != expected:
            return verdict(False, RULE, f"{_rule_hint(ratios, expected)} (for {ratios} you gave "
                           f"{answer!r}; the rule says {expected!r})")
    return verdict(True, RULE, "")
