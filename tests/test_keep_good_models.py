"""A run never loses a good model: not by an interrupt in its first epoch, not by diverging, not
by finishing worse than the model already where it writes; and a resume continues exactly or
is refused before any work. Each test makes the real situation (a good checkpoint on disk,
a real Ctrl-C or SIGTERM to a real ``train`` process)."""

from __future__ import annotations

import math
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_train import InterruptingBatches, tiny_profile

from mnist_helpers import (
    CheckpointError,
    ConfigError,
    Profile,
    TensorBatches,
    build_model,
    fit,
    get_profile,
    save_checkpoint,
    seed_everything,
)
from mnist_helpers.checkpoint import read_checkpoint
from mnist_helpers.cli import main
from mnist_helpers.device import check_seed
from mnist_helpers.errors import OutputError

REPO = Path(__file__).resolve().parent.parent


def _train(small_train, small_val, path: Path | None, *, capsys=None, **overrides):
    profile = tiny_profile(**overrides)
    seed_everything(0)
    model = build_model(profile.arch)
    history = fit(model, TensorBatches(small_train, 50, shuffle=True),
                  TensorBatches(small_val, 250),
                  profile, device="cpu", checkpoint_path=path, verbose=capsys is not None)
    return model, history


@pytest.fixture
def good_model(tmp_path, small_train, small_val) -> tuple[Path, bytes]:
    """A trained checkpoint (two epochs) already in the place a new run will write."""
    path = tmp_path / "model.pt"
    _train(small_train, small_val, path, epochs=2, lr=0.1)
    return path, path.read_bytes()


def test_ctrl_c_in_the_first_epoch_leaves_the_good_model(good_model, small_train, small_val,
                                                         capsys):
    path, before = good_model
    profile = tiny_profile()
    seed_everything(0)
    model = build_model(profile.arch)
    train = InterruptingBatches(TensorBatches(small_train, 50, shuffle=True), model, epoch=1, at=3)
    history = fit(model, train, TensorBatches(small_val, 250), profile, device="cpu",
                  checkpoint_path=path)
    out = capsys.readouterr().out
    assert history.stopped and history.saved_to is None
    assert path.read_bytes() == before, "untrained weights must never replace a model"
    assert "Nothing was saved" in out and f"{path} was left as it was" in out
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_a_diverging_run_stops_and_saves_nothing(good_model, small_train, small_val, capsys):
    path, before = good_model
    model, history = _train(small_train, small_val, path, capsys=capsys, lr=1e5)
    out = capsys.readouterr().out
    assert history.diverged and history.stopped and history.saved_to is None
    assert "diverged" in out and "lower the learning rate" in out
    assert path.read_bytes() == before
    assert all(math.isfinite(v) for v in history.val_accuracy)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_a_worse_model_goes_beside_the_better_one(good_model, small_train, small_val, capsys):
    path, before = good_model
    theirs = read_checkpoint(path)["metadata"]["val_accuracy"]
    _model, history = _train(small_train, small_val, path, capsys=capsys, lr=0.002)
    out = capsys.readouterr().out
    beside = path.with_name("model.run2.pt")
    assert history.best_val_accuracy < theirs
    assert path.read_bytes() == before
    assert history.saved_to == str(beside) and beside.is_file()
    assert f"Kept the model in {path}" in out and str(beside) in out
    assert read_checkpoint(beside)["metadata"]["val_accuracy"] == history.best_val_accuracy


def test_a_better_model_on_the_same_images_replaces_the_old(tmp_path, small_train, small_val,
                                                            capsys):
    path = tmp_path / "model.pt"
    _train(small_train, small_val, path, lr=0.002)  # a weak model
    theirs = read_checkpoint(path)["metadata"]["val_accuracy"]
    _model, history = _train(small_train, small_val, path, capsys=capsys, epochs=2, lr=0.1)
    assert history.best_val_accuracy > theirs and history.saved_to == str(path)
    assert read_checkpoint(path)["metadata"]["val_accuracy"] == history.best_val_accuracy
    assert "replaced the one in" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_a_model_measured_on_other_images_is_never_replaced(tmp_path, small_train, small_val,
                                                            train_tensors):
    path = tmp_path / "model.pt"
    other_val = train_tensors.subset(slice(58_000, 58_500))
    _train(small_train, other_val, path, lr=0.002)
    before = path.read_bytes()
    _model, history = _train(small_train, small_val, path, epochs=2, lr=0.1)
    assert path.read_bytes() == before
    assert history.saved_to == str(path.with_name("model.run2.pt"))


def test_a_file_that_is_not_a_checkpoint_is_never_replaced(tmp_path, small_train, small_val):
    path = tmp_path / "thesis.pdf"
    path.write_bytes(b"%PDF-1.7 a user's thesis")
    _model, history = _train(small_train, small_val, path)
    assert path.read_bytes() == b"%PDF-1.7 a user's thesis"
    assert history.saved_to == str(tmp_path / "thesis.run2.pdf")


@pytest.mark.parametrize("seed", [-1, 2**64, 2**32, True, 1.5, "3"])
def test_seeds_out_of_range_are_refused(seed):
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        check_seed(seed)
    with pytest.raises(ConfigError):
        seed_everything(seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_a_bad_seed_on_the_command_line_is_one_line_before_any_data(tmp_path, capsys, seed):
    code = main(["train", "--profile", "quick", "--seed", seed, "--out", str(tmp_path / "m.pt"),
                 "--data-dir", str(tmp_path)])  # a folder without MNIST: never read
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "seed must be a whole number" in err[0]
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("change, fragment", [
    ({"momentum": -5}, "momentum must be"), ({"weight_decay": -1}, "weight_decay must be"),
    ({"lr": math.inf}, "lr must be"), ({"lr": math.nan}, "lr must be"), ({"lr": 0}, "lr must be"),
    ({"lr": "0.1"}, "lr must be"), ({"epochs": True}, "epochs must be"),
    ({"label_smoothing": math.nan}, "label_smoothing must be"), ({"width": 0}, "width must be"),
    ({"low_resolution": 1.5}, "low_resolution must be"),
    ({"low_resolution": math.nan}, "low_resolution must be"),
])
def test_profiles_refuse_impossible_hyperparameters(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        get_profile("quick").with_overrides(**change)
    with pytest.raises(ConfigError, match=fragment):
        Profile(**{**get_profile("quick").to_dict(), **change})


def test_resuming_with_another_seed_is_refused_before_any_work(tmp_path, small_train, small_val):
    path = tmp_path / "run.pt"
    _train(small_train, small_val, path, epochs=2)
    profile = tiny_profile(epochs=2)
    calls = []
    with pytest.raises(CheckpointError, match="used seed 0, not 3.*--seed 0"):
        fit(build_model(profile.arch), TensorBatches(small_train, 50),
            TensorBatches(small_val, 250), profile, device="cpu", seed=3, resume_from=path,
            on_step=calls.append)
    assert calls == []
    with pytest.raises(CheckpointError, match="label_smoothing 0.0 \\(now 0.2\\)"):
        fit(build_model(profile.arch), TensorBatches(small_train, 50),
            TensorBatches(small_val, 250), tiny_profile(epochs=2, label_smoothing=0.2),
            device="cpu", resume_from=path)


# --- the documented workflow, with real signals ----------------------------------------------

def _start_train(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "MNIST_DEVICE": "cpu", "PYTHONWARNINGS": "ignore",
           "PYTHONUNBUFFERED": "1"}
    env.pop("MNIST_PROFILE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_helpers", "train", "--profile", "quick", "--epochs", "2",
         "--out", str(out), *extra], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def _stop_after_first_epoch(process: subprocess.Popen, signum: int) -> tuple[str, str]:
    seen = []
    for line in process.stdout:  # wait for the end of epoch 1, then a few batches more
        seen.append(line)
        if "Train Epoch: 2 [" in line:
            process.send_signal(signum)
            break
    out, err = process.communicate(timeout=300)
    return "".join(seen) + out, err


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_mid_epoch_then_resume_finishes_the_run(tmp_path, mnist_raw_dir):
    """The documented workflow: Ctrl-C during an epoch, then ``--resume``."""
    out = tmp_path / "run.pt"
    process = _start_train(out, "--data-dir", str(mnist_raw_dir))
    stdout, stderr = _stop_after_first_epoch(process, signal.SIGINT)
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr, stderr
    assert "Interrupted after 1 finished epoch(s). Keeping the best model so far (epoch 1)." \
        in stdout
    assert read_checkpoint(out)["resume"]["epoch"] == 1

    resumed = subprocess.run(
        [sys.executable, "-m", "mnist_helpers", "train", "--profile", "quick", "--epochs", "2",
         "--out", str(out), "--resume", str(out), "--data-dir", str(mnist_raw_dir)],
        cwd=REPO, env={**os.environ, "MNIST_DEVICE": "cpu"}, capture_output=True, text=True,
        timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from" in resumed.stdout and "after epoch 1 of 2" in resumed.stdout
    payload = read_checkpoint(out)
    assert payload["metadata"]["epochs"] == 2 and payload["resume"]["epoch"] == 2


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_keeps_what_is_done_and_exits_143(tmp_path, mnist_raw_dir):
    out = tmp_path / "run.pt"
    process = _start_train(out, "--data-dir", str(mnist_raw_dir))
    stdout, stderr = _stop_after_first_epoch(process, signal.SIGTERM)
    assert process.returncode == 143, (stdout, stderr)
    assert "Traceback" not in stderr, stderr
    assert read_checkpoint(out)["resume"]["epoch"] == 1


def test_evaluate_refuses_a_model_whose_outputs_are_not_numbers(tmp_path, mnist_raw_dir, capsys):
    model = build_model("fast_cnn")
    state = model.state_dict()
    last = [k for k in state if k.endswith("weight")][-1]
    state[last] = torch.full_like(state[last], 3e38)  # finite, but the outputs overflow
    path = save_checkpoint(tmp_path / "broken.pt", state, arch="fast_cnn")
    code = main(["evaluate", "--checkpoint", str(path), "--data-dir", str(mnist_raw_dir)])
    captured = capsys.readouterr()
    assert code == 2 and "test accuracy" not in captured.out
    assert "outputs are not numbers" in captured.err


def test_what_a_checkpoint_says_is_printed_escaped(tmp_path, mnist_raw_dir, quick_model, capsys):
    forged = "quick\x1b[2J\x1b[H\nerror: your disk is failing"
    path = save_checkpoint(tmp_path / "forged.pt", quick_model.state_dict(), arch="fast_cnn",
                           metadata={"profile": {"name": forged}, "seed": 0, "epochs": 1})
    code = main(["evaluate", "--checkpoint", str(path), "--data-dir", str(mnist_raw_dir)])
    out = capsys.readouterr().out
    assert code == 0
    assert "\x1b" not in out and "\\x1b[2J" in out
    assert not any(line.startswith("error:") for line in out.splitlines())


@pytest.mark.parametrize("variable", ["MNIST_PROFILE", "MNIST_DEVICE", "MNIST_WORKSPACE"])
@pytest.mark.parametrize("value", ["", "   "])
def test_a_variable_set_but_blank_is_refused_before_any_notebook(monkeypatch, tmp_path, capsys,
                                                                  variable, value):
    notebook = tmp_path / "01_x.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    monkeypatch.setenv(variable, value)
    assert main(["run-notebooks", str(notebook), "--out", str(tmp_path / "out")]) == 2
    assert f"{variable} is set but" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_workspace_variable_is_refused(monkeypatch, value, capsys):
    from mnist_helpers import config

    monkeypatch.setenv("MNIST_WORKSPACE", value)
    with pytest.raises(ConfigError, match="MNIST_WORKSPACE is set but"):
        config.workspace()
    assert main(["run-notebooks", "nothing.ipynb"]) == 2
    assert "MNIST_WORKSPACE" in capsys.readouterr().err


def test_a_bad_profile_variable_stops_run_notebooks_before_any_notebook(monkeypatch, tmp_path,
                                                                        capsys):
    notebook = tmp_path / "01_x.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    monkeypatch.setenv("MNIST_PROFILE", "bogus")
    code = main(["run-notebooks", str(notebook), "--out", str(tmp_path / "out")])
    assert code == 2 and "Unknown profile 'bogus'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_ctrl_c_right_after_the_last_validation_still_saves_that_epoch(tmp_path, small_train,
                                                                      small_val, monkeypatch):
    """A Ctrl-C between an epoch's validation line and its checkpoint (here: in the middle of
    writing it) used to lose the finished epoch."""
    import mnist_helpers.train as train

    path = tmp_path / "model.pt"
    profile = tiny_profile()
    seed_everything(0)
    model = build_model(profile.arch)
    real_save, calls = train.save_checkpoint, []

    def interrupted_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)

    monkeypatch.setattr(train, "save_checkpoint", interrupted_once)
    history = fit(model, TensorBatches(small_train, 50, shuffle=True),
                  TensorBatches(small_val, 250), profile, device="cpu", checkpoint_path=path)
    assert history.stopped and history.saved_to == str(path)
    assert read_checkpoint(path)["metadata"]["epochs"] == 1


@pytest.mark.skipif(os.name != "posix", reason="POSIX links and permissions")
def test_a_better_model_behind_a_link_keeps_the_link_and_the_permissions(tmp_path, small_train,
                                                                         small_val):
    real = tmp_path / "store" / "model.pt"
    real.parent.mkdir()
    _train(small_train, small_val, real, lr=0.002)  # a weak model, mode 600
    real.chmod(0o600)
    link = tmp_path / "model.pt"
    link.symlink_to(real)
    _model, history = _train(small_train, small_val, link, epochs=2, lr=0.1)
    assert history.saved_to == str(link) and link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["model.pt"]


def test_a_folder_by_our_name_that_we_did_not_make_is_refused_before_training(
        tmp_path, small_train, small_val):
    (tmp_path / ".mnist-helpers-partial").write_text("a user's file")
    calls = []
    with pytest.raises(OutputError, match="was not made by this package"):
        fit(build_model("fast_cnn"), TensorBatches(small_train, 50), TensorBatches(small_val, 250),
            tiny_profile(), device="cpu", checkpoint_path=tmp_path / "m.pt",
            on_step=calls.append)
    assert calls == []


def test_a_data_dir_that_is_not_a_folder_is_refused_even_with_mnist_cached(
        quick_checkpoint, tmp_path, capsys, private_default_data_dir):
    not_a_folder = tmp_path / "env.sh"
    not_a_folder.write_text("export X=1\n")
    for wrong in (not_a_folder, tmp_path / "missing"):
        assert main(["evaluate", "--checkpoint", str(quick_checkpoint),
                     "--data-dir", str(wrong)]) == 2
        captured = capsys.readouterr()
        assert "is not a folder" in captured.err and "test accuracy" not in captured.out


def test_a_workspace_that_is_a_file_is_refused(monkeypatch, tmp_path):
    from mnist_helpers import config

    path = tmp_path / "env.sh"
    path.write_text("x")
    monkeypatch.setenv("MNIST_WORKSPACE", str(path))
    with pytest.raises(ConfigError, match="is not a folder"):
        config.workspace()
