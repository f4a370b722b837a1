"""Notebook 08b's phase timings on batches fetched in advance, the identical pair inside the
ladder, and the two figures of mnist_helpers.lab.speed_plots; on real MNIST tensors."""

from __future__ import annotations

import pytest

from mnist_helpers import TensorBatches, get_profile
from mnist_helpers.lab import speed, speed_plots


class CountedBatches:
    """Batches that count how many were fetched, and when (before or during training)."""

    def __init__(self, batches: TensorBatches) -> None:
        self.batches, self.fetched = batches, 0

    @property
    def dataset(self):
        return self.batches.dataset

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            self.fetched += 1
            yield batch


@pytest.fixture(scope="module")
def small(train_tensors) -> TensorBatches:
    return TensorBatches(train_tensors.subset(slice(0, 640)), 64, shuffle=True)


def test_step_breakdown_times_the_optimizer_apart_on_batches_fetched_in_advance(small):
    profile = get_profile("quick").with_overrides(arch="tiny_cnn", batch_size=64)
    counted = CountedBatches(small)
    times = speed.step_breakdown(profile, counted, "cpu", steps=12, warmup=2, prefetch=True,
                                 optimizer_apart=True)
    assert list(times) == ["fetching", "forward", "loss and backward", "optimizer"]
    assert all(value > 0 for value in times.values())
    # 14 steps from a 10-batch loader: one pass fetched in advance and kept, its first
    # batches used again for the last 4 steps
    assert counted.fetched == 10
    assert len(speed._Fetched(counted, 14)) == 14 and counted.fetched == 20
    plain = speed.step_breakdown(profile, small, "cpu", steps=3, warmup=1)
    assert list(plain) == ["fetching", "forward", "loss, backward and optimizer"]


def test_time_phases_alternates_the_order_in_one_process(monkeypatch):
    calls = []

    def recorded(profile, batches, device, *, steps, seed, prefetch, optimizer_apart):
        calls.append((profile.name, prefetch))
        assert optimizer_apart and steps == 7
        return {"forward": 1.0}

    monkeypatch.setattr(speed, "step_breakdown", recorded)
    monkeypatch.setattr(speed, "prepare_training_data",
                        lambda profile, device, seed, data_dir: type("D", (), {"train": None}))
    a, b = get_profile("quick"), get_profile("default")
    times = speed.time_phases([("a", a, False), ("b", b, True)], "cpu", steps=7, rounds=3)
    assert [name for name, _ in calls] == ["quick", "default", "default", "quick", "quick",
                                           "default"]
    assert calls[1] == ("default", True)
    assert times == {"a": [{"forward": 1.0}] * 3, "b": [{"forward": 1.0}] * 3}


def test_phase_speedups_are_time_before_over_after_round_by_round_with_the_total():
    before = [{"forward": 2.0, "optimizer": 3.0}, {"forward": 4.0, "optimizer": 1.0}]
    after = [{"forward": 1.0, "optimizer": 6.0}, {"forward": 4.0, "optimizer": 1.0}]
    assert speed.phase_speedups(before, after) == {
        "forward": [2.0, 1.0], "optimizer": [0.5, 1.0], "total": [5 / 7, 1.0]}


def test_with_repeat_times_a_rung_twice_side_by_side():
    ladder = speed.with_repeat(speed.LADDER)
    assert len(ladder) == len(speed.LADDER) + 1
    assert ladder[1] == (f"{speed.LADDER[0][0]}, again", speed.LADDER[0][1])
    assert ladder[2:] == speed.LADDER[1:]
    assert speed.changed_fields(ladder[0][1], ladder[1][1]) == []
    assert speed.with_repeat(speed.LADDER, 2, "x")[3] == ("x", speed.LADDER[2][1])


def test_the_round_ratios_and_shares_figures_render(tmp_path):
    speeds = [[100.0, 100.0], [96.0, 102.0], [200.0, 200.0], [190.0, 150.0]]
    fig = speed_plots.plot_round_ratios(["a", "a again", "b", "c"], speeds, controls=[1, 3],
                                        pair=1)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a again · control", "b",
                                                            "c · control"]
    assert ax.get_xlabel().startswith("images per second, ÷ the rung above's")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    # the pair's rounds, 0.96 and 1.02: the furthest from 1 is 0.96, so the band is symmetric
    assert "noise band of a again: 0.96 to 1.04" in legend
    assert {"round 1", "round 2", "median"} <= set(legend)
    assert len(fig.axes) == 1  # no split asked for: one panel
    fig.savefig(tmp_path / "ratios.png")
    # Split at 1.5: b's ratio of 2 goes to a second panel; the first keeps the region near 1.
    fig = speed_plots.plot_round_ratios(["a", "a again", "b", "c"], speeds, controls=[1, 3],
                                        pair=1, split_at=1.5)
    left, right = fig.axes
    assert left.get_xlim()[1] == 1.5 and right.get_xlim()[0] == 1.5
    dots = sorted(line.get_xdata()[0] for line in right.lines if line.get_marker() in "os")
    assert dots == pytest.approx([200 / 102, 200 / 96])  # b's two rounds, both above 1.5
    assert len(speed_plots.plot_round_ratios(["a", "a again", "b", "c"], speeds,
                                             controls=[1, 3], pair=1, split_at=5).axes) == 1
    # Two identical pairs, "a" and "c" each timed twice: one band each.
    speeds = [[100.0, 100.0], [96.0, 102.0], [200.0, 200.0], [190.0, 150.0], [171.0, 165.0]]
    fig = speed_plots.plot_round_ratios(["a", "a again", "b", "c", "c again"], speeds,
                                        controls=[1, 4], pair=[1, 4])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "noise band of a again: 0.96 to 1.04" in legend
    assert "noise band of c again: 0.90 to 1.11" in legend  # 171/190 = 0.90, 165/150 = 1.10
    fig.savefig(tmp_path / "two_bands.png")
    fig = speed_plots.plot_breakdown_with_shares({"slow": {"fetching": 30.0, "forward": 70.0},
                                                  "fast": {"fetching": 1.0, "forward": 9.0}})
    assert len(fig.axes) == 2
    assert "70%" in [t.get_text() for t in fig.axes[1].texts]
    fig.savefig(tmp_path / "shares.png")


def test_the_noise_band_is_symmetric_about_1_as_far_as_the_furthest_round():
    assert speed.noise_band([0.96, 1.02, 1.0]) == (0.96, 1 / 0.96)
    assert speed.noise_band([1.0, 1.05]) == (1 / 1.05, 1.05)


def test_a_verdict_needs_the_rule_and_every_round_outside_every_band():
    slow_end, fast_end = (0.95, 1 / 0.95), (0.84, 1 / 0.84)
    assert speed.verdict([1.3, 1.25, 1.4], [slow_end, fast_end]) == "faster"
    assert speed.verdict([0.7, 0.8], [slow_end]) == "slower"
    # the rule says faster, but one round (1.1) lies inside the fast end's band: time it again
    assert speed.verdict([1.3, 1.1, 1.4], [slow_end, fast_end]) == "unsettled"
    assert speed.verdict([1.3, 1.1, 1.4], [slow_end]) == "faster"
    assert speed.verdict([1.3, 0.9, 1.4], [slow_end]) == "not shown"


def test_an_axis_that_stops_short_of_2_gets_a_tick_at_1_8():
    # The channels-last rung of notebook 08b, by hand: its rounds reach ×1.87, so the axis ends
    # near 1.96, past 1.5 but short of 2; the points there need a tick of their own.
    speeds = [[4893.0, 4901.0], [4854.0, 4747.0], [8737.0, 8882.0]]
    fig = speed_plots.plot_round_ratios(["a", "a again", "b"], speeds, controls=[1], pair=1)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[-2:] == ["1.5", "1.8"]
    # An axis that reaches 2 keeps 2 and needs no 1.8.
    speeds = [[100.0, 100.0], [96.0, 102.0], [200.0, 210.0]]
    fig = speed_plots.plot_round_ratios(["a", "a again", "b"], speeds, controls=[1], pair=1)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "2" in ticks and "1.8" not in ticks
