"""Training: devices, seeds, profiles, the fit loop, its log lines, interrupts and resuming."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from mnist_helpers import (
    PROFILES,
    TensorBatches,
    build_model,
    describe_device,
    evaluate,
    fit,
    get_device,
    get_profile,
    load_checkpoint,
    seed_everything,
)
from mnist_helpers.augment import BACKGROUND, random_affine
from mnist_helpers.checkpoint import read_checkpoint
from mnist_helpers.train import EvalResult

TRAIN_LINE = re.compile(r"Train Epoch: 1 \[\d+/\d+ \(\d+%\)\]\tLoss: \d+\.\d{6}")
VAL_LINE = re.compile(
    r"Validation set: Average loss: \d+\.\d{4}, Accuracy: \d+/\d+ \(\d+\.\d{2}%\)")


@pytest.fixture(scope="module")
def small_train(train_tensors):
    return train_tensors.subset(slice(0, 1000))


@pytest.fixture(scope="module")
def smaller_train(train_tensors):
    return train_tensors.subset(slice(1000, 1500))


@pytest.fixture(scope="module")
def small_val(train_tensors):
    return train_tensors.subset(slice(59_000, 59_500))


def tiny_profile(**overrides: object):
    """The quick profile, made smaller still: one epoch, batches of 50."""
    settings = {"epochs": 1, "batch_size": 50, "lr": 0.05}
    settings.update(overrides)
    return get_profile("quick").with_overrides(**settings)


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- devices and seeds --------------------------------------------------------------------


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
    with pytest.raises(RuntimeError, match="no CUDA GPU") as caught:
        get_device("cuda" if how == "argument" else None)
    assert "MNIST_DEVICE" in str(caught.value)


def test_unknown_device_name_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        get_device("tpu")


def train_tiny(seed: int, data, val, epochs: int = 1) -> dict:
    seed_everything(seed)
    model = build_model("fast_cnn")
    fit(model, TensorBatches(data, 50, shuffle=True, seed=seed), TensorBatches(val, 250),
        tiny_profile(epochs=epochs), device="cpu", seed=seed, progress=False,
        log=lambda _line: None)
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
    with pytest.raises(ValueError) as caught:
        get_profile("turbo" if where == "argument" else None)
    message = str(caught.value)
    assert "'turbo'" in message
    for name in PROFILES:
        assert name in message


def test_with_overrides():
    quick = get_profile("quick")
    changed = quick.with_overrides(epochs=3, arch="seed_cnn")
    assert (changed.epochs, changed.arch) == (3, "seed_cnn")
    assert quick.epochs == 1 and quick.arch == "fast_cnn", "the original is unchanged"
    assert changed.to_dict()["epochs"] == 3
    with pytest.raises(ValueError, match="epoch") as caught:
        quick.with_overrides(epoch=3)
    assert "valid fields" in str(caught.value)


def test_profile_width_reaches_the_model_and_the_checkpoint(small_train, small_val, tmp_path):
    best = get_profile("best")
    assert best.width == 24 and best.model_kwargs() == {"width": 24}
    assert get_profile("default").model_kwargs() == {}
    profile = get_profile("quick").with_overrides(width=4)
    model = build_model(profile.arch, **profile.model_kwargs())
    fit(model, TensorBatches(small_train, 100), TensorBatches(small_val, 250), profile,
        device="cpu", progress=False, checkpoint_path=tmp_path / "w4.pt", log=lambda _line: None)
    loaded, info = load_checkpoint(tmp_path / "w4.pt", "cpu")
    assert info["arch_kwargs"] == {"width": 4}
    assert sum(p.numel() for p in loaded.parameters()) == sum(
        p.numel() for p in model.parameters())


def test_tune_cpu_allocator(monkeypatch):
    import platform

    from mnist_helpers.device import tune_cpu_allocator

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert tune_cpu_allocator() is True
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert tune_cpu_allocator() is False, "elsewhere it changes nothing and says so"


# --- the training loop --------------------------------------------------------------------


def test_fit_learns_logs_and_checkpoints(small_train, small_val, tmp_path):
    seed_everything(0)
    model = build_model("fast_cnn")
    train = TensorBatches(small_train, 50, shuffle=True)
    val = TensorBatches(small_val, 250)
    before = evaluate(model, val)
    lines: list[str] = []
    path = tmp_path / "models" / "tiny.pt"
    history = fit(model, train, val, tiny_profile(), device="cpu", checkpoint_path=path,
                  log_interval=5, progress=False, log=lines.append)

    assert history.epoch == [1] and not history.interrupted
    assert len(history.step_loss) == 20
    assert history.val_loss[0] < 0.7 * before.loss
    assert history.val_accuracy[0] > before.accuracy + 0.2
    assert sum(history.step_loss[-5:]) < sum(history.step_loss[:5])
    assert history.best_epoch == 1 and history.best_val_accuracy == history.val_accuracy[0]

    train_lines = [line for line in lines if line.startswith("Train Epoch")]
    assert len(train_lines) == 4
    assert all(TRAIN_LINE.fullmatch(line) for line in train_lines), train_lines
    assert train_lines[-1].startswith("Train Epoch: 1 [1000/1000 (100%)]")
    val_lines = [line for line in lines if line.startswith("Validation set")]
    assert len(val_lines) == 1 and VAL_LINE.match(val_lines[0]), val_lines

    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["tiny.pt"]
    loaded, info = load_checkpoint(path)
    assert info["arch"] == "fast_cnn" and info["epochs"] == 1 and info["best_epoch"] == 1
    assert info["profile"]["name"] == "quick"
    assert evaluate(loaded, val).correct == round(history.val_accuracy[0] * len(small_val))


def test_fit_without_checkpoint_path_writes_nothing(small_train, small_val, tmp_path,
                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    seed_everything(0)
    model = build_model("fast_cnn")
    fit(model, TensorBatches(small_train.subset(slice(0, 200)), 50), TensorBatches(small_val, 250),
        tiny_profile(), device="cpu", progress=False, log=lambda _line: None)
    assert list(tmp_path.iterdir()) == []


def test_fit_with_augmentation_and_label_smoothing(small_train, small_val):
    seed_everything(0)
    model = build_model("fast_cnn")
    profile = tiny_profile(augment=True, label_smoothing=0.1, optimizer="adamw", lr=0.01)
    history = fit(model, TensorBatches(small_train, 50, shuffle=True),
                  TensorBatches(small_val, 250), profile, device="cpu", progress=False,
                  log=lambda _line: None)
    assert history.val_accuracy[0] > 0.6


def test_progress_bar_mode_still_prints_the_seed_lines(small_train, small_val, capsys):
    seed_everything(0)
    model = build_model("fast_cnn")
    lines: list[str] = []
    fit(model, TensorBatches(small_train.subset(slice(0, 200)), 50),
        TensorBatches(small_val, 250), tiny_profile(), device="cpu", log_interval=2,
        progress=True, log=lines.append)
    out = capsys.readouterr()
    printed = [line for line in (out.out + out.err).splitlines() if "Train Epoch" in line]
    assert any(TRAIN_LINE.search(line) for line in printed), printed
    assert any(VAL_LINE.match(line) for line in lines)


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

    def __iter__(self):
        self.passes += 1
        for index, batch in enumerate(self.batches):
            if self.passes == self.epoch and index == self.at:
                self.weights_when_interrupted = copy.deepcopy(self.model.state_dict())
                raise KeyboardInterrupt
            yield batch


def test_interrupt_keeps_best_weights_and_a_loadable_checkpoint(smaller_train, small_val,
                                                                tmp_path):
    seed_everything(0)
    model = build_model("fast_cnn")
    train = InterruptingBatches(TensorBatches(smaller_train, 50, shuffle=True), model,
                                epoch=2, at=5)
    val = TensorBatches(small_val, 250)
    per_epoch: dict[int, dict] = {}

    def remember(history):
        per_epoch[history.epoch[-1]] = copy.deepcopy(model.state_dict())

    lines: list[str] = []
    path = tmp_path / "run.pt"
    history = fit(model, train, val, tiny_profile(epochs=3), device="cpu",
                  checkpoint_path=path, progress=False, log=lines.append,
                  on_epoch_end=remember)

    assert history.interrupted
    assert history.epoch == [1] and history.best_epoch == 1
    assert "Interrupted" in lines[-1] and "epoch 1" in lines[-1]
    assert train.weights_when_interrupted is not None
    assert not same_weights(train.weights_when_interrupted, per_epoch[1]), \
        "five batches of epoch 2 changed the weights"
    assert same_weights(model.state_dict(), per_epoch[1])

    loaded, info = load_checkpoint(path)
    assert same_weights(loaded.state_dict(), per_epoch[1])
    assert info["epochs"] == 1
    assert evaluate(loaded, val).accuracy == pytest.approx(history.val_accuracy[0])
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_interrupt_in_first_epoch_returns_the_untrained_model(smaller_train, small_val):
    seed_everything(0)
    model = build_model("fast_cnn")
    initial = copy.deepcopy(model.state_dict())
    train = InterruptingBatches(TensorBatches(smaller_train, 50), model, epoch=1, at=3)
    history = fit(model, train, TensorBatches(small_val, 250), tiny_profile(), device="cpu",
                  progress=False, log=lambda _line: None)
    assert history.interrupted and history.epoch == [] and history.best_epoch == 0
    assert same_weights(model.state_dict(), initial)


def test_resume_continues_at_the_next_epoch(smaller_train, small_val, tmp_path):
    profile = tiny_profile(epochs=2)
    val = TensorBatches(small_val, 250)
    seed_everything(0)
    model = build_model("fast_cnn")
    first_run = tmp_path / "first.pt"
    train = InterruptingBatches(TensorBatches(smaller_train, 50, shuffle=True), model,
                                epoch=2, at=3)
    history = fit(model, train, val, profile, device="cpu", checkpoint_path=first_run,
                  progress=False, log=lambda _line: None)
    assert history.interrupted and history.epoch == [1]
    saved = read_checkpoint(first_run)
    assert saved["resume"]["epoch"] == 1

    fresh = build_model("fast_cnn")
    lines: list[str] = []
    second_run = tmp_path / "second.pt"
    resumed = fit(fresh, TensorBatches(smaller_train, 50, shuffle=True), val, profile,
                  device="cpu", checkpoint_path=second_run, resume_from=first_run,
                  progress=False, log=lines.append)

    assert not resumed.interrupted
    assert resumed.epoch == [1, 2]
    assert resumed.val_accuracy[0] == history.val_accuracy[0]
    assert len(resumed.step_loss) == 2 * len(train)
    assert lines[0] == f"Resuming from {first_run} after epoch 1."
    assert any(line.startswith("Train Epoch: 2 [") for line in lines)
    assert not any(line.startswith("Train Epoch: 1 ") for line in lines)
    final = read_checkpoint(second_run)
    assert final["metadata"]["epochs"] == 2 and final["resume"]["epoch"] == 2
    # The learning-rate schedule carried on where it stopped: two epochs' steps in all.
    assert final["resume"]["scheduler"]["last_epoch"] == 2 * len(train)
    assert same_weights(fresh.state_dict(), final["state_dict"])


def test_resume_from_a_checkpoint_without_training_state(quick_checkpoint, smaller_train,
                                                         small_val):
    with pytest.raises(ValueError, match="no training state"):
        fit(build_model("fast_cnn"), TensorBatches(smaller_train, 50),
            TensorBatches(small_val, 250), tiny_profile(), device="cpu",
            resume_from=quick_checkpoint, progress=False, log=lambda _line: None)


def test_scheduler_works_for_any_number_of_steps():
    from mnist_helpers.train import make_scheduler

    for total in range(0, 41):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1,
                                    momentum=0.9)
        scheduler = make_scheduler(optimizer, 0.1, total)
        rates = []
        for _ in range(max(total, 1)):
            rates.append(optimizer.param_groups[0]["lr"])  # the rate this step trains with
            optimizer.step()
            scheduler.step()
        assert all(0 < rate <= 0.1 + 1e-12 for rate in rates), total
        assert total < 3 or rates[-1] < max(rates), total


def test_evaluate_counts_and_log_line(quick_model, test_tensors):
    part = test_tensors.subset(slice(0, 1000))
    result = evaluate(quick_model, TensorBatches(part, 300))
    with torch.no_grad():
        predicted = quick_model(part.images).argmax(1)
    assert result.total == 1000
    assert result.correct == int((predicted == part.labels).sum())
    assert result.accuracy > 0.8
    line = EvalResult(loss=0.10951, correct=9876, total=10000).log_line()
    assert line == "Test set: Average loss: 0.1095, Accuracy: 9876/10000 (98.76%)"
    assert EvalResult(0.0, 0, 0).accuracy == 0.0


def test_random_affine_is_seeded_and_keeps_background(test_tensors):
    images = test_tensors.images[:8]
    a = random_affine(images, generator=torch.Generator().manual_seed(3))
    b = random_affine(images, generator=torch.Generator().manual_seed(3))
    c = random_affine(images, generator=torch.Generator().manual_seed(4))
    assert a.shape == images.shape
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, images, atol=1e-3)
    assert a[:, :, 0, 0].sub(BACKGROUND).abs().max() < 1e-4, "corners stay blank"
    blank = torch.full((2, 1, 28, 28), BACKGROUND)
    assert torch.allclose(random_affine(blank), blank, atol=1e-5)
