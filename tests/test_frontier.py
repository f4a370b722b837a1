"""lab.frontier: the recorded runs are those of the raw output, and the arithmetic is right."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mnist_helpers.lab import frontier  # noqa: E402

RAW = (Path(__file__).resolve().parents[1] / "benchmarks" / "results"
       / "recipe_variants_h200_2026-12-04.txt")


def test_every_recorded_run_is_the_one_the_benchmark_printed():
    text = RAW.read_text(encoding="utf-8")
    printed = re.findall(r"^(\w+) seed (\d+): test (\d+\.\d\d)%", text, re.MULTILINE)
    assert len(printed) == sum(v.seeds for v in frontier.VARIANTS.values()) == 47
    for name, seed, accuracy in printed:
        assert frontier.VARIANTS[name].accuracies()[int(seed)] == pytest.approx(float(accuracy))


def test_each_variants_summary_is_the_one_the_benchmark_printed():
    text = RAW.read_text(encoding="utf-8")
    summaries = re.findall(r"^(\w+), seeds \[[\d, ]+\]: test (\d+\.\d+)% ± (\d\.\d+) .*?with TTA "
                           r"(\d+\.\d+)%.*\n +\d+ ensembles of 3: (\d+\.\d+)% .*with TTA "
                           r"(\d+\.\d+)%", text, re.MULTILINE)
    # Printed twice: once by the sitting that trained the variant, once analysing them all.
    assert {s[0] for s in summaries} == set(frontier.VARIANTS)
    for name, mean, sd, tta, ensembles, ensembles_tta in summaries:
        v = frontier.VARIANTS[name]
        assert round(v.mean, 3) == float(mean) and round(v.sd, 3) == float(sd)
        with_tta = sum(v.right_tta) / len(v.right_tta) / 100
        assert round(with_tta, 3) == float(tta)
        assert (v.ensembles, v.ensembles_tta) == (float(ensembles), float(ensembles_tta))


def _variant(name: str, right: list[int]) -> frontier.Variant:
    return frontier.Variant.from_runs(name, "made up", right, [r + 1 for r in right], 0.0, 0.0)


def test_compare_gives_the_difference_of_means_and_its_standard_error():
    before = _variant("before", [9960, 9962, 9964])  # 99.62 ± 0.02
    after = _variant("after", [9970, 9974, 9978])  # 99.74 ± 0.04
    d = frontier.compare("a change", before, after)
    assert d.difference == pytest.approx(0.12)
    assert d.standard_error == pytest.approx(math.sqrt(0.02 ** 2 / 3 + 0.04 ** 2 / 3))
    assert d.separated == 1 and frontier.compare("back", after, before).separated == -1
    overlapping = _variant("overlapping", [9963, 9970, 9971])
    assert frontier.compare("overlap", before, overlapping).separated == 0
    assert d.in_standard_errors == pytest.approx(d.difference / d.standard_error)


def test_tta_gain_is_the_seed_by_seed_difference():
    v = frontier.Variant.from_runs("v", "made up", [9960, 9965, 9970], [9962, 9965, 9974],
                                   0.0, 0.0)
    assert frontier.tta_gains(v) == pytest.approx([0.02, 0.0, 0.04])
    mean, sd = frontier.tta_gain(v)
    assert mean == pytest.approx(0.02) and sd == pytest.approx(0.02)


def test_the_plot_draws_every_seed_and_every_summary():
    shown = [frontier.variant("w24e28"), frontier.variant("vgg24e20all"),
             frontier.variant("vgg32e20")]
    fig = frontier.plot_runs(shown)
    ax = fig.axes[0]
    seeds = [c for c in ax.collections if c.get_gid() == "seeds"]
    assert sum(len(c.get_offsets()) for c in seeds) == 15
    labels = ax.get_legend_handles_labels()[1]
    assert "lowest to highest seed (runs not kept)" in labels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["w24e28", "vgg24e20all", "vgg32e20"]
    # Both targets are drawn, and the ensembles with TTA where they were kept (not for w24e28).
    assert {"target for one network: 99.75%", "target for an ensemble: 99.80%",
            "the same with TTA"} <= set(labels)
    hollow = [c for c in ax.collections if c.get_gid() == "ensembles with TTA"]
    assert sum(len(c.get_offsets()) for c in hollow) == 2
    without = frontier.plot_runs(shown, ensemble_target=None).axes[0]
    assert "target for an ensemble: 99.80%" not in without.get_legend_handles_labels()[1]
