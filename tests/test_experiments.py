"""The experiments notebook's helpers: fair training runs, the lr × batch sweep, the step-time
split, and accuracy on generated pictures; all on real MNIST tensors."""

from __future__ import annotations

import time

import pytest

from mnist_helpers import TensorBatches, TrainingData, get_profile
from mnist_helpers.lab.experiments import lr_batch_sweep, step_breakdown, train_config
from mnist_helpers.lab.pictures import make_test_pictures, picture_accuracy


@pytest.fixture(scope="module")
def small(train_tensors, test_tensors) -> TrainingData:
    return TrainingData(
        train=TensorBatches(train_tensors.subset(slice(0, 2000)), 100, shuffle=True),
        val=TensorBatches(train_tensors.subset(slice(59000, 60000)), 500),
        test=TensorBatches(test_tensors.subset(slice(0, 1000)), 500),
    )


def test_train_config_measures_a_real_run(small):
    profile = get_profile("quick").with_overrides(arch="tiny_cnn", lr=0.2, batch_size=50)
    run = train_config("tiny", profile, small, "cpu")
    assert run.arch == "tiny_cnn" and run.epochs == 1 and run.train_images == 2000
    assert run.parameters == sum(p.numel() for p in run.model.parameters())
    assert run.val_accuracy > 0.5 and run.test_accuracy > 0.5, "well above chance (0.1)"
    assert run.seconds_per_epoch > 0 and run.images_per_second > 0
    again = train_config("tiny", profile, small, "cpu")
    assert again.test_accuracy == run.test_accuracy, "same seed, same result on the CPU"


def test_train_config_uses_the_profile_width(small):
    profile = get_profile("quick").with_overrides(arch="fast_cnn", width=4, batch_size=200)
    narrow = train_config("narrow", profile, small, "cpu")
    normal = train_config("normal", profile.with_overrides(width=None), small, "cpu")
    assert narrow.parameters < normal.parameters


def test_lr_batch_sweep_fills_the_grid_and_a_bad_lr_scores_worse(small):
    profile = get_profile("quick").with_overrides(arch="tiny_cnn")
    seen = []
    grid = lr_batch_sweep(profile, small, "cpu", lrs=[1e-4, 0.2], batch_sizes=[100, 200],
                          on_result=lambda bs, lr, acc: seen.append((bs, lr, acc)))
    assert grid.shape == (2, 2)
    assert [(bs, lr) for bs, lr, _ in seen] == [(100, 1e-4), (100, 0.2), (200, 1e-4), (200, 0.2)]
    assert grid[0, 0].item() == seen[0][2]
    assert (grid[:, 1] > grid[:, 0]).all(), "lr 1e-4 for 20 steps barely learns"


def test_step_breakdown_times_every_phase(small):
    profile = get_profile("quick").with_overrides(arch="tiny_cnn", batch_size=100)
    times = step_breakdown(profile, small.train, "cpu", steps=4, warmup=1)
    assert set(times) == {"batch", "forward", "loss, backward and optimizer"}
    assert all(value > 0 for value in times.values())
    assert times["loss, backward and optimizer"] > times["batch"]


def test_test_pictures_and_their_accuracy(quick_model, mnist_raw_dir):
    pictures = make_test_pictures(6, seed=3, data_dir=mnist_raw_dir)
    assert set(pictures) == {"photo", "thick", "thin", "chalk", "pen", "font"}
    assert all(len(v) == 6 for v in pictures.values())
    again = make_test_pictures(6, seed=3, data_dir=mnist_raw_dir)
    first = pictures["photo"][0][0]
    assert first.tobytes() == again["photo"][0][0].tobytes(), "seeded"
    photos = pictures["photo"] + pictures["chalk"]
    ours = picture_accuracy(quick_model, photos)
    naive = picture_accuracy(quick_model, photos, preprocess="naive")
    assert 0.0 <= naive < ours <= 1.0, "MNIST-style preprocessing beats resize-and-invert"
    assert quick_model.training is False


def test_picture_accuracy_rejects_bad_arguments(quick_model):
    with pytest.raises(ValueError, match="mnist"):
        picture_accuracy(quick_model, [(None, 1)], preprocess="other")
    with pytest.raises(ValueError, match="No pictures"):
        picture_accuracy(quick_model, [])


def test_the_ladder_changes_exactly_one_setting_per_rung_from_the_classic_way_to_the_fast_path():
    from mnist_helpers.lab import bench
    from mnist_helpers.lab.experiments import LADDER, changed_fields

    assert LADDER[0][1] == bench.REFERENCE.profile
    # measure_throughput plans its own epochs, so only the epochs may still differ.
    assert changed_fields(LADDER[-1][1], bench.FAST.profile) == ["epochs"]
    for (_, before), (label, after) in zip(LADDER[:-1], LADDER[1:], strict=True):
        assert len(changed_fields(before, after)) == 1, label
    # The learning rate changes while the optimizer is still Adadelta (same arithmetic at any
    # rate), and SGD comes in at the fast path's rate with the momentum already set.
    rate = next(i for i, (_, p) in enumerate(LADDER[1:], 1)
                if changed_fields(LADDER[i - 1][1], p) == ["lr"])
    assert LADDER[rate][1].optimizer == "adadelta"
    assert changed_fields(LADDER[rate][1], LADDER[rate + 1][1]) == ["optimizer"]
    assert LADDER[rate][1].momentum == bench.FAST.profile.momentum


def test_time_ladder_times_every_rung_in_every_round(mnist_raw_dir):
    from mnist_helpers.lab.experiments import LADDER, time_ladder

    speeds = time_ladder(LADDER[-2:], 256, 2, str(mnist_raw_dir))
    assert len(speeds) == 2 and all(len(rung) == 2 for rung in speeds)
    assert all(speed > 0 for rung in speeds for speed in rung)


def test_the_seed_spread_and_ladder_figures_render(tmp_path):
    from mnist_helpers.lab import plots

    fig = plots.plot_seed_spread({"a": [95.0, 96.0, 95.5], "b": [97.0, 97.2, 96.9]},
                                 xlabel="test accuracy (%)")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"], "best on top"
    fig.savefig(tmp_path / "spread.png")
    fig = plots.plot_speed_ladder(["slow", "fast"], [[100.0, 90.0, 110.0], [200.0, 200.0, 330.0]])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["  100/s", "  200/s  ×2.22 (2.00 to 3.00)"]
    fig.savefig(tmp_path / "ladder.png")


def test_the_seed_spread_follows_a_given_order_and_refuses_a_wrong_one():
    from mnist_helpers.lab import plots

    accuracies = {"a": [95.0, 96.0, 95.5], "b": [97.0, 97.2, 96.9]}
    fig = plots.plot_seed_spread(accuracies, xlabel="test accuracy (%)", order=["a", "b"])
    # The first of the order (ranked first elsewhere, e.g. on validation) is the top row.
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["b", "a"]
    with pytest.raises(ValueError, match="order must name every configuration"):
        plots.plot_seed_spread(accuracies, xlabel="x", order=["a"])


def test_the_grouped_spread_shows_tied_seeds_apart_on_an_axis_that_spans_the_values(tmp_path):
    from mnist_helpers.lab import plots

    values = {"off": {"mnist": [96.0, 96.0, 97.0], "font": [82.0, 84.0, 88.0]},
              "on": {"mnist": [96.5, 96.1, 96.3], "font": [68.0, 72.0, 76.0]}}
    fig = plots.plot_grouped_spread(values, ["mnist", "font"], ylabel="accuracy (%)", title="t")
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert 60 < low < 68 and 97 < high < 100, "the axis spans the values, not 0 to 100"
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(dots) == 4, "one set of dots per series and group"
    tied = dots[0]  # "off" on "mnist": two seeds at 96.0
    xs, ys = tied.get_xdata(), tied.get_ydata()
    assert list(ys) == [96.0, 96.0, 97.0]
    assert len(set(xs)) == 3, "tied seeds sit side by side, not on top of each other"
    fig.savefig(tmp_path / "grouped.png")


def test_time_ladder_throws_the_warm_up_round_away(monkeypatch):
    """A fresh process's first round can carry its start-up costs: it runs, and is not kept."""
    from mnist_helpers.lab import experiments

    calls = []

    def numbered(profile, images, data_dir):  # each timing is its call's number, from 1
        calls.append((profile.name, images))
        return float(len(calls))

    monkeypatch.setattr(experiments, "measure_throughput", numbered)
    ladder = experiments.LADDER[:3]
    # The warm-up round (calls 1-3) is thrown away; kept rounds go down, then up the ladder.
    assert experiments.time_ladder(ladder, 64, 2) == [[4.0, 9.0], [5.0, 8.0], [6.0, 7.0]]
    assert len(calls) == 9 and all(images == 64 for _, images in calls)
    assert [name for name, _ in calls[-3:]] == [p.name for _, p in reversed(ladder)]
    calls.clear()
    assert experiments.time_ladder(ladder, 64, 3, warmup_rounds=0) == [[1.0, 6.0, 7.0],
                                                                       [2.0, 5.0, 8.0],
                                                                       [3.0, 4.0, 9.0]]


def test_alternating_the_order_keeps_a_drift_from_agreeing_in_every_round(monkeypatch):
    """A machine that only slows down, never a rung: the later rung of a pair looks slower in
    rounds down the ladder and faster in rounds up it, so the rounds disagree."""
    from mnist_helpers.lab import experiments

    clock = iter(range(100))

    def drifting(profile, images, data_dir):  # every rung equally fast; the machine slows
        return 1000.0 - 10.0 * next(clock)

    monkeypatch.setattr(experiments, "measure_throughput", drifting)
    speeds = experiments.time_ladder(experiments.LADDER[:4], 64, 4)
    for before, after in zip(speeds, speeds[1:], strict=False):
        ratios = [b / a for a, b in zip(before, after, strict=True)]
        assert min(ratios) < 1 < max(ratios)


def test_others_share_counts_what_other_programs_used_and_the_verdict_distrusts_a_busy_machine():
    from mnist_helpers.lab.experiments import (
        OTHERS_LIMIT,
        CpuSnapshot,
        cpu_snapshot,
        others_share,
        others_verdict,
    )

    # 10 s on 2 cores: the machine was busy 14 CPU seconds, this process 12 of them.
    before, after = CpuSnapshot(100.0, 5.0, 1000.0), CpuSnapshot(110.0, 17.0, 1014.0)
    assert others_share(before, after, 2) == pytest.approx(0.10)
    busy_after = CpuSnapshot(110.0, 17.0, 1019.0)  # 7 CPU seconds elsewhere: 35%
    assert others_share(before, busy_after, 2) == pytest.approx(0.35)
    assert "not trustworthy" in others_verdict(others_share(before, busy_after, 2))
    quiet = others_verdict(0.03)
    assert quiet.startswith("other programs used 3% of the cores' time")
    assert "not trustworthy" not in quiet
    assert "not trustworthy" not in others_verdict(OTHERS_LIMIT), "the bar itself is allowed"
    assert others_share(before, CpuSnapshot(110.0, 17.0, None), 2) is None
    assert "not known" in others_verdict(None)
    # The real clocks, around a second of this process's own work: others took a share in [0, 1].
    start = cpu_snapshot()
    deadline = time.perf_counter() + 0.5
    while time.perf_counter() < deadline:
        pass
    share = others_share(start, cpu_snapshot())
    assert share is None or 0.0 <= share <= 1.0
    assert cpu_snapshot().own >= start.own + 0.3, "the busy loop's CPU time is this process's"


def test_the_splits_figure_draws_every_way_and_frames_the_two_extremes():
    import itertools

    from matplotlib.patches import Rectangle

    from mnist_helpers.lab.experiments import plot_splits

    splits = list(itertools.combinations(range(6), 3))
    fig = plot_splits(splits, observed=(5, 3, 4))
    ax = fig.axes[0]
    letters = [t.get_text() for t in ax.texts if t.get_text() in ("A", "B")]
    assert len(letters) == 20 * 6 and letters.count("A") == 20 * 3
    frames = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert len(frames) == 2, "all A's on top, all B's on top"
    captions = sorted(t.get_text() for t in ax.texts if t.get_text() not in ("A", "B"))
    assert captions == ["all A's on top, seen", "all B's on top"]
    with pytest.raises(ValueError, match="same number"):
        plot_splits([(0, 1), (2,)])


def test_the_coin_toss_figure_gives_binomtests_p_value():
    from scipy.stats import binomtest

    from mnist_helpers.lab.experiments import plot_coin_tosses

    for heads, tosses in ((187, 298), (9, 17), (5, 10)):
        fig = plot_coin_tosses(heads, tosses)
        labels = fig.axes[0].get_legend_handles_labels()[1]
        p_value = binomtest(heads, tosses, 0.5).pvalue
        assert any(f"total {p_value:.3g}," in label for label in labels), (labels, p_value)
    with pytest.raises(ValueError, match="heads"):
        plot_coin_tosses(11, 10)


def test_the_picture_groups_figure_shows_each_group_spread_over_its_list(tmp_path):
    from PIL import Image

    from mnist_helpers.lab.experiments import plot_picture_groups

    def picture(shade):
        return Image.new("L", (40, 30), shade)

    groups = {"dark": [(picture(20), d) for d in range(10)], "two": [(picture(200), 7),
                                                                    (picture(100), 1)]}
    fig = plot_picture_groups(groups, per_group=4, title="t")
    rows = [fig.axes[0:4], fig.axes[4:8]]
    assert [ax.get_title() for ax in rows[0]] == ["0", "3", "6", "9"], "first and last kept"
    assert [ax.get_title() for ax in rows[1][:2]] == ["7", "1"]
    assert not rows[1][2].axison, "a short group leaves its other places empty"
    assert rows[0][0].get_ylabel() == "dark"
    fig.savefig(tmp_path / "groups.png")
    with pytest.raises(ValueError, match="no pictures"):
        plot_picture_groups({"empty": []})


@pytest.mark.parametrize(("images", "rounds", "warmup_rounds", "named"),
                         [(0, 2, 1, "images"), (64, "3", 1, "rounds"), (64, 2, -1, "warmup_rounds"),
                          (64, 2, True, "warmup_rounds")])
def test_time_ladder_names_a_wrong_count(images, rounds, warmup_rounds, named):
    from mnist_helpers.lab.experiments import LADDER, time_ladder

    with pytest.raises(ValueError, match=f"^{named} must be a whole number"):
        time_ladder(LADDER[:1], images, rounds, warmup_rounds=warmup_rounds)
