"""Checkpoints: round trips, safe loading, clear errors, atomic writes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from mnist_helpers import (
    CheckpointError,
    build_model,
    default_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from mnist_helpers.checkpoint import read_checkpoint
from mnist_helpers.data import MNIST_MEAN, MNIST_STD
from mnist_helpers.device import place_model


class MakesAFolder:
    """Pickles to a call of ``os.mkdir(marker)``: unpickling it runs code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def batch(test_tensors) -> torch.Tensor:
    return test_tensors.images[:16]


def test_round_trip_gives_identical_outputs(tmp_path, quick_model, batch):
    path = save_checkpoint(tmp_path / "m.pt", quick_model, arch="fast_cnn",
                           metadata={"epochs": 1, "note": "unit test"})
    model, info = load_checkpoint(path)
    assert not model.training
    with torch.no_grad():
        assert torch.equal(model(batch), quick_model.eval()(batch))
    assert info["arch"] == "fast_cnn" and info["arch_kwargs"] == {}
    assert info["epochs"] == 1 and info["note"] == "unit test"
    assert info["normalization"] == {"mean": MNIST_MEAN, "std": MNIST_STD}
    assert set(info["versions"]) == {"python", "torch", "torchvision"}
    assert all(type(v) is str for v in info["versions"].values())
    assert "saved_at" in info


def test_round_trip_with_architecture_arguments(tmp_path, batch):
    torch.manual_seed(0)
    wide = place_model(build_model("fast_cnn", width=8), "cpu").eval()  # as the library runs it
    path = save_checkpoint(tmp_path / "w.pt", wide, arch="fast_cnn", arch_kwargs={"width": 8})
    model, info = load_checkpoint(path)
    assert info["arch_kwargs"] == {"width": 8}
    with torch.no_grad():
        assert torch.equal(model(batch), wide(batch))


def test_files_are_plain_weights_only_data(tmp_path, quick_model):
    path = save_checkpoint(tmp_path / "m.pt", quick_model, arch="fast_cnn",
                           metadata={"profile": {"name": "quick", "lr": 0.1}},
                           resume={"epoch": 1, "history": {"epoch": [1]}})
    payload = torch.load(path, weights_only=True)
    assert payload["arch"] == "fast_cnn" and payload["resume"]["epoch"] == 1
    assert all(t.device.type == "cpu" for t in payload["state_dict"].values())


def test_pickled_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"arch": "fast_cnn", "state_dict": {}, "metadata": MakesAFolder(str(marker))},
               path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)
    assert not marker.exists(), "loading a checkpoint must never run code from the file"
    # The file really is dangerous: an unsafe load would have run it.
    torch.load(path, weights_only=False)
    assert marker.is_dir()


def test_plain_pickle_file_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(MakesAFolder(str(marker)), protocol=2))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_checkpoint_says_how_to_train(tmp_path):
    path = tmp_path / "models" / "none.pt"
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message
    assert "Train one first" in message and "python -m mnist_helpers train" in message
    assert "\n" not in message


def test_truncated_checkpoint_is_a_checkpoint_error(tmp_path, quick_model):
    path = save_checkpoint(tmp_path / "m.pt", quick_model, arch="fast_cnn")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value) and "delete it" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n"])
def test_garbage_file_is_a_checkpoint_error(tmp_path, content):
    path = tmp_path / "garbage.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_foreign_torch_file_is_not_mistaken_for_a_checkpoint(tmp_path, quick_model):
    path = tmp_path / "state.pt"
    torch.save(quick_model.state_dict(), path)
    with pytest.raises(CheckpointError, match="not an mnist_helpers checkpoint"):
        load_checkpoint(path)


def test_weights_of_another_architecture_are_refused(tmp_path, quick_model):
    path = save_checkpoint(tmp_path / "m.pt", quick_model, arch="seed_cnn")
    with pytest.raises(CheckpointError, match="do not fit architecture 'seed_cnn'"):
        load_checkpoint(path)


def test_save_leaves_no_temporary_file(tmp_path, quick_model):
    folder = tmp_path / "models"
    save_checkpoint(folder / "a.pt", quick_model, arch="fast_cnn")
    save_checkpoint(folder / "a.pt", quick_model, arch="fast_cnn")  # overwrite
    assert [p.name for p in folder.iterdir()] == ["a.pt"]


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_save_keeps_the_previous_checkpoint(tmp_path, quick_model, monkeypatch, batch,
                                                   failure):
    path = save_checkpoint(tmp_path / "m.pt", quick_model, arch="fast_cnn",
                           metadata={"epochs": 1})
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise failure

    monkeypatch.setattr(torch, "save", broken_save)
    other = build_model("fast_cnn")
    with pytest.raises(type(failure)):
        save_checkpoint(path, other, arch="fast_cnn", metadata={"epochs": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    model, info = load_checkpoint(path)
    assert info["epochs"] == 1
    with torch.no_grad():
        assert torch.equal(model(batch), quick_model.eval()(batch))


def test_load_to_a_device(tmp_path, quick_model):
    path = save_checkpoint(tmp_path / "m.pt", quick_model, arch="fast_cnn")
    model, _ = load_checkpoint(path, device="cpu")
    assert next(model.parameters()).device.type == "cpu"


def test_default_checkpoint_path_is_in_models_folder():
    assert default_checkpoint_path() == Path(__file__).resolve().parent.parent / "models" / (
        "mnist_cnn.pt")
