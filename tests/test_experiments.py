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
    assert set(times) == {"fetching", "forward", "loss, backward and optimizer"}
    assert all(value > 0 for value in times.values())
    assert times["loss, backward and optimizer"] > times["fetching"]


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
    from mnist_helpers.lab import experiments, speed

    calls = []

    def numbered(profile, images, data_dir):  # each timing is its call's number, from 1
        calls.append((profile.name, images))
        return float(len(calls))

    monkeypatch.setattr(speed, "measure_throughput", numbered)
    ladder = experiments.LADDER[:3]
    # The warm-up round (calls 1-3) is thrown away; kept rounds go down, then up the ladder.
    assert experiments.time_ladder(ladder, 64, 2) == [[4.0, 9.0], [5.0, 8.0], [6.0, 7.0]]
    assert len(calls) == 9 and all(images == 64 for _, images in calls)
    assert [name for name, _ in calls[-3:]] == [p.name for _, p in reversed(ladder)]
    calls.clear()
    assert experiments.time_ladder(ladder, 64, 3, warmup_rounds=0) == [[1.0, 6.0, 7.0],
                                                                       [2.0, 5.0, 8.0],
                                                                       [3.0, 4.0, 9.0]]


def test_time_ladder_times_each_rung_its_own_count_of_images(monkeypatch):
    from mnist_helpers.lab import experiments, speed

    calls = []

    def counted(profile, images, data_dir):
        calls.append((id(profile), images))
        return 1.0

    monkeypatch.setattr(speed, "measure_throughput", counted)
    ladder = experiments.LADDER[:3]
    speed.time_ladder(ladder, [64, 128, 640], 2)
    assert len(calls) == 9  # the warm-up round and two kept rounds, each rung its own count
    assert set(calls) == {(id(p), n) for (_, p), n in zip(ladder, [64, 128, 640], strict=True)}
    with pytest.raises(ValueError, match="one per rung \\(3\\); got 2"):
        speed.time_ladder(ladder, [64, 128], 2)
    with pytest.raises(ValueError, match="^images must be a whole number"):
        speed.time_ladder(ladder, [64, 0, 128], 2)


def test_images_by_work_gives_a_cheaper_network_more_images_in_proportion():
    """classic_cnn does about 6 times fast_cnn's multiply-adds and 23 times tiny_cnn's: a fixed
    count from the networks, the same on every machine."""
    from mnist_helpers.lab import speed
    from mnist_helpers.models import build_model, count_multiply_adds

    ladder = speed.LADDER
    counts = speed.images_by_work(ladder, 128)
    work = {p.arch: count_multiply_adds(build_model(p.arch)) for _, p in ladder}
    costliest = max(work.values())
    for (_, profile), count in zip(ladder, counts, strict=True):
        assert count == 128 * round(costliest / work[profile.arch])
    by_arch = dict(zip([p.arch for _, p in ladder], counts, strict=True))
    assert by_arch["classic_cnn"] == 128
    assert by_arch["fast_cnn"] == 128 * 6 and by_arch["tiny_cnn"] == 128 * 23
    # A ladder of the fast path alone, counted against classic_cnn: the ladder's counts again.
    assert speed.images_by_work(ladder[-1:], 128, reference="classic_cnn") == [128 * 23]
    assert speed.images_by_work(ladder[-1:], 128) == [128]


def test_alternating_the_order_keeps_a_drift_from_agreeing_in_every_round(monkeypatch):
    """A machine that only slows down, never a rung: the later rung of a pair looks slower in
    rounds down the ladder and faster in rounds up it, so the rounds disagree."""
    from mnist_helpers.lab import experiments, speed

    clock = iter(range(100))

    def drifting(profile, images, data_dir):  # every rung equally fast; the machine slows
        return 1000.0 - 10.0 * next(clock)

    monkeypatch.setattr(speed, "measure_throughput", drifting)
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
    cycling = {"cycle": [(picture(20), i % 10) for i in range(50)]}
    fig = plot_picture_groups(cycling, per_group=6, title="t")
    titles = [ax.get_title() for ax in fig.axes]
    assert len(set(titles)) >= 5, f"a cycle of digits shows a mix, not only 0s and 9s: {titles}"
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


# --- Tuning a recipe's rate, and the tables and lines built from the runs ------------------


def _fake_run(lr: float, seed: int, name: str = "net") -> object:
    """A RunResult without training: validation accuracy from the rate, test from the seed."""
    import torch

    from mnist_helpers.lab.experiments import RunResult

    return RunResult(name=name, arch=name, parameters=100, epochs=1, train_images=10,
                     seconds_per_epoch=1.0, val_accuracy=0.0, test_accuracy=0.9 + seed / 100,
                     model=torch.nn.Linear(1, 1), test_right=torch.ones(4, dtype=torch.bool))


@pytest.fixture
def fake_training(monkeypatch):
    """train_config replaced: the validation accuracy of a rate is read from ``scores``, and
    every (rate, seed) trained is recorded in ``calls``."""
    from mnist_helpers.lab import experiments

    state = {"scores": {}, "calls": []}

    def train_config(name, profile, data, device, *, seed=0):
        state["calls"].append((profile.lr, seed))
        run = _fake_run(profile.lr, seed, name)
        run.val_accuracy = state["scores"][profile.lr]
        return run

    monkeypatch.setattr(experiments, "train_config", train_config)
    return state


def test_rate_beyond_steps_one_value_along_the_1_3_10_scale():
    from mnist_helpers.lab.experiments import rate_beyond

    assert rate_beyond([0.03, 0.1, 0.3], "below") == 0.01
    assert rate_beyond([0.03, 0.1, 0.3], "above") == 1.0
    assert rate_beyond([0.01, 0.03, 0.1, 0.3, 1.0], "below") == 0.003
    assert rate_beyond([0.01, 0.03, 0.1, 0.3, 1.0], "above") == 3.0
    assert rate_beyond([0.2, 0.4], "below") == 0.1 and rate_beyond([0.2, 0.4], "above") == 1.0
    with pytest.raises(ValueError, match="side"):
        rate_beyond([0.1], "left")
    with pytest.raises(ValueError, match="positive"):
        rate_beyond([0.0, 0.1], "below")


def test_tune_recipe_adds_one_rate_past_an_edge_and_only_there(fake_training):
    from mnist_helpers import get_profile
    from mnist_helpers.lab.experiments import tune_recipe

    profile, lrs, seeds = get_profile("quick"), [0.03, 0.1, 0.3], [0, 1, 2]
    # The best in the middle: no rate added, the other seeds at 0.1.
    fake_training["scores"] = {0.03: 0.80, 0.1: 0.90, 0.3: 0.85}
    middle = tune_recipe("net", profile, None, "cpu", lrs=lrs, seeds=seeds)
    assert middle.added is None and middle.lr == 0.1 and not middle.at_edge
    assert fake_training["calls"] == [(0.03, 0), (0.1, 0), (0.3, 0), (0.1, 1), (0.1, 2)]
    assert [r.test_accuracy for r in middle.runs] == [0.9, 0.91, 0.92]
    # The best at the low edge, and the added rate better still: chosen, so still at an edge.
    fake_training["calls"].clear()
    fake_training["scores"] = {0.01: 0.95, 0.03: 0.92, 0.1: 0.90, 0.3: 0.85}
    lower = tune_recipe("net", profile, None, "cpu", lrs=lrs, seeds=seeds)
    assert lower.added == 0.01 and lower.lr == 0.01 and lower.at_edge
    assert fake_training["calls"] == [(0.03, 0), (0.1, 0), (0.3, 0), (0.01, 0), (0.01, 1),
                                      (0.01, 2)]
    assert list(lower.grid) == [0.01, 0.03, 0.1, 0.3], "the grid in order of rate"
    assert "+lr 0.01 95.00%" in lower.line() and "-> lr 0.01" in lower.line()
    # The best at the high edge, the added rate worse: the edge rate kept, now inside the grid.
    fake_training["scores"] = {0.03: 0.80, 0.1: 0.85, 0.3: 0.90, 1.0: 0.50}
    upper = tune_recipe("net", profile, None, "cpu", lrs=lrs, seeds=seeds)
    assert upper.added == 1.0 and upper.lr == 0.3 and not upper.at_edge
    # Without extend, an edge stays an edge.
    fake_training["calls"].clear()
    kept = tune_recipe("net", profile, None, "cpu", lrs=lrs, seeds=[0], extend=False)
    assert kept.added is None and kept.lr == 0.3 and kept.at_edge
    assert fake_training["calls"] == [(0.03, 0), (0.1, 0), (0.3, 0)]


def test_grid_warnings_name_the_edges_the_failures_and_the_dips(fake_training):
    from mnist_helpers import get_profile
    from mnist_helpers.lab.experiments import grid_warnings, tune_recipe

    profile, lrs = get_profile("quick"), [0.03, 0.1, 0.3]
    tuned = {}
    fake_training["scores"] = {0.03: 0.80, 0.1: 0.90, 0.3: 0.09}
    tuned["a"] = tune_recipe("a", profile, None, "cpu", lrs=lrs, seeds=[0])
    fake_training["scores"] = {0.01: 0.95, 0.03: 0.92, 0.1: 0.60, 0.3: 0.70}
    tuned["b"] = tune_recipe("b", profile, None, "cpu", lrs=lrs, seeds=[0])
    fake_training["scores"] = {0.03: 0.80, 0.1: 0.85, 0.3: 0.90, 1.0: 0.50}
    tuned["c"] = tune_recipe("c", profile, None, "cpu", lrs=lrs, seeds=[0])
    lines = grid_warnings(tuned, lrs)
    assert lines[0] == ("best rate at an edge of the grid (0.03 or 0.3): 2 of 3: b (so +lr 0.01 "
                        "tried), c (so +lr 1 tried)")
    assert lines[1].endswith("now inside the rates tried: c")
    assert lines[2].endswith("(not fully tuned): b (lr 0.01)")
    assert lines[3].endswith("(under 12%): a at lr 0.3 (9.00%)")
    assert lines[4].endswith("neighbours: b lr 0.1 (60.00%)")


def test_the_ranking_table_keeps_the_order_given_and_each_seed_spread():
    from mnist_helpers.lab.experiments import TunedRecipe, ranking_table

    def tuned(name, tests):
        runs = [_fake_run(0.1, seed, name) for seed in range(len(tests))]
        for run, test in zip(runs, tests, strict=True):
            run.test_accuracy, run.val_accuracy = test, test
        return TunedRecipe(name, {0.1: tests[0]}, 0.1, runs, list(range(len(tests))))

    recipes = {"wide": tuned("wide", [0.90, 0.93, 0.92]), "steady": tuned("steady", [0.95, 0.951,
                                                                                   0.952])}
    rows = ranking_table(recipes, ["steady", "wide"])
    assert [row["network"] for row in rows] == ["steady", "wide"]
    assert rows[1]["seed spread (points)"] == "3.00" and rows[1]["peak lr (chosen)"] == "0.1 (edge)"
    assert rows[0]["test mean %"] == "95.10"
    assert rows[1]["test % (per seed)"] == "90.00, 93.00, 92.00"


def test_separated_is_the_one_rule_and_a_tie_is_an_overlap():
    from mnist_helpers.lab.experiments import separated

    assert separated([3, 4], [1, 2]) == 1 and separated([1, 2], [3, 4]) == -1
    assert separated([1, 3], [2, 4]) == 0 and separated([100.0], [100.0]) == 0
    assert separated([3, 1], [2, 0]) == 0, "higher seed by seed, yet the runs overlap"


def test_same_recipe_table_counts_a_p_value_at_the_level_as_shown():
    import torch

    from mnist_helpers.lab.experiments import TunedRecipe, same_recipe_table
    from mnist_helpers.lab.paired import compare_paired

    def with_right(only_first, only_second, both=900):
        first = torch.tensor([True] * (both + only_first) + [False] * only_second)
        second = torch.tensor([True] * both + [False] * only_first + [True] * only_second)
        runs = [_fake_run(0.1, seed) for seed in (0, 1)]
        for run, right in zip(runs, (first, second), strict=True):
            run.test_right, run.test_accuracy = right, float(right.double().mean())
        return TunedRecipe("net", {0.1: 0.9}, 0.1, runs, [0, 1]), compare_paired(first, second)

    recipe, pair = with_right(40, 12)
    rows, lines = same_recipe_table({"net": recipe}, len(recipe.runs[0].test_right),
                                    level=pair.p_value)
    assert rows[0]["only seed 0 right"] == 40 and rows[0]["only seed 1 right"] == 12
    assert lines[0].endswith("for 1 of 1 networks"), "p at the level itself counts as shown"
    rows, lines = same_recipe_table({"net": recipe}, 952, level=pair.p_value / 2)
    assert lines[0].endswith("for 0 of 1 networks")
    assert lines[1].endswith("difference: none")


def test_compare_arms_gives_each_group_its_verdict_and_an_exact_interval():
    from scipy.stats import binomtest

    from mnist_helpers.lab.experiments import compare_arms, exact_interval

    found = binomtest(45, 50).proportion_ci()
    assert exact_interval(90.0, 50) == pytest.approx((100 * found.low, 100 * found.high))
    scores = {"off": {"up": [90.0, 91.0], "down": [80.0, 82.0], "tie": [100.0, 100.0]},
              "on": {"up": [92.0, 93.0], "down": [70.0, 71.0], "tie": [100.0, 100.0]}}
    rows, by_verdict = compare_arms(scores, {"up": 1000, "down": 50, "tie": 30}, "off", "on")
    assert by_verdict == {"higher: every run above every run of the other": ["up"],
                          "lower: every run below every run of the other": ["down"],
                          "mixed (the runs overlap)": [],
                          "tied (every run of both arms the same)": ["tie"]}
    overlap = {"off": {"g": [90.0, 92.0]}, "on": {"g": [91.0, 93.0]}}
    assert compare_arms(overlap, {"g": 100}, "off", "on")[1]["mixed (the runs overlap)"] == ["g"]
    assert rows[0]["on, every run against every run"] == ("higher: every run above every run of "
                                                           "the other")
    assert rows[1]["on"] == "70.5 (70.0 to 71.0)" and rows[1]["images"] == "50"
    low, high = exact_interval(80.0, 50)
    assert rows[1]["95% interval of one run (off, first seed)"] == f"{low:.1f} to {high:.1f}"


def test_turn_and_shift_moves_each_quarter_its_own_fixed_way():
    import torch

    from mnist_helpers.lab.experiments import turn_and_shift

    blob = torch.zeros(4, 28, 28, dtype=torch.uint8)
    blob[:, 12:16, 12:16] = 255  # a square at the centre: turning it leaves its centre there

    def centre(image):
        weights = image.double()
        rows, columns = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        return (float((weights * rows).sum() / weights.sum()),
                float((weights * columns).sum() / weights.sum()))

    moved = turn_and_shift(blob)
    assert moved.shape == blob.shape and moved.dtype == torch.uint8
    assert torch.equal(moved, turn_and_shift(blob)), "nothing random"
    start = centre(blob[0])
    for k, (down, right) in enumerate([(0, 3), (0, -3), (3, 0), (-3, 0)]):
        row, column = centre(moved[k])
        assert row - start[0] == pytest.approx(down, abs=0.3), k
        assert column - start[1] == pytest.approx(right, abs=0.3), k
    assert not torch.equal(moved[0], moved[2]), "turned and shifted, not only turned"


def test_describe_networks_counts_each_networks_parameters():
    from mnist_helpers.lab.experiments import NETWORK_NOTES, describe_networks
    from mnist_helpers.models import ARCHITECTURES, build_model, count_parameters

    assert set(NETWORK_NOTES) == set(ARCHITECTURES), "a line for every network"
    lines = describe_networks(["logistic", "mlp"])
    assert lines[0].startswith(f"logistic      {count_parameters(build_model('logistic')):>9,} "
                               "parameters: one linear layer")
    assert "7,850 parameters" in lines[0] and "235,146 parameters" in lines[1]


def test_the_ladders_tables_keep_only_what_differs_and_apply_the_rule_round_by_round():
    from mnist_helpers.lab.experiments import (
        LADDER,
        describe_change,
        direction,
        ladder_table,
        rung_ratios,
        settings_table,
    )

    assert describe_change(LADDER[0][1], LADDER[1][1]) == "loader: classic → tensors"
    rows = settings_table([("a", LADDER[0][1]), ("b", LADDER[1][1]), ("c", LADDER[2][1])])
    assert rows == [{"setting": "lr", "a": "1.0", "b": "1.0", "c": "0.3"},
                    {"setting": "loader", "a": "classic", "b": "tensors", "c": "tensors"}]
    speeds = [[100.0, 100.0], [150.0, 90.0], [300.0, 200.0]]
    assert rung_ratios(speeds) == {1: [1.5, 0.9], 2: [2.0, 200 / 90]}
    assert direction([1.5, 0.9]) == "not shown" and direction([2.0, 1.1]) == "faster"
    assert direction([0.9, 0.99]) == "slower" and direction([1.0, 1.2]) == "not shown"
    table = ladder_table(LADDER[:3], speeds)
    assert table[0]["changed"] == "(start)" and table[0]["every round"] == ""
    assert table[1]["× the rung above: median (range)"] == "×1.20 (0.90 to 1.50)"
    assert table[2]["every round"] == "faster" and table[2]["images/s (median)"] == "250"
