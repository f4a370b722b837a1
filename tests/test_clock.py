"""Nothing may depend on how fast the machine is: the same runs under a simulated very fast
and very slow clock take the same steps and reach the same weights; only the times differ.

The bug this guards against: the speed ladder trained "for at least 4 seconds" with a
learning-rate schedule sized for one epoch, and on a machine fast enough to train an epoch in
under 4 s the schedule ran out ("Tried to step 470 times").
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
import torch

from mnist_helpers import TensorBatches, TrainingData, build_model, fit, get_profile
from mnist_helpers.data import images_per_second
from mnist_helpers.display.widgets import Playground
from mnist_helpers.lab import bench, experiments

PACKAGE = Path(__file__).resolve().parent.parent / "mnist_helpers"


class SimulatedClock:
    """A clock that advances ``tick`` seconds every time it is read: a tiny tick is a very
    fast machine (everything takes no time), a large one a very slow machine."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick, self.reads = 1_000.0, tick, 0

    def __call__(self) -> float:
        self.now += self.tick
        self.reads += 1
        return self.now


MACHINES = {"1000x faster": 1e-6, "1000x slower": 30.0}


@pytest.fixture(params=list(MACHINES), ids=list(MACHINES))
def machine(request, monkeypatch) -> SimulatedClock:
    clock = SimulatedClock(MACHINES[request.param])
    monkeypatch.setattr(time, "perf_counter", clock)
    monkeypatch.setattr(time, "monotonic", clock)
    return clock


@pytest.fixture(scope="module")
def small(train_tensors, test_tensors) -> TrainingData:
    return TrainingData(train=TensorBatches(train_tensors.subset(slice(0, 640)), 64, shuffle=True),
                        val=TensorBatches(train_tensors.subset(slice(59_000, 59_200)), 100),
                        test=TensorBatches(test_tensors.subset(slice(0, 200)), 100))


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def train_small(small, **fit_kwargs):
    profile = get_profile("quick").with_overrides(epochs=2, batch_size=64)
    torch.manual_seed(0)
    model = build_model("fast_cnn")
    batches = TensorBatches(small.train.dataset, 64, shuffle=True, seed=0)
    history = fit(model, batches, small.val, profile, device="cpu", verbose=False, **fit_kwargs)
    return model.state_dict(), history


@pytest.fixture(scope="module")
def reference_run(small):
    """The run on the real clock, to compare with."""
    return train_small(small)


def test_fit_is_the_same_on_any_machine(machine, small, reference_run):
    weights, history = train_small(small)
    expected_weights, expected = reference_run
    assert same_weights(weights, expected_weights)
    assert history.step_loss == expected.step_loss and history.epoch == [1, 2]
    assert history.val_accuracy == expected.val_accuracy
    assert all(s > 0 for s in history.train_seconds)  # measured with the simulated clock


def test_the_throughput_probe_trains_a_fixed_number_of_steps(machine, mnist_raw_dir,
                                                           private_default_data_dir,
                                                           monkeypatch):
    """The probe trains warm-up + images/batch steps, whatever the clock says, and its
    schedule was planned for them (the old one crashed when 4 s held more than an epoch)."""
    taken = []
    real = bench.training_steps

    def counting(*args, **kwargs):
        for step in real(*args, **kwargs):
            taken.append(step)
            yield step

    monkeypatch.setattr(bench, "training_steps", counting)
    profile = bench.FAST.profile.with_overrides(batch_size=128)
    speed = bench.measure_throughput(profile, images=70_000, data_dir=str(mnist_raw_dir),
                                     warmup_batches=5)
    assert len(taken) == 5 + -(-70_000 // 128), "more than an epoch: the run spans two"
    assert {s.epoch for s in taken} == {1, 2}
    assert speed > 0


def test_a_benchmark_run_checks_at_the_same_images_on_any_machine(machine, mnist_raw_dir,
                                                                  private_default_data_dir):
    quick = bench.BenchRun("tiny", bench.FAST.profile.with_overrides(train_limit=3_000),
                           check_every=1_000)
    run = bench.run_one(quick, seed=0, data_dir=str(mnist_raw_dir))
    assert [images for images, _, _ in run["checks"]] == [1024, 2048, 3000]
    assert run["train_seconds"] >= 0 and run["images_per_second"] > 0


def test_the_playground_records_every_batch_however_often_it_redraws(machine, small):
    playground = Playground("cpu", data=small, epochs=2, train_images=640)
    playground.settings.batch_size.value = 64
    history = playground.train()
    assert len(playground.curves.step_loss) == 2 * 10 == len(history.step_loss)
    assert playground.redraws >= 3  # at least at the start, after each epoch and at the end


def test_step_breakdown_and_loading_speed_take_fixed_work(machine, small):
    profile = get_profile("quick").with_overrides(arch="tiny_cnn", batch_size=64)
    times = experiments.step_breakdown(profile, small.train, "cpu", steps=4, warmup=2)
    assert set(times) == {"fetching", "forward", "loss, backward and optimizer"}
    before = machine.reads
    assert images_per_second(small.train, max_images=200) > 0
    assert machine.reads - before == 2, "one clock read at the start, one at the end"


#: Every place in the package that reads a clock, and why that cannot change what is
#: computed: it only measures or paces the display. A new clock read fails this test until
#: it is added here, with a simulated-clock test above.
CLOCK_READS = {
    ("cli.py", "_train"): "prints the training time",
    ("course/runner.py", "run_notebooks"): "prints each notebook's time",
    ("display/widgets/playground.py", "_redraw"): "paces redrawing; every batch is recorded",
    ("lab/bench.py", "_clock"): "the benchmark's one clock (after the GPU finishes): it times "
                                "a fixed number of steps, checks at fixed image counts and "
                                "leaves evaluation time out",
    ("lab/speed.py", "__iter__"): "times fetching a batch",
    ("lab/speed.py", "before"): "times the forward pass or the optimizer's step",
    ("lab/speed.py", "after"): "times the forward pass or the optimizer's step",
    ("lab/speed.py", "stop"): "times the forward pass or the optimizer's step",
    ("lab/speed.py", "step_breakdown"): "times a fixed number of steps",
    ("lab/speed.py", "cpu_snapshot"): "reads the wall clock beside the CPU clocks, to tell how "
                                      "much of the cores other programs took; sizes nothing",
    ("files.py", "remove_stale_temporaries"): "the age of a dead writer's temporary file",
    ("data.py", "images_per_second"): "measures a fixed number of images",
    ("train.py", "fit"): "records each epoch's training seconds",
}


def test_every_clock_read_is_known_and_only_measures():
    found = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "time"
                        and node.func.attr in {"perf_counter", "monotonic", "time",
                                               "process_time"}):
                    found.add((str(path.relative_to(PACKAGE)), function.name))
    unknown = found - set(CLOCK_READS)
    assert unknown == set(), f"new clock reads: {sorted(unknown)}"
    assert set(CLOCK_READS) - found == set(), "listed but gone: remove them from CLOCK_READS"
