"""Training: devices, seeds, profiles, the fit loop, its log lines, interrupts and resuming."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from mnist_helpers import (
    PROFILES,
    CheckpointError,
    ConfigError,
    TensorBatches,
    build_model,
    describe_device,
    evaluate,
    fit,
    get_device,
    get_profile,
    load_checkpoint,
    seed_everything,
    training_steps,
)
from mnist_helpers.augment import random_affine
from mnist_helpers.checkpoint import read_checkpoint
from mnist_helpers.config import BACKGROUND
from mnist_helpers.device import gpu_settings
from mnist_helpers.evaluate import EvalResult
from mnist_helpers.loop import (
    GpuSpeedups,
    TrainingSetup,
    learning_rates,
    make_optimizer,
    make_scheduler,
)

TRAIN_LINE = re.compile(r"Train Epoch: 1 \[\d+/\d+ \(\d+%\)\]\tLoss: \d+\.\d{6}")
VAL_LINE = re.compile(
    r"Validation set: Average loss: \d+\.\d{4}, Accuracy: \d+/\d+ \(\d+\.\d{2}%\)")


@pytest.fixture(scope="module")
def smaller_train(train_tensors):
    return train_tensors.subset(slice(1000, 1500))


def tiny_profile(**overrides: object):
    """The quick profile, made smaller still: one epoch, batches of 50."""
    settings = {"epochs": 1, "batch_size": 50, "lr": 0.05}
    settings.update(overrides)
    return get_profile("quick").with_overrides(**settings)


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def quiet_fit(model, train, val, profile, **kwargs):
    return fit(model, train, val, profile, device="cpu", verbose=False, **kwargs)


# --- devices and random seeds -----------------------------------------------------------


def test_get_device_cpu():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(" CPU ") == torch.device("cpu")
    assert describe_device(torch.device("cpu")).startswith("cpu (")


def test_get_device_honours_environment(monkeypatch):
    monkeypatch.setenv("MNIST_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    assert get_device("auto") in {torch.device("cpu"), torch.device("cuda"),
                                  torch.device("mps")}


def test_get_device_auto_picks_what_is_there():
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    assert get_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
@pytest.mark.parametrize("how", ["argument", "environment"])
def test_asking_for_missing_cuda_is_a_clear_error(monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("MNIST_DEVICE", "cuda")
    with pytest.raises(ConfigError, match="no CUDA GPU") as caught:
        get_device("cuda" if how == "argument" else None)
    assert "MNIST_DEVICE" in str(caught.value)


@pytest.mark.parametrize("name, expected", [
    ("tpu", "Unknown device 'tpu'"), ("xla", "not supported here"), ("meta", "not supported here"),
    ("cpu:1", "only one cpu device"), ("mps:2", "only one mps device")])
def test_devices_we_cannot_use_are_named_as_such(name, expected):
    with pytest.raises(ConfigError, match=expected):
        get_device(name)


def test_gpu_settings_are_on_for_cuda_and_off_on_the_cpu():
    cuda, cpu = gpu_settings("cuda"), gpu_settings("cpu")
    assert cuda.mixed_precision and cuda.cudnn_benchmark and cuda.non_blocking
    assert not (cpu.mixed_precision or cpu.cudnn_benchmark or cpu.non_blocking)
    assert gpu_settings("cpu", mixed_precision=True).mixed_precision
    assert not gpu_settings("cuda", mixed_precision=False).mixed_precision
    # On the CPU the scaler is a pass-through, whatever was asked.
    assert not gpu_settings("cpu", True).grad_scaler(torch.device("cpu")).is_enabled()


def test_the_gpu_speedups_are_the_plain_steps_on_the_cpu():
    """On a CPU every marked line of the loop does what its plain PyTorch line does."""
    speedups = GpuSpeedups.for_device(torch.device("cpu"), None)
    assert not speedups.scales_loss
    images, labels = torch.rand(4, 1, 28, 28), torch.arange(4)
    moved = speedups.to_device(images, labels, torch.device("cpu"))
    assert moved[0] is images and moved[1] is labels, "already there: not copied"
    with speedups.autocast(torch.device("cpu")):
        assert (images @ images.transpose(2, 3)).dtype == torch.float32
    with speedups.autotuning():
        assert not torch.backends.cudnn.benchmark


def test_the_gradient_scaler_path_takes_the_same_step_as_the_plain_one():
    """``backward_and_step`` (float16 mixed precision's path, run here with a CPU scaler)
    multiplies the loss by a power of two and divides the gradients back: the same step as
    ``loss.backward(); optimizer.step()``."""
    def one_step(scaled: bool) -> torch.Tensor:
        torch.manual_seed(0)
        layer = torch.nn.Linear(784, 10)
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        loss = torch.nn.functional.cross_entropy(layer(torch.rand(8, 784)), torch.arange(8))
        if scaled:
            scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
            speedups = GpuSpeedups(gpu_settings("cpu"), scaler)
            assert speedups.scales_loss
            speedups.backward_and_step(loss, optimizer)
        else:
            loss.backward()
            optimizer.step()
        return layer.weight.detach()

    assert torch.equal(one_step(scaled=True), one_step(scaled=False))


def test_forced_mixed_precision_trains_on_the_cpu(small_train, small_val):
    """The mixed-precision code path (autocast, bfloat16 on a CPU) runs and learns here, so the
    GPU path differs only in the dtype and the gradient scaler."""
    seed_everything(0)
    model = build_model("fast_cnn")
    history = quiet_fit(model, TensorBatches(small_train, 50, shuffle=True),
                        TensorBatches(small_val, 250), tiny_profile(mixed_precision=True))
    assert history.val_accuracy[0] > 0.5


def train_tiny(seed: int, data, val, epochs: int = 1) -> dict:
    seed_everything(seed)
    model = build_model("fast_cnn")
    quiet_fit(model, TensorBatches(data, 50, shuffle=True, seed=seed), TensorBatches(val, 250),
              tiny_profile(epochs=epochs), seed=seed)
    return model.state_dict()


def test_same_seed_same_weights_other_seed_other_weights(small_train, small_val):
    data = small_train.subset(slice(0, 300))
    first, second = train_tiny(1, data, small_val), train_tiny(1, data, small_val)
    assert same_weights(first, second)
    other = train_tiny(2, data, small_val)
    assert not same_weights(first, other)


def test_seed_everything_seeds_python_numpy_and_torch():
    import random

    import numpy as np

    seed_everything(5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


# --- profiles -----------------------------------------------------------------------------


def test_profiles_by_name():
    assert set(PROFILES) == {"quick", "default", "robust", "best"}
    for name in PROFILES:
        assert get_profile(name).name == name
    assert get_profile("Quick") is PROFILES["quick"]
    assert get_profile() is PROFILES["default"]
    quick = get_profile("quick")
    assert quick.epochs == 1 and quick.train_limit is not None
    assert get_profile("best").augment and get_profile("best").epochs > get_profile().epochs


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("MNIST_PROFILE", "quick")
    assert get_profile().name == "quick"
    assert get_profile("best").name == "best", "an argument beats the environment"


@pytest.mark.parametrize("where", ["argument", "environment"])
def test_unknown_profile_lists_the_choices(monkeypatch, where):
    if where == "environment":
        monkeypatch.setenv("MNIST_PROFILE", "turbo")
    with pytest.raises(ConfigError) as caught:
        get_profile("turbo" if where == "argument" else None)
    message = str(caught.value)
    assert "'turbo'" in message
    for name in PROFILES:
        assert name in message


def test_with_overrides():
    quick = get_profile("quick")
    changed = quick.with_overrides(epochs=3, arch="classic_cnn")
    assert (changed.epochs, changed.arch) == (3, "classic_cnn")
    assert quick.epochs == 1 and quick.arch == "fast_cnn", "the original is unchanged"
    assert changed.to_dict()["epochs"] == 3
    with pytest.raises(ConfigError, match="epoch") as caught:
        quick.with_overrides(epoch=3)
    assert "valid fields" in str(caught.value)


@pytest.mark.parametrize("change, expected", [
    ({"epochs": 0}, "epochs must be"), ({"batch_size": -5}, "batch_size must be"),
    ({"lr": 0.0}, "lr must be"), ({"optimizer": "lion"}, "optimizer must be one of"),
    ({"schedule": "cosine"}, "schedule must be"), ({"label_smoothing": 1.0}, "label_smoothing")])
def test_a_profile_with_impossible_values_is_refused(change, expected):
    with pytest.raises(ConfigError, match=expected):
        get_profile("quick").with_overrides(**change)


def test_profile_width_reaches_the_model_and_the_checkpoint(small_train, small_val, tmp_path):
    best = get_profile("best")
    assert best.width == 24 and best.model_kwargs() == {"width": 24}
    assert get_profile("default").model_kwargs() == {}
    profile = get_profile("quick").with_overrides(width=4)
    model = build_model(profile.arch, **profile.model_kwargs())
    quiet_fit(model, TensorBatches(small_train, 100), TensorBatches(small_val, 250), profile,
              checkpoint_path=tmp_path / "w4.pt")
    loaded, info = load_checkpoint(tmp_path / "w4.pt", "cpu")
    assert info.arch_kwargs == {"width": 4}
    assert sum(p.numel() for p in loaded.parameters()) == sum(
        p.numel() for p in model.parameters())


def test_the_profile_momentum_is_the_momentum_used():
    """The one-cycle schedule changes only the learning rate: the momentum a profile (and a
    notebook cell) shows is the one SGD uses at every step."""
    param = torch.nn.Parameter(torch.zeros(1))
    for momentum in (0.0, 0.5, 0.9):
        profile = tiny_profile(momentum=momentum, epochs=2)
        setup = TrainingSetup.create(torch.nn.Linear(1, 1), profile, 10, torch.device("cpu"))
        seen = set()
        for _ in range(20):
            setup.optimizer.step()
            setup.scheduler.step()
            seen.add(setup.optimizer.param_groups[0]["momentum"])
        assert seen == {momentum}
    del param


# --- the training loop --------------------------------------------------------------------


def test_training_steps_yields_every_step_and_stops_when_left(small_train):
    seed_everything(0)
    model = build_model("fast_cnn")
    batches = TensorBatches(small_train.subset(slice(0, 300)), 50)
    profile = tiny_profile(epochs=2)
    setup = TrainingSetup.create(model, profile, len(batches), torch.device("cpu"))
    steps = list(training_steps(model, batches, setup, epochs=range(1, 3), device="cpu"))
    assert [(s.epoch, s.batch) for s in steps] == [(e, b) for e in (1, 2) for b in range(1, 7)]
    assert [s.epoch_done for s in steps].count(True) == 2
    assert all(s.images == 50 and s.batches == 6 for s in steps)
    assert all(0 <= s.accuracy <= 1 and s.loss > 0 for s in steps)
    rates = [s.lr for s in steps]
    assert max(rates) == pytest.approx(profile.lr) and rates[-1] < rates[0]
    # Leaving the loop stops training: no further step is taken.
    setup = TrainingSetup.create(model, profile, len(batches), torch.device("cpu"))
    taken = 0
    for _step in training_steps(model, batches, setup, epochs=range(1, 3), device="cpu"):
        taken += 1
        if taken == 4:
            break
    assert setup.scheduler.last_epoch == 4


def test_fit_learns_logs_and_checkpoints(small_train, small_val, tmp_path, capsys):
    seed_everything(0)
    model = build_model("fast_cnn")
    train = TensorBatches(small_train, 10, shuffle=True)
    val = TensorBatches(small_val, 250)
    before = evaluate(model, val)
    path = tmp_path / "models" / "tiny.pt"
    history = fit(model, train, val, tiny_profile(batch_size=10), device="cpu",
                  checkpoint_path=path)
    lines = capsys.readouterr().out.splitlines()

    assert history.epoch == [1] and not history.stopped
    assert len(history.step_loss) == len(history.step_lr) == 100
    assert history.val_loss[0] < 0.7 * before.loss
    assert history.val_accuracy[0] > before.accuracy + 0.2
    assert 0.5 < history.train_accuracy[0] <= 1
    assert sum(history.step_loss[-5:]) < sum(history.step_loss[:5])
    assert history.best_epoch == 1 and history.best_val_accuracy == history.val_accuracy[0]

    train_lines = [line for line in lines if line.startswith("Train Epoch")]
    assert len(train_lines) == 1, "every 100 batches and at the end of the epoch"
    assert all(TRAIN_LINE.fullmatch(line) for line in train_lines), train_lines
    assert train_lines[-1].startswith("Train Epoch: 1 [1000/1000 (100%)]")
    val_lines = [line for line in lines if line.startswith("Validation set")]
    assert len(val_lines) == 1 and VAL_LINE.match(val_lines[0]), val_lines

    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["tiny.pt"]
    loaded, info = load_checkpoint(path)
    assert info.arch == "fast_cnn" and info.epochs == 1 and info.best_epoch == 1
    assert info.profile["name"] == "quick"
    assert evaluate(loaded, val).correct == round(history.val_accuracy[0] * len(small_val))


def test_fit_without_checkpoint_path_writes_nothing(small_train, small_val, tmp_path,
                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    seed_everything(0)
    model = build_model("fast_cnn")
    quiet_fit(model, TensorBatches(small_train.subset(slice(0, 200)), 50),
              TensorBatches(small_val, 250), tiny_profile())
    assert list(tmp_path.iterdir()) == []


def test_fit_with_augmentation_and_label_smoothing(small_train, small_val):
    seed_everything(0)
    model = build_model("fast_cnn")
    profile = tiny_profile(augment=True, label_smoothing=0.1, optimizer="adamw", lr=0.01)
    history = quiet_fit(model, TensorBatches(small_train, 50, shuffle=True),
                        TensorBatches(small_val, 250), profile)
    assert history.val_accuracy[0] > 0.6


def test_fit_trains_another_architecture_than_the_profiles_and_records_it(
        small_train, small_val, tmp_path):
    """The profile names fast_cnn; the model given is a tiny_cnn: that is what is trained,
    what the checkpoint says, and what loading it builds."""
    seed_everything(0)
    model = build_model("tiny_cnn")
    path = tmp_path / "tiny.pt"
    val = TensorBatches(small_val, 250)
    history = quiet_fit(model, TensorBatches(small_train, 50, shuffle=True), val,
                        tiny_profile(), checkpoint_path=path)
    loaded, info = load_checkpoint(path)
    assert (info.arch, info.model_class, type(loaded).__name__) == ("tiny_cnn", "TinyCNN",
                                                                   "TinyCNN")
    assert evaluate(loaded, val).accuracy == history.best_val_accuracy > 0.5


def test_without_validation_images_the_last_epoch_is_kept(small_train):
    seed_everything(0)
    model = build_model("fast_cnn")
    history = quiet_fit(model, TensorBatches(small_train.subset(slice(0, 200)), 50),
                        TensorBatches(small_train.subset(slice(0, 0)), 250),
                        tiny_profile(epochs=3))
    assert history.best_epoch == 3


@pytest.mark.parametrize("keep", ["best", "last"])
def test_keep_last_keeps_the_last_epoch_even_when_an_earlier_one_measured_better(
        keep, smaller_train, small_val, monkeypatch):
    """Validation says epoch 1 is better than epoch 2: ``keep="best"`` ends with epoch 1's
    weights, ``keep="last"`` with epoch 2's."""
    import mnist_helpers.train as train_module
    scores = iter([0.9, 0.1])  # the validation accuracy of epochs 1 and 2
    monkeypatch.setattr(train_module, "evaluate",
                        lambda model, val: EvalResult(0.1, int(100 * next(scores)), 100))
    seed_everything(0)
    model = build_model("fast_cnn")
    after_epoch = []
    history = quiet_fit(model, TensorBatches(smaller_train, 50), TensorBatches(small_val, 250),
                        tiny_profile(epochs=2), keep=keep,
                        on_epoch=lambda h: after_epoch.append(copy.deepcopy(model.state_dict())))
    kept = 0 if keep == "best" else 1
    assert same_weights(model.state_dict(), after_epoch[kept])
    assert not same_weights(after_epoch[0], after_epoch[1])
    assert history.best_epoch == kept + 1


def test_keep_must_be_best_or_last(smaller_train, small_val):
    with pytest.raises(ValueError, match='keep must be "best" or "last"'):
        quiet_fit(build_model("fast_cnn"), TensorBatches(smaller_train, 50),
                  TensorBatches(small_val, 250), tiny_profile(), keep="first")


def test_on_step_returning_true_stops_after_that_step(smaller_train, small_val, tmp_path):
    seed_everything(0)
    model = build_model("fast_cnn")
    initial = copy.deepcopy(model.state_dict())
    seen = []
    history = quiet_fit(model, TensorBatches(smaller_train, 50), TensorBatches(small_val, 250),
                        tiny_profile(epochs=2), checkpoint_path=tmp_path / "c.pt",
                        on_step=lambda step: seen.append(step) or len(seen) == 3)
    assert len(seen) == 3 and history.stopped and history.epoch == []
    assert same_weights(model.state_dict(), initial), "no epoch finished: the starting weights"


def test_on_epoch_returning_true_stops_after_that_epoch(smaller_train, small_val, tmp_path):
    seed_everything(0)
    model = build_model("fast_cnn")
    path = tmp_path / "c.pt"
    history = quiet_fit(model, TensorBatches(smaller_train, 50), TensorBatches(small_val, 250),
                        tiny_profile(epochs=3), checkpoint_path=path,
                        on_epoch=lambda h: len(h.epoch) == 2)
    assert history.stopped and history.epoch == [1, 2]
    assert read_checkpoint(path)["resume"]["epoch"] == 2


class InterruptingBatches:
    """Wraps batches; raises KeyboardInterrupt (Jupyter's stop button) at batch ``at`` of
    pass ``epoch``, recording the model's weights at that moment."""

    def __init__(self, batches: TensorBatches, model: torch.nn.Module, epoch: int, at: int):
        self.batches, self.model, self.epoch, self.at = batches, model, epoch, at
        self.passes = 0
        self.weights_when_interrupted: dict | None = None

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def dataset(self):
        return self.batches.dataset

    @property
    def generator(self):
        return self.batches.generator

    def __iter__(self):
        self.passes += 1
        for index, batch in enumerate(self.batches):
            if self.passes == self.epoch and index == self.at:
                self.weights_when_interrupted = copy.deepcopy(self.model.state_dict())
                raise KeyboardInterrupt
            yield batch


def test_interrupt_keeps_best_weights_and_a_loadable_checkpoint(smaller_train, small_val,
                                                                tmp_path, capsys):
    seed_everything(0)
    model = build_model("fast_cnn")
    train = InterruptingBatches(TensorBatches(smaller_train, 50, shuffle=True), model,
                                epoch=2, at=5)
    val = TensorBatches(small_val, 250)
    per_epoch: dict[int, dict] = {}

    def remember(history):
        per_epoch[history.epoch[-1]] = copy.deepcopy(model.state_dict())

    path = tmp_path / "run.pt"
    history = fit(model, train, val, tiny_profile(epochs=3), device="cpu",
                  checkpoint_path=path, on_epoch=remember)
    lines = capsys.readouterr().out.splitlines()

    assert history.stopped
    assert history.epoch == [1] and history.best_epoch == 1
    assert "Interrupted" in lines[-1] and "epoch 1" in lines[-1]
    assert train.weights_when_interrupted is not None
    assert not same_weights(train.weights_when_interrupted, per_epoch[1]), \
        "five batches of epoch 2 changed the weights"
    assert same_weights(model.state_dict(), per_epoch[1])

    loaded, info = load_checkpoint(path)
    assert same_weights(loaded.state_dict(), per_epoch[1])
    assert info.epochs == 1
    assert evaluate(loaded, val).accuracy == pytest.approx(history.val_accuracy[0])
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_interrupt_in_first_epoch_returns_the_untrained_model(smaller_train, small_val):
    seed_everything(0)
    model = build_model("fast_cnn")
    initial = copy.deepcopy(model.state_dict())
    train = InterruptingBatches(TensorBatches(smaller_train, 50), model, epoch=1, at=3)
    history = quiet_fit(model, train, TensorBatches(small_val, 250), tiny_profile())
    assert history.stopped and history.epoch == [] and history.best_epoch == 0
    assert same_weights(model.state_dict(), initial)


def test_resume_continues_at_the_next_epoch_exactly(smaller_train, small_val, tmp_path,
                                                   capsys):
    """An interrupted and resumed run ends with the same weights as one never stopped."""
    profile = tiny_profile(epochs=2, augment=True)
    val = TensorBatches(small_val, 250)
    seed_everything(0)
    straight = build_model("fast_cnn")
    quiet_fit(straight, TensorBatches(smaller_train, 50, shuffle=True), val, profile)

    seed_everything(0)
    model = build_model("fast_cnn")
    first_run = tmp_path / "first.pt"
    train = InterruptingBatches(TensorBatches(smaller_train, 50, shuffle=True), model,
                                epoch=2, at=3)
    history = quiet_fit(model, train, val, profile, checkpoint_path=first_run)
    assert history.stopped and history.epoch == [1]
    assert read_checkpoint(first_run)["resume"]["epoch"] == 1

    fresh = build_model("fast_cnn")
    second_run = tmp_path / "second.pt"
    capsys.readouterr()
    resumed = fit(fresh, TensorBatches(smaller_train, 50, shuffle=True), val, profile,
                  device="cpu", checkpoint_path=second_run, resume_from=first_run)
    lines = capsys.readouterr().out.splitlines()

    assert not resumed.stopped
    assert resumed.epoch == [1, 2]
    assert resumed.val_accuracy[0] == history.val_accuracy[0]
    assert len(resumed.step_loss) == 2 * len(train)
    assert lines[0] == f"Resuming from {first_run} after epoch 1 of 2."
    assert not any(line.startswith("Train Epoch: 1 ") for line in lines)
    final = read_checkpoint(second_run)
    assert final["metadata"]["epochs"] == 2 and final["resume"]["epoch"] == 2
    # The learning-rate schedule carried on where it stopped: two epochs' steps in all.
    assert final["resume"]["scheduler"]["last_epoch"] == 2 * len(train)
    assert same_weights(fresh.state_dict(), final["state_dict"])
    assert same_weights(fresh.state_dict(), straight.state_dict()), \
        "shuffling and augmentation resumed where they were"


def test_resuming_a_finished_run_writes_the_new_checkpoint(smaller_train, small_val, tmp_path,
                                                           capsys):
    profile = tiny_profile()
    val = TensorBatches(small_val, 250)
    seed_everything(0)
    done = tmp_path / "done.pt"
    quiet_fit(build_model("fast_cnn"), TensorBatches(smaller_train, 50), val, profile,
              checkpoint_path=done)
    new = tmp_path / "new.pt"
    model = build_model("fast_cnn")
    history = fit(model, TensorBatches(smaller_train, 50), val, profile, device="cpu",
                  checkpoint_path=new, resume_from=done)
    assert "nothing left to train" in capsys.readouterr().out
    assert history.epoch == [1] and new.is_file()
    assert same_weights(read_checkpoint(new)["state_dict"], read_checkpoint(done)["state_dict"])


@pytest.mark.parametrize("change, expected", [
    ({"epochs": 2}, "planned for 1 epoch"), ({"batch_size": 25}, "batch_size 50 \\(now 25\\)"),
    ({"arch": "tiny_cnn"}, "trained a FastCNN, not a TinyCNN")])
def test_resuming_with_another_plan_is_a_clear_error(smaller_train, small_val, tmp_path,
                                                    change, expected):
    """A 1-epoch run resumed with --epochs 2 used to crash in the scheduler ("Tried to step
    64 times"): the schedule is part of the plan, so another plan is refused up front."""
    val = TensorBatches(small_val, 250)
    seed_everything(0)
    done = tmp_path / "done.pt"
    quiet_fit(build_model("fast_cnn"), TensorBatches(smaller_train, 50), val, tiny_profile(),
              checkpoint_path=done)
    profile = tiny_profile(**change)
    with pytest.raises(CheckpointError, match=expected):
        quiet_fit(build_model(profile.arch), TensorBatches(smaller_train, profile.batch_size),
                  val, profile, resume_from=done)


def test_resume_from_a_checkpoint_without_training_state(quick_checkpoint, smaller_train,
                                                         small_val):
    with pytest.raises(CheckpointError, match="no training state"):
        quiet_fit(build_model("fast_cnn"), TensorBatches(smaller_train, 50),
                  TensorBatches(small_val, 250), tiny_profile(), resume_from=quick_checkpoint)


def _by_hand_default(layer):
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    return optimizer, torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=2150, pct_start=0.25, cycle_momentum=False)


def _by_hand_pytorch_example(layer):
    optimizer = torch.optim.Adadelta(layer.parameters(), lr=1.0, weight_decay=0.0)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=430, gamma=0.7)


@pytest.mark.parametrize("profile, by_hand", [
    (get_profile("default"), _by_hand_default),
    (get_profile("default").with_overrides(optimizer="adadelta", lr=1.0, weight_decay=0.0,
                                           schedule="steplr"), _by_hand_pytorch_example)])
def test_the_profiles_optimizer_and_schedule_are_the_torch_ones_they_name(profile, by_hand):
    """What a notebook shows beside make_optimizer and make_scheduler: the same objects built
    with torch directly (as their docstrings write them) train identically."""
    steps = 430  # batches of 128 in the 55,000 training images the default profile keeps
    assert -(-(60_000 - profile.val_size) // profile.batch_size) == steps

    def train(build) -> tuple[torch.Tensor, list[float]]:
        torch.manual_seed(0)
        layer = torch.nn.Linear(784, 10)
        optimizer, scheduler = build(layer)
        rates = []
        for _ in range(500):  # past StepLR's first drop
            loss = torch.nn.functional.cross_entropy(layer(torch.rand(8, 784)), torch.arange(8))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rates.append(scheduler.get_last_lr()[0])
            scheduler.step()
        return layer.weight.detach(), rates

    def ours(layer):
        optimizer = make_optimizer(profile, layer.parameters())
        return optimizer, make_scheduler(profile, optimizer, steps)

    (mine, my_rates), (theirs, their_rates) = train(ours), train(by_hand)
    assert torch.equal(mine, theirs) and my_rates == their_rates
    assert learning_rates(profile, steps)[:500] == my_rates


def test_scheduler_works_for_any_number_of_steps():
    for total in range(1, 41):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1,
                                    momentum=0.9)
        scheduler = make_scheduler(tiny_profile(lr=0.1), optimizer, total)
        rates = []
        for _ in range(total):
            rates.append(optimizer.param_groups[0]["lr"])  # the rate this step trains with
            optimizer.step()
            scheduler.step()
        assert all(0 < rate <= 0.1 + 1e-12 for rate in rates), total
        assert total < 3 or rates[-1] < max(rates), total


def test_evaluate_counts_and_log_line(quick_model, test_tensors):
    part = test_tensors.subset(slice(0, 1000))
    result = evaluate(quick_model, TensorBatches(part, 300))
    images, labels = part.batch(slice(None))
    with torch.no_grad():
        predicted = quick_model(images).argmax(1)
    assert result.total == 1000
    assert result.correct == int((predicted == labels).sum())
    assert result.accuracy > 0.8
    line = EvalResult(loss=0.10951, correct=9876, total=10000).log_line()
    assert line == "Test set: Average loss: 0.1095, Accuracy: 9876/10000 (98.76%)"
    assert EvalResult(0.0, 0, 0).accuracy == 0.0


def test_evaluate_restores_the_mode_it_found(quick_model, test_tensors):
    batches = TensorBatches(test_tensors.subset(slice(0, 100)), 50)
    quick_model.train()
    evaluate(quick_model, batches)
    assert quick_model.training
    quick_model.eval()
    evaluate(quick_model, batches)
    assert not quick_model.training


def test_random_affine_is_seeded_and_keeps_background(test_tensors):
    images, _ = test_tensors.batch(slice(0, 8))
    a = random_affine(images, generator=torch.Generator().manual_seed(3))
    b = random_affine(images, generator=torch.Generator().manual_seed(3))
    c = random_affine(images, generator=torch.Generator().manual_seed(4))
    assert a.shape == images.shape
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, images, atol=1e-3)
    assert a[:, :, 0, 0].sub(BACKGROUND).abs().max() < 1e-4, "corners stay blank"
    blank = torch.full((2, 1, 28, 28), BACKGROUND)
    assert torch.allclose(random_affine(blank), blank, atol=1e-5)
