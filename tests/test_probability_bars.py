"""The probability bars a beginner reads: plain percentages and a legend for every colour."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np

from mnist_helpers.display import plots


def test_percentages_are_written_plainly():
    assert [plots.percent_text(p) for p in (99.4, 0.545, 0.00397, 4e-5, 99.9996, 100.0)] == [
        "99.4%", "0.545%", "0.00397%", "<0.001%", ">99.9%", "100%"]


def test_a_mistake_names_each_colour_and_labels_only_the_bars_that_matter():
    probs = np.full(10, 1e-9)
    probs[3], probs[5], probs[2] = 0.994, 0.0055, 5e-5  # 2 is a runner-up of 0.005%
    probs[3] += 1 - probs.sum()
    fig = plots.plot_prediction(np.zeros((28, 28)), probs, true_label=5)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["predicted digit (wrong)", "true digit", "other digits"]
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert texts == ["99.4%", "0.55%"], "only the predicted and the true digit get values"
    ticks = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert "0.001%" in ticks and "100%" in ticks and not any("e-" in t for t in ticks)


def test_a_right_answer_has_no_true_digit_entry():
    probs = np.full(10, 0.01)
    probs[7] = 0.91
    fig = plots.plot_prediction(np.zeros((28, 28)), probs, true_label=7)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "predicted digit (right)", "other digits"]
    assert len(fig.axes[1].texts) == 10, "runners-up of 1% get their values"
