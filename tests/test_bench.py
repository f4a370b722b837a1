"""The training benchmark: a real fast-path run, the throughput probe, the target verdicts."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

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


def test_the_best_run_trains_deep_cnn_on_all_training_images():
    assert bench.BEST.profile.arch == "deep_cnn" and bench.BEST.profile.val_size == 0


def _row(run, seconds, accuracies, train_seconds, memory=900.0):
    return {"name": run.name, "seconds_to_99": seconds, "final_accuracy": accuracies,
            "peak_memory_mib": memory, "runs": [{"train_seconds": t} for t in train_seconds]}


def test_targets_say_met_and_not_met():
    fast = _row(bench.FAST, [2.0 + i / 10 for i in range(10)], [0.991] * 10, [5] * 10)
    best = _row(bench.BEST, [500.0] * 3, [0.9976, 0.9975, 0.9977], [1700, 1750, 1790])
    lines = bench.targets([fast, best], speedup=120.0)
    assert "(lowest 99.10%): met" in lines[2]
    assert "(10 seeds; time to 99%: median 2.5 s, 2.0 to 2.9 s): met" in lines[3]
    assert "(900 MiB): met" in lines[4]
    assert "(120.0x): met" in lines[5]
    assert "(mean 99.76% ± 0.01 over 3 seeds, lowest 99.75%, longest 29.8 min): met" in lines[6]
    for accuracies, minutes in [([0.9974, 0.9975, 0.9975], 29), ([0.9976, 0.9976], 29),
                                ([0.9976, 0.9975, 0.9977], 31)]:
        late = _row(bench.BEST, [500.0] * 3, accuracies, [60 * minutes] * 3)
        assert bench.targets([late], None)[2].endswith("NOT met"), (accuracies, minutes)
    slow = _row(bench.FAST, [4.0, None, 3.0], [0.991, 0.989, 0.992], [5, 5, 5], memory=1100.0)
    lines = bench.targets([slow], speedup=99.0)
    assert "(lowest 98.90%): NOT met" in lines[2]
    assert "(3 seeds; time to 99%: median 3.5 s, 3.0 to 4.0 s): NOT met" in lines[3]
    assert lines[4].endswith("NOT met") and lines[5].endswith("(99.0x): NOT met")


@pytest.mark.parametrize("memory", [None])
def test_targets_without_a_memory_figure(memory):
    fast = _row(bench.FAST, [4.0], [0.991], [5], memory=memory)
    assert not any("memory" in line for line in bench.targets([fast], speedup=None))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_asking_for_a_gpu_that_is_not_there_is_one_line_and_exit_2(capsys):
    assert bench.main(["--device", "cuda", "--skip-reference", "--seeds", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no CUDA GPU" in err and "\n" not in err


def test_the_clock_waits_for_nothing_on_a_cpu():
    assert bench.gpu_peak_memory_mib(torch.device("cpu")) is None
    before = bench._clock(torch.device("cpu"))
    assert bench._clock(torch.device("cpu")) >= before
