"""The training benchmark: a real fast-path run, the throughput probe, the target verdicts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mnist_helpers.lab import bench


def test_run_one_fast_path_reaches_98_percent_and_reports_everything(mnist_raw_dir,
                                                                    private_default_data_dir):
    run_config = replace(bench.FAST, check_every=20_000)
    run = bench.run_one(run_config, seed=0, data_dir=str(mnist_raw_dir))
    seen = [images for images, _, _ in run["checks"]]
    assert len(seen) == 3 and seen[-1] == 60_000, "a check every 20,000 images, one at the end"
    batch = run_config.profile.batch_size
    assert all(0 <= images - 20_000 * (k + 1) < batch for k, images in enumerate(seen))
    accuracies = [acc for _, _, acc in run["checks"]]
    assert run["final_accuracy"] == accuracies[-1] > 0.98
    first = next((secs for _, secs, acc in run["checks"] if acc >= bench.TARGET), None)
    assert run["seconds_to_99"] == first, "the first check at 99% or above, or None"
    assert run["train_seconds"] > 0 and run["eval_seconds"] > 0
    assert run["images_per_second"] > 0
    assert run["peak_memory_mib"] >= run["memory_after_data_mib"] >= (
        run["memory_after_import_mib"]) > 0


def test_the_fast_path_keeps_the_data_as_bytes(mnist_raw_dir, private_default_data_dir):
    """Where the memory goes: loading the training and test sets adds about their size as
    bytes (55 MB, a copy of the training split while it is shuffled), not 4x that as
    floats."""
    measured = bench.in_fresh_process(bench.run_one, replace(bench.FAST, check_every=60_000),
                                      0, str(mnist_raw_dir))
    added = measured["memory_after_data_mib"] - measured["memory_after_import_mib"]
    assert added < 150, f"{added:.0f} MiB for the data"


def test_measure_throughput_trains_exactly_the_images_asked(mnist_raw_dir,
                                                           private_default_data_dir):
    speed = bench.measure_throughput(bench.FAST.profile, images=512, data_dir=str(mnist_raw_dir),
                                     warmup_batches=1)
    assert speed > 0


def test_the_ladder_starts_at_the_reference_and_ends_at_the_fast_path():
    assert bench.LADDER[0][1] == bench.REFERENCE.profile
    assert bench.LADDER[-1][1] == bench.FAST.profile
    assert bench.BEST.profile.arch == "deep_cnn" and bench.BEST.profile.val_size == 0


def _row(run, seconds, accuracies, train_seconds, memory=900.0):
    return {"name": run.name, "seconds_to_99": seconds, "final_accuracy": accuracies,
            "peak_memory_mib": memory, "runs": [{"train_seconds": t} for t in train_seconds]}


def test_targets_say_met_and_not_met():
    fast = _row(bench.FAST, [4.0, 4.9, 3.0], [0.991] * 3, [5, 5, 5])
    best = _row(bench.BEST, [500.0] * 3, [0.9971, 0.9968, 0.9972], [1100, 1150, 1190])
    lines = bench.targets([fast, best], speedup=65.0)
    assert "in <= 5 s on every seed: met" in lines[2]
    assert "(900 MiB): met" in lines[3]
    assert "(65.0x): met" in lines[4]
    assert lines[5].endswith(": met"), "best 99.72%, mean 99.70%, longest 19.8 min"
    assert "seeds at or above 99.70%: 2 of 3; lowest 99.68%" in lines[6]
    for accuracies, minutes in [([0.9969, 0.9968, 0.9966], 19), ([0.9972, 0.9960, 0.9962], 19),
                                ([0.9971, 0.9968, 0.9972], 21)]:
        late = _row(bench.BEST, [500.0] * 3, accuracies, [60 * minutes] * 3)
        assert bench.targets([late], None)[2].endswith("NOT met"), (accuracies, minutes)
    slow = _row(bench.FAST, [4.0, None, 3.0], [0.991] * 3, [5, 5, 5], memory=1100.0)
    lines = bench.targets([slow], speedup=None)
    assert lines[2].endswith("NOT met") and lines[3].endswith("NOT met") and len(lines) == 4


@pytest.mark.parametrize("memory", [None])
def test_targets_without_a_memory_figure(memory):
    fast = _row(bench.FAST, [4.0], [0.991], [5], memory=memory)
    assert not any("memory" in line for line in bench.targets([fast], speedup=None))
