"""The notebooks' figures and tables, drawn from real values and written to PNG files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers.display import plots
from mnist_helpers.display.notebook import markdown_table
from mnist_helpers.evaluate import confusion_matrix
from mnist_helpers.lab import plots as lab_plots
from mnist_helpers.lab.experiments import RunResult
from mnist_helpers.train import History


def _saved(fig, tmp_path, name: str) -> Image.Image:
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    image = Image.open(path)
    assert image.width > 300 and image.height > 150
    return image


def run(name: str, parameters: int, seconds: float, accuracy: float) -> RunResult:
    return RunResult(name=name, arch=name, parameters=parameters, epochs=1, train_images=1000,
                     seconds_per_epoch=seconds, val_accuracy=accuracy, test_accuracy=accuracy,
                     model=torch.nn.Linear(1, 1))


def test_experiment_figures_render(tmp_path):
    runs = [run("a", 1_000, 2.0, 0.985), run("b", 100_000, 40.0, 0.991),
            run("b", 100_000, 42.0, 0.993)]
    fig = lab_plots.plot_tradeoff(runs)
    assert len(fig.axes[0].lines) >= 1, "two runs of b: a bar from the lowest to the highest"
    _saved(fig, tmp_path, "tradeoff")
    _saved(plots.plot_grouped_bars({"off": [99.0, 80.5], "on": [99.1, 95.0]}, ["MNIST", "photo"],
                                   ylabel="%", title="t", ylim=(0, 105)), tmp_path, "bars")
    grid = torch.tensor([[0.95, 0.98, 0.97], [0.93, 0.97, 0.985]])
    fig = lab_plots.plot_sweep_curves(grid, [0.01, 0.1, 1.0], [32, 128], zoom=2)
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines() if not line.get_label().startswith("_")] \
        == ["batch 32", "batch 128"], "one line per batch size"
    stars = [line for line in left.get_lines() if line.get_marker() == "*"]
    assert [(float(s.get_xdata()[0]), float(s.get_ydata()[0])) for s in stars] \
        == [(0.1, pytest.approx(98.0)), (1.0, pytest.approx(98.5))], "each row's best starred"
    assert left.get_ylim() == (0, 100) and right.get_ylim()[0] == pytest.approx(96.5)
    assert [t.get_text() for t in right.texts] == ["98.0", "98.5"]
    _saved(fig, tmp_path, "sweep_curves")
    fig = lab_plots.plot_step_breakdown({"slow": {"fetching": 30.0, "forward": 50.0},
                                         "fast": {"fetching": 1.0, "forward": 9.0}})
    assert [t.get_text() for t in fig.axes[0].texts] == [" 80 ms", " 10 ms"]
    _saved(fig, tmp_path, "breakdown")
    fig = lab_plots.plot_ladder(["base", "better"], [100.0, 250.0])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == [" 100", " 250 (×2.50; ×2.5 in all)"]
    _saved(fig, tmp_path, "ladder")


def test_evaluation_figures_have_honest_axes(tmp_path):
    labels = torch.arange(10).repeat(30)
    predicted = labels.clone()
    predicted[:4] = torch.tensor([9, 9, 9, 7])  # 0->9, 1->9, 2->9, 3->7
    cm = confusion_matrix(predicted, labels)
    fig = plots.plot_error_rates(cm)
    assert fig.axes[0].get_ylim()[0] == 0, "mistakes per digit start at zero"
    _saved(fig, tmp_path, "errors")
    _saved(plots.plot_confusion_matrix(cm), tmp_path, "confusion")
    probs = np.full(10, 1e-5)
    probs[4], probs[9] = 0.9989, 0.001
    fig = plots.plot_prediction(np.zeros((28, 28)), probs, true_label=4)
    assert fig.axes[1].get_xscale() == "log", "a runner-up at 0.1% must be visible"
    assert any("0.1%" in t.get_text() for t in fig.axes[1].texts)
    _saved(fig, tmp_path, "prediction")


def test_training_curves_show_training_accuracy_and_the_learning_rate(tmp_path):
    history = History(epoch=[1, 2], train_loss=[0.5, 0.2], train_accuracy=[0.9, 0.95],
                      val_loss=[0.3, 0.1], val_accuracy=[0.92, 0.97], train_seconds=[1, 1],
                      step_loss=list(np.linspace(2, 0.1, 20)),
                      step_lr=list(np.linspace(0.01, 0.1, 10)) + list(np.linspace(0.1, 0, 10)))
    fig = plots.plot_history(history)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy", "learning rate"]
    assert [line.get_label() for line in fig.axes[1].lines] == ["training", "validation"]
    _saved(fig, tmp_path, "history")


def test_markdown_table_of_dicts_and_dataclasses():
    table = markdown_table([{"name": "fast_cnn", "parameters": 23_466, "acc %": 99.1},
                            {"name": "classic_cnn", "parameters": 1_199_882, "acc %": 98.75}])
    assert table.splitlines() == [
        "| name | parameters | acc % |", "|---|---|---|",
        "| fast_cnn | 23,466 | 99.1 |", "| classic_cnn | 1,199,882 | 98.75 |"]
    typed = markdown_table([run("a", 1_000, 2.0, 0.985)], {"name": "run", "parameters": "size"})
    assert typed.splitlines()[0] == "| run | size |" and "| a | 1,000 |" in typed
    with pytest.raises(ValueError, match="No rows"):
        markdown_table([])


def test_the_grouped_spread_labels_do_not_run_into_each_other(tmp_path):
    """Nine groups, as notebook 08a draws them: no two neighbouring tick labels overlap."""
    groups = ["MNIST test\n(10,000)", "turned and shifted\n(10,000)", "photo\n(50)", "thick\n(50)",
              "thin\n(50)", "chalk\n(50)", "pen\n(50)", "font\n(50)", "30 samples\n(30)"]
    values = {arm: {g: [90.0 + k, 91.0, 92.0 - k] for k, g in enumerate(groups)}
              for arm in ("no augmentation", "augmentation")}
    fig = lab_plots.plot_grouped_spread(values, groups, ylabel="accuracy (%)", title="t")
    _saved(fig, tmp_path, "grouped")
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels()]
    assert len(boxes) == 9
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 < right.x0, "two neighbouring group names overlap"
    assert fig.axes[0].get_xticklabels()[1].get_text().startswith("turned\n")


def test_the_ladder_figure_says_what_its_labels_are(tmp_path):
    fig = lab_plots.plot_speed_ladder(["slow", "fast"], [[100.0, 90.0], [200.0, 210.0]])
    title = fig.axes[0].get_title()
    assert "median images/s" in title and "× the rung above" in title
    _saved(fig, tmp_path, "ladder")


def test_the_refusal_zoom_shows_each_threshold_each_budget_and_the_choice():
    import matplotlib.pyplot as plt

    from mnist_helpers.calibration import score_curve

    thresholds = torch.linspace(0, 1, 5)
    curve = score_curve(torch.tensor([0.1, 0.5, 0.9, 0.95]), torch.ones(4, dtype=torch.bool),
                        torch.tensor([0.2, 0.6]), thresholds)
    fig, ax = plt.subplots()
    plots.plot_refusal_zoom(ax, {"a method": curve}, {"a method": 0.25}, budget=0.003,
                            xlim=(0, 101), colours={"a method": "tab:green"})
    line, floor, chosen = ax.lines[:3]
    assert line.get_marker() == "." and len(line.get_xdata()) == len(thresholds)
    assert line.get_color() == "tab:green" and floor.get_linestyle() == "--"
    assert floor.get_ydata()[0] == pytest.approx(100 * float(curve.digits_right[0]) - 0.3)
    assert ax.get_ylim()[0] < floor.get_ydata()[0] < ax.get_ylim()[1]  # the budget on screen
    assert chosen.get_marker() == "o" and ax.get_xlim() == (0, 101)
    plt.close(fig)


def test_the_score_histograms_share_one_axis_count_each_group_and_mark_the_threshold(tmp_path):
    """Notebook 07a's overlap: groups of different sizes as shares of their own count, the
    counts in the legend, the threshold a dashed line with refused left and accepted right."""
    digits = torch.cat([torch.full((95,), 0.95), torch.full((5,), 0.35)])  # 100, 5 below 0.5
    nondigits = np.array([0.25] * 30 + [0.75] * 10)  # 40, 10 above 0.5
    fig = lab_plots.plot_score_histograms({"digits": digits, "non-digits": nondigits},
                                          threshold=0.5, bins=np.linspace(0, 1, 11),
                                          xlabel="score", title="t")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and "share of its group" in ax.get_ylabel()
    assert ax.get_xlabel() == "score" and ax.get_xlim() == (0, 1)
    assert ax.get_ylim()[1] == pytest.approx(3 * 95), "room above the tallest bar for the labels"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["digits (100)", "non-digits (40)", "threshold 0.5"]
    filled = [p for p in ax.patches if p.get_fill()]  # 10 bars per group, then the outlines
    for group, expected in ((filled[:10], {3: 5.0, 9: 95.0}), (filled[10:20], {2: 75.0, 7: 25.0})):
        heights = [p.get_height() for p in group]
        assert sum(heights) == pytest.approx(100), "each group's bars are shares of it"
        assert {i: h for i, h in enumerate(heights) if h} == pytest.approx(expected)
    line = next(line for line in ax.lines if line.get_linestyle() == "--")
    assert list(line.get_xdata()) == [0.5, 0.5]
    assert [t.get_text() for t in ax.texts] == ["← refused", "accepted →"]
    _saved(fig, tmp_path, "score_histograms")
    with pytest.raises(ValueError, match="at least one score"):
        lab_plots.plot_score_histograms({"digits": digits, "none": []}, xlabel="x", title="t")


def test_the_chosen_thresholds_are_labelled_in_their_unit_and_colour(tmp_path):
    """Notebook 07a's trade-off figure: each label gives its threshold in its method's unit,
    in its colour; the label of a dot at the right edge moves left of it, off the curves."""
    from matplotlib.colors import to_hex

    from mnist_helpers.calibration import score_curve

    digit_scores = torch.linspace(0, 1, 100)
    right = torch.ones(100, dtype=torch.bool)
    thresholds = torch.linspace(0, 1, 21)
    curves = {"left": score_curve(digit_scores, right, torch.full((50,), 0.9), thresholds),
              "edge": score_curve(digit_scores, right, torch.full((50,), 0.01), thresholds)}
    chosen = {"left": 0.35, "edge": 0.05}  # refuses 0% and 100% of the non-digits
    colours = {"left": to_hex("C3"), "edge": to_hex("C5")}
    fig = plots.plot_refusal_curves(curves, chosen, units={"left": "probability",
                                                           "edge": "log-sum-exp"},
                                    colours=colours)
    ax = fig.axes[0]
    assert colours == {name: to_hex(line.get_color())
                       for name, line in zip(curves, ax.lines[::2], strict=True)}
    left, edge = ax.texts
    assert left.get_text() == "threshold 0.35\n(probability)"
    assert edge.get_text() == "threshold 0.05\n(log-sum-exp)"
    assert (to_hex(left.get_color()), to_hex(edge.get_color())) == (colours["left"],
                                                                    colours["edge"])
    assert left.xy[0] == pytest.approx(0) and edge.xy[0] == pytest.approx(100)
    assert (left.xyann, left.get_horizontalalignment()) == ((0, -34), "center")
    assert edge.xyann[0] < 0 and edge.get_horizontalalignment() == "right"
    assert edge.arrow_patch is not None and left.arrow_patch is None  # the far label is tied
    _saved(fig, tmp_path, "chosen_thresholds")


def test_the_class_regions_cover_the_square_and_grow_surer_far_out(tmp_path):
    """Notebook 07a's toy: two classes split at x = 0 by a known linear rule. The left panel
    names class 0 on the right half and class 1 on the left; the right panel's largest
    probability is the rule's own, on a scale from 1/K to 1, and larger at the edge than near
    the middle; the training points and the marks are drawn; raw logits are refused."""
    weights = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # logits x and −x: class 0 where x > 0

    def rule(xy):
        return torch.softmax(xy @ weights.T, dim=1)

    points = torch.tensor([[1.0, 0.5], [2.0, -1.0], [-1.5, 0.0]])
    labels = torch.tensor([0, 0, 1])
    fig = lab_plots.plot_class_regions(rule, points, labels, extent=4, steps=9,
                                       marks={"far": (4.0, 0.0), "near": (3.5, 0.0)},
                                       title="t")
    left, right = fig.axes[:2]
    regions, sureness = left.get_images()[0], right.get_images()[0]
    classes = np.asarray(regions.get_array())
    assert classes.shape == (9, 9) and regions.get_extent() == [-4, 4, -4, 4]
    assert (classes[:, 5:] == 0).all() and (classes[:, :4] == 1).all()  # x > 0 and x < 0
    values = np.asarray(sureness.get_array())
    row = values[4]  # y = 0, from x = −4 to 4 in steps of 1
    assert row == pytest.approx([float(torch.sigmoid(torch.tensor(2 * abs(x))))
                                 for x in range(-4, 5)], abs=1e-6)
    assert row[8] > row[5] > row[4] == pytest.approx(0.5), "surer the further from x = 0"
    assert sureness.get_clim() == (0.5, 1.0)
    for ax in (left, right):
        assert sum(len(c.get_offsets()) for c in ax.collections) == len(points)
    assert [t.get_text() for t in right.texts] == ["far", "near"]
    far, near = right.texts  # two marks close together: their labels on opposite sides
    assert (far.xyann, far.get_horizontalalignment(), far.get_verticalalignment()) == (
        (6, 6), "left", "bottom")
    assert (near.xyann, near.get_horizontalalignment(), near.get_verticalalignment()) == (
        (-6, -6), "right", "top")
    _saved(fig, tmp_path, "class_regions")
    with pytest.raises(ValueError, match="add up to 1"):
        lab_plots.plot_class_regions(lambda xy: xy @ weights.T, points, labels, extent=4)
    with pytest.raises(ValueError, match="N × 2"):
        lab_plots.plot_class_regions(rule, points[:, :1], labels, extent=4)


def test_attribution_maps_share_one_scale_or_each_get_their_own():
    from mnist_helpers.display import inside

    image = torch.zeros(1, 1, 28, 28)
    image[..., 10:18, 12:15] = 2.0  # a bar of ink, normalised as the network sees it
    small, large = np.zeros((28, 28)), np.zeros((28, 28))
    small[12, 13], large[12, 13] = 0.5, 4.0
    maps = {"integrated gradients": small, "occlusion": large}

    def limits(fig):
        return [ax.images[0].get_clim() for ax in fig.axes if ax.images and ax.get_title() in maps]

    shared = inside.plot_attributions(image, maps, "shared")
    assert limits(shared) == [(-4.0, 4.0), (-4.0, 4.0)]
    own = inside.plot_attributions(image, maps, "own", shared_scale=False)
    assert limits(own) == [(-0.5, 0.5), (-4.0, 4.0)]
    assert sum(ax.get_ylabel() == "attribution (logit)" for ax in own.axes) == 2  # a bar each
    matplotlib.pyplot.close("all")


def test_a_number_read_without_its_written_digits_is_drawn_in_neutral_colours():
    """Blue for a digit read, dashed grey with "?" for a piece refused: green and red mean right
    and wrong, which a reading with no written number cannot say (07b's convention)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    from mnist_helpers.number_reading import DigitReading, NumberReading

    picture = np.full((60, 120), 255, dtype=np.uint8)
    picture[15:45, 20:26] = 0  # a 1
    picture[20:40, 70:95] = 0  # a blot
    blank = np.zeros((28, 28))
    reading = NumberReading(path="made-up", digits=[
        DigitReading((20, 15, 6, 30), 1, [0.0] * 10, blank)], refused=[
        DigitReading((70, 20, 25, 20), None, [0.0] * 10, blank, reason="not a digit")])
    fig = plots.plot_number_reading(Image.fromarray(picture), reading)
    boxes = fig.axes[0].patches
    labels = {text.get_text(): text for text in fig.axes[0].texts}
    assert [to_rgba(b.get_edgecolor()) for b in boxes] == [to_rgba("tab:blue"), to_rgba("grey")]
    assert [b.get_linestyle() for b in boxes] == ["-", "--"]
    assert set(labels) == {"1", "?"} and to_rgba(labels["?"].get_color()) == to_rgba("grey")
    assert fig.axes[0].get_title() == "read: 1"
    plt.close(fig)


def test_the_grouped_spread_draws_each_interval_behind_its_group_and_fits_it_in(tmp_path):
    """A group of 50 pictures gets a wide band, one of 10,000 a narrow one; the axis takes in
    both bands, and the legend names the band once."""
    groups = ["MNIST test", "font"]
    values = {arm: {"MNIST test": [97.0, 97.1], "font": [80.0, 84.0]} for arm in ("off", "on")}
    intervals = {"MNIST test": (96.6, 97.3), "font": (66.3, 90.4)}
    fig = lab_plots.plot_grouped_spread(values, groups, ylabel="accuracy (%)", title="t",
                                        intervals=intervals,
                                        interval_label="one run's 95% interval")
    _saved(fig, tmp_path, "banded")
    ax = fig.axes[0]
    bands = ax.collections[:2]  # drawn first, behind the dots
    assert all(b.get_zorder() < 1 for b in bands)
    spans = sorted(tuple(np.round(b.get_paths()[0].get_extents().intervaly, 1)) for b in bands)
    assert spans == [(66.3, 90.4), (96.6, 97.3)]
    low, high = ax.get_ylim()
    assert low < 66.3 and high > 97.3
    labels = ax.get_legend_handles_labels()[1]
    assert labels.count("one run's 95% interval") == 1
    plain = lab_plots.plot_grouped_spread(values, groups, ylabel="accuracy (%)", title="t")
    assert plain.axes[0].get_ylim()[0] > 66.3  # without bands the axis spans the dots only
