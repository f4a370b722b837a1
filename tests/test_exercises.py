"""The shared verdict of the exercise checks."""

from __future__ import annotations

from mnist_helpers.exercises import verdict


def test_a_verdict_says_right_or_wrong_with_a_hint(capsys):
    assert verdict(True, "the output size", "count the padding") is True
    assert capsys.readouterr().out == "✓ the output size\n"
    assert verdict(False, "the output size", "count the padding") is False
    assert capsys.readouterr().out == "✗ the output size\n  hint: count the padding\n"
