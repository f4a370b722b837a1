"""Notebook 08b's exercise checks: a right answer passes, the typical wrong ones fail with the
hint that fits them."""

from __future__ import annotations

import statistics

import pytest

from mnist_helpers.exercises.ch08b import RULE_CASES, check_ceiling, check_rule
from mnist_helpers.lab.speed import direction

# --- the ceiling ---------------------------------------------------------------------------


def test_the_right_ceiling_passes(capsys):
    assert check_ceiling(lambda share: 1 / (1 - share)) is True
    assert capsys.readouterr().out == "✓ the ceiling (Amdahl's law)\n"


@pytest.mark.parametrize(("answer", "hint"), [
    (lambda f: 1 / f if f else 1.0, "that is 1 / f"),
    (lambda f: 1 - f, "the share of the step left"),
    (lambda f: 1 + f, "only approximates"),
    (lambda f: "fast", "return one number"),
])
def test_wrong_ceilings_fail_with_their_hint(answer, hint, capsys):
    assert check_ceiling(answer) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ the ceiling") and hint in out


def test_an_unwritten_ceiling_says_so(capsys):
    def ceiling(share):
        raise NotImplementedError

    assert check_ceiling(ceiling) is False
    assert "not written yet" in capsys.readouterr().out


# --- the rule ------------------------------------------------------------------------------


def rule(ratios):
    return "faster" if min(ratios) > 1 else "slower" if max(ratios) < 1 else "not shown"


def test_each_case_has_the_verdict_the_ladder_gives_it():
    assert [direction(ratios) for ratios, _ in RULE_CASES] == [want for _, want in RULE_CASES]


def test_the_right_rule_passes(capsys):
    assert check_rule(rule) is True
    assert capsys.readouterr().out == "✓ the ladder's rule\n"


@pytest.mark.parametrize(("answer", "hint"), [
    (lambda r: "faster" if statistics.median(r) > 1 else "slower", "every round to agree"),
    (lambda r: "faster" if min(r) >= 1 else "slower" if max(r) < 1 else "not shown",
     "exactly 1"),
    (lambda r: "not shown", "every ratio is above 1"),
])
def test_wrong_rules_fail_with_their_hint(answer, hint, capsys):
    assert check_rule(answer) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ the ladder's rule") and hint in out
