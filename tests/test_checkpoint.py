"""Checkpoints: round trips, safe loading, clear errors, atomic writes."""

from __future__ import annotations

import os
import pickle
import re
import signal
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers import (
    CheckpointError,
    ConfigError,
    build_model,
    default_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from mnist_helpers.checkpoint import integrity_digest, read_checkpoint
from mnist_helpers.checkpoint_contents import MAX_BYTES
from mnist_helpers.config import MNIST_MEAN, MNIST_STD
from mnist_helpers.device import place_model


class MakesAFolder:
    """Pickles to a call of ``os.mkdir(marker)``: unpickling it runs code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def batch(test_tensors) -> torch.Tensor:
    return test_tensors.batch(slice(0, 16))[0]


def save(path, model, **kwargs):
    return save_checkpoint(path, model.state_dict(), **{"arch": "fast_cnn", **kwargs})


def rewrite(path: Path, change, *, fix_digest: bool = True) -> None:
    """Load a checkpoint's dict, let ``change`` edit it, and save it back as a crafted file
    whose integrity digest matches (so only the check under test can refuse it)."""
    payload = torch.load(path, weights_only=True)
    change(payload)
    if fix_digest and "integrity" in payload:
        payload["integrity"] = integrity_digest(payload)
    torch.save(payload, path)


def test_round_trip_gives_identical_outputs(tmp_path, quick_model, batch):
    path = save(tmp_path / "m.pt", quick_model, metadata={"epochs": 1, "note": "unit test"})
    model, info = load_checkpoint(path)
    assert not model.training
    with torch.no_grad():
        assert torch.equal(model(batch), quick_model.eval()(batch))
    assert info.arch == "fast_cnn" and info.arch_kwargs == {} and info.num_classes == 10
    assert info.epochs == 1 and info.metadata["note"] == "unit test"
    assert info.normalization == {"mean": MNIST_MEAN, "std": MNIST_STD}
    assert set(info.metadata["versions"]) == {"python", "torch", "torchvision"}
    assert all(type(v) is str for v in info.metadata["versions"].values())
    assert "saved_at" in info.metadata


def test_round_trip_with_architecture_arguments(tmp_path, batch):
    torch.manual_seed(0)
    wide = place_model(build_model("fast_cnn", width=8), "cpu").eval()  # as the library runs it
    path = save(tmp_path / "w.pt", wide, arch_kwargs={"width": 8})
    model, info = load_checkpoint(path)
    assert info.arch_kwargs == {"width": 8}
    with torch.no_grad():
        assert torch.equal(model(batch), wide(batch))


def test_files_are_plain_weights_only_data(tmp_path, quick_model):
    path = save(tmp_path / "m.pt", quick_model, metadata={"profile": {"name": "quick", "lr": 0.1}},
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


@pytest.mark.parametrize("given", ["", "   "])
def test_an_empty_checkpoint_path_is_refused(given):
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(given)


def test_truncated_checkpoint_is_a_checkpoint_error(tmp_path, quick_model):
    path = save(tmp_path / "m.pt", quick_model)
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
    path = save(tmp_path / "m.pt", quick_model)  # save_checkpoint itself refuses a mismatch
    rewrite(path, lambda payload: payload.update(arch="classic_cnn", model_class="ClassicCNN"))
    with pytest.raises(CheckpointError, match="do not fit architecture 'classic_cnn'") as caught:
        load_checkpoint(path)
    assert "\n" not in str(caught.value) and "Missing key(s)" in str(caught.value)


def test_a_model_passed_to_load_into_must_be_of_the_class_saved(tmp_path, quick_model, batch):
    path = save(tmp_path / "m.pt", quick_model)
    model, info = load_checkpoint(path, model=build_model("fast_cnn"))
    assert info.model_class == "FastCNN"
    with torch.no_grad():
        assert torch.equal(model(batch), quick_model.eval()(batch))
    with pytest.raises(CheckpointError, match="holds a FastCNN, not a TinyCNN: pass a fresh "
                                              "FastCNN\\(\\)"):
        load_checkpoint(path, model=build_model("tiny_cnn"))
    with pytest.raises(TypeError, match="model must be a network"):
        load_checkpoint(path, model=quick_model.state_dict())


def test_save_leaves_no_temporary_file(tmp_path, quick_model):
    folder = tmp_path / "models"
    save(folder / "a.pt", quick_model)
    save(folder / "a.pt", quick_model)  # overwrite
    assert [p.name for p in folder.iterdir()] == ["a.pt"]


@pytest.mark.parametrize("failure", [OSError("broken"), KeyboardInterrupt()])
def test_failed_save_keeps_the_previous_checkpoint(tmp_path, quick_model, monkeypatch, batch,
                                                   failure):
    path = save(tmp_path / "m.pt", quick_model, metadata={"epochs": 1})
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise failure

    monkeypatch.setattr(torch, "save", broken_save)
    other = build_model("fast_cnn")
    with pytest.raises(type(failure)):
        save(path, other, metadata={"epochs": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    model, info = load_checkpoint(path)
    assert info.epochs == 1
    with torch.no_grad():
        assert torch.equal(model(batch), quick_model.eval()(batch))


def test_load_to_a_device(tmp_path, quick_model):
    path = save(tmp_path / "m.pt", quick_model)
    model, _ = load_checkpoint(path, device="cpu")
    assert next(model.parameters()).device.type == "cpu"


def test_default_checkpoint_path_is_in_the_workspace_models_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_WORKSPACE", str(tmp_path))
    assert default_checkpoint_path() == tmp_path.resolve() / "models" / "mnist_cnn.pt"
    assert default_checkpoint_path("quick").name == "mnist_cnn_quick.pt"


# --- damaged, tampered with, or crafted -----------------------------------------------------


def test_flipped_bytes_inside_the_weights_are_detected(tmp_path, quick_model):
    """2,000 flipped bytes in the weights' storage: the file still loads with torch, but our
    loader refuses it, naming the file."""
    import zipfile

    path = save(tmp_path / "m.pt", quick_model)
    with zipfile.ZipFile(path) as archive:
        storages = [e for e in archive.infolist() if "/data/" in e.filename and
                    e.file_size > 4000]
    raw = bytearray(path.read_bytes())
    start = storages[0].header_offset + 30 + len(storages[0].filename) + len(storages[0].extra)
    for i in range(start, start + 2000):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    torch.load(path, weights_only=True)  # PyTorch itself does not notice
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "integrity check fails" in message and "\n" not in message


@pytest.mark.parametrize("field", ["metadata", "arch_kwargs", "normalization"])
def test_an_edited_field_is_detected(tmp_path, quick_model, field):
    path = save(tmp_path / "m.pt", quick_model, metadata={"epochs": 1})
    changes = {"metadata": lambda p: p["metadata"].update(epochs=99),
               "arch_kwargs": lambda p: p["arch_kwargs"].update(width=16),
               "normalization": lambda p: p["normalization"].update(mean=0.5)}
    rewrite(path, changes[field], fix_digest=False)
    with pytest.raises(CheckpointError, match="integrity check fails"):
        load_checkpoint(path)


@pytest.mark.parametrize("width", [6000, 1500, 257, 0, -3, 2.5, True, "16"])
def test_a_crafted_width_is_refused_before_anything_is_built(tmp_path, quick_model, width,
                                                             monkeypatch):
    import mnist_helpers.checkpoint as checkpoint_module

    path = save(tmp_path / "m.pt", quick_model)
    rewrite(path, lambda p: p["arch_kwargs"].update(width=width))
    built = []
    monkeypatch.setattr(checkpoint_module, "build_model",
                        lambda *a, **k: built.append(1))  # would allocate
    with pytest.raises(CheckpointError, match="width") as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)
    assert built == [], "nothing may be built from a crafted request"


@pytest.mark.parametrize("change, expected", [
    (lambda p: p.update(arch_kwargs="width=16"), "must be a dict"),
    (lambda p: p.update(arch_kwargs={"depth": 3}), "takes no argument 'depth'"),
    (lambda p: p.update(arch="nonexistent_net"), "Unknown architecture"),
    (lambda p: p.update(arch=None, arch_kwargs={"width": 8}), "Unknown architecture None"),
    (lambda p: p.update(arch=None, arch_kwargs={}, model_class=5), "not a class name"),
    (lambda p: p.update(arch=None, arch_kwargs={}, model_class="My\nNet"), "not a class name"),
    (lambda p: p.update(arch="tiny_cnn", arch_kwargs={}), "another class than its arch"),
    (lambda p: p.update(state_dict=42), "not a mapping of names to tensors"),
    (lambda p: p.update(metadata=[1, 2]), "'metadata' is not a dict"),
    (lambda p: p.update(resume="x"), "'resume' is not a dict"),
    (lambda p: p.update(resume={"planned_epochs": torch.zeros(3)}), "not a whole number"),
    (lambda p: p.update(normalization={"mean": "a", "std": 1.0}), "normalisation"),
    (lambda p: p.update(format=1), "another version"),
    (lambda p: p.pop("integrity"), "another version"),
])
def test_crafted_fields_give_one_line_errors(tmp_path, quick_model, change, expected):
    path = save(tmp_path / "m.pt", quick_model)
    rewrite(path, change)
    with pytest.raises(CheckpointError, match=expected) as caught:
        load_checkpoint(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_nan_weights_are_refused(tmp_path, quick_model):
    path = save(tmp_path / "nan.pt", quick_model)  # save_checkpoint itself refuses NaN
    rewrite(path, lambda payload: payload["state_dict"]["classifier.1.weight"].fill_(float("nan")))
    with pytest.raises(CheckpointError, match="not all numbers"):
        load_checkpoint(path)


def test_a_checkpoint_that_would_unpack_to_too_much_is_refused(tmp_path, quick_model):
    import zipfile

    path = save(tmp_path / "m.pt", quick_model)
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bomb, "w") as out:
        for entry in src.infolist():
            out.writestr(entry, src.read(entry))
        out.writestr("m/data/huge", b"\0" * (MAX_BYTES + 1), compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(CheckpointError, match="would unpack to"):
        load_checkpoint(bomb)


def test_the_shipped_model_loads_and_is_intact():
    from mnist_helpers.config import shipped_checkpoint_path

    model, info = load_checkpoint(shipped_checkpoint_path())
    assert info.arch in ("fast_cnn", "deep_cnn", "tiny_cnn")
    assert info.model_class == type(model).__name__
    assert info.profile.get("name") == "robust"


def test_dropping_the_resume_state_keeps_the_model_and_its_integrity(tmp_path, quick_model,
                                                                       batch):
    from mnist_helpers.checkpoint import drop_resume_state, read_checkpoint

    path = save(tmp_path / "m.pt", quick_model, metadata={"epochs": 1},
                resume={"optimizer": {"state": torch.zeros(50_000)}})
    before = path.stat().st_size
    drop_resume_state(path)
    assert "resume" not in read_checkpoint(path) and path.stat().st_size < before - 100_000
    model, info = load_checkpoint(path)
    with torch.no_grad():
        assert torch.equal(model(batch), quick_model.eval()(batch))
    assert info.epochs == 1


# --- crafted to cost memory or time: refused from the description, before any hashing -------


def save_crafted(path: Path, checkpoint: Path, change) -> Path:
    """``checkpoint`` edited by ``change`` and saved at ``path`` with a placeholder digest:
    what is checked here must refuse it before its digest is computed (computing it would
    expand what was crafted)."""
    payload = torch.load(checkpoint, weights_only=True)
    change(payload)
    payload["integrity"] = "0" * 64
    torch.save(payload, path)
    return path


@pytest.fixture
def nothing_hashed(monkeypatch):
    """Computing a checkpoint's digest (which reads, and would expand, every tensor in it)
    fails the test."""
    import mnist_helpers.checkpoint as checkpoint_module

    def hashed(payload):
        raise AssertionError("the crafted file was hashed before it was refused")

    monkeypatch.setattr(checkpoint_module, "integrity_digest", hashed)


@pytest.fixture
def hang_guard():
    """A test still running after 120 s fails instead of hanging the suite (a regression
    that walks a crafted structure for ever)."""
    def expired(signum, frame):
        raise TimeoutError("still loading after 120 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def put(where: str, value: object):
    """A change for :func:`save_crafted` that puts ``value`` in the state dict (as the last
    layer's weight) or in the metadata."""
    def change(payload):
        if where == "state_dict":
            payload["state_dict"]["classifier.1.weight"] = value
        else:
            payload["metadata"]["crafted"] = value
    return change


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def self_containing() -> list:
    value: list = []
    value.append(value)
    return value


def shared_many_times() -> list:
    """A list of 1,000 references to a list of 1,000 references to ...: 1,000 bytes in the
    file, a trillion values to whoever walks it."""
    value: list = [0.0]
    for _ in range(4):
        value = [value] * 1000
    return value


@pytest.mark.parametrize("where", ["state_dict", "metadata"])
@pytest.mark.parametrize("numel", [250_000_000, 10**12])
def test_an_expanded_tensor_is_refused_before_anything_is_hashed(tmp_path, quick_checkpoint,
                                                                   nothing_hashed, where,
                                                                   numel):
    """One stored number, expanded (stride 0) to 250 million or a trillion: a file of a few
    hundred KB that took 2.6 GB, or an allocation error, to hash."""
    expanded = torch.empty(1).expand(numel)
    path = save_crafted(tmp_path / "m.pt", quick_checkpoint, put(where, expanded))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "stride-0" in message and "\n" not in message


def test_a_tensor_with_overlapping_strides_is_refused(tmp_path, quick_checkpoint, nothing_hashed):
    """A million numbers made of two thousand stored ones, without a zero stride."""
    crafted = torch.zeros(2000).as_strided((1000, 1000), (1, 1))
    path = save_crafted(tmp_path / "m.pt", quick_checkpoint, put("metadata", crafted))
    with pytest.raises(CheckpointError, match="claims more numbers than the file stores"):
        load_checkpoint(path)


def test_tensors_claiming_too_much_together_are_refused(tmp_path, quick_checkpoint, nothing_hashed):
    """A 4 MB tensor listed 65 times: each is fine, together they exceed the bound."""
    tensor = torch.zeros(1 << 20)
    copies = [tensor] * (MAX_BYTES // tensor.nbytes + 1)
    path = save_crafted(tmp_path / "m.pt", quick_checkpoint, put("metadata", copies))
    assert path.stat().st_size < 6_000_000
    with pytest.raises(CheckpointError, match="tensors hold more than"):
        load_checkpoint(path)


@pytest.mark.parametrize("value, expected", [
    (torch.eye(10, 576).to_sparse(), "sparse_coo tensor"),
    (torch.full((10, 576), complex("nan")), "complex64 numbers"),
    (torch.ones(10, 576, dtype=torch.int64), "int64 numbers"),
])
def test_weights_that_are_not_dense_real_floats_are_refused(tmp_path, quick_checkpoint,
                                                           nothing_hashed, value, expected):
    """Sparse weights, complex weights (a complex NaN passed the NaN check) and integer
    weights (which load_state_dict would have converted silently)."""
    path = save_crafted(tmp_path / "m.pt", quick_checkpoint, put("state_dict", value))
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "classifier.1.weight" in message and expected in message
    assert "\n" not in message


@pytest.mark.parametrize("make, expected", [
    (lambda: nested(5000), "more than 32 levels deep"),
    (self_containing, "more than 32 levels deep"),
    (shared_many_times, "values, more than a checkpoint holds"),
    (lambda: torch.float32, "holds a dtype"),
    (lambda: {1.5: 0}, "float as a key"),
])
def test_a_crafted_structure_is_refused_in_one_line(tmp_path, quick_checkpoint, nothing_hashed,
                                                    hang_guard, make, expected):
    """Nested 5,000 deep (a RecursionError), a list that contains itself, references shared
    into a trillion values, and values no checkpoint holds."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # only pickling it, in this test, needs the deep stack
    try:
        path = save_crafted(tmp_path / "m.pt", quick_checkpoint, put("metadata", make()))
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(CheckpointError, match=expected) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_file_too_large_for_a_checkpoint_is_refused_unread(tmp_path, monkeypatch):
    """A sparse file of MAX_BYTES + 1 bytes (no disk space used): refused from its size."""
    path = tmp_path / "huge.pt"
    with path.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    opened = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self)
                        or real_open(self, *a, **k))
    with pytest.raises(CheckpointError, match="larger than a checkpoint can be") as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value) and f"{MAX_BYTES + 1:,} bytes" in str(caught.value)
    assert path not in opened


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "adadelta"])
def test_real_training_state_passes_the_checks(tmp_path, train_tensors, optimizer):
    """What training saves to resume from (optimizer step counters, random-number generator
    states: integer tensors where they belong) is accepted by every check."""
    from mnist_helpers import TensorBatches, fit, get_profile

    profile = get_profile("quick").with_overrides(
        epochs=1, batch_size=50, lr=0.01, optimizer=optimizer, augment=True)
    model = build_model(profile.arch)
    fit(model, TensorBatches(train_tensors.subset(slice(0, 100)), 50, shuffle=True, seed=0),
        TensorBatches(train_tensors.subset(slice(59_000, 59_100)), 100), profile,
        device="cpu", checkpoint_path=tmp_path / "m.pt", verbose=False)
    payload = read_checkpoint(tmp_path / "m.pt")
    assert payload["resume"]["augment_rng"].dtype == torch.uint8
    assert payload["resume"]["optimizer"]["state"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_loading_onto_a_missing_gpu_says_so_in_one_line(quick_checkpoint, device):
    with pytest.raises(ConfigError) as caught:
        load_checkpoint(quick_checkpoint, device=device)
    message = str(caught.value)
    assert "no CUDA GPU" in message and "'auto'" in message and "\n" not in message
    model, _ = load_checkpoint(quick_checkpoint, device="auto")
    assert next(model.parameters()).device.type == "cpu"


# --- save_checkpoint refuses, before writing, what load_checkpoint would refuse ------------


@pytest.mark.parametrize(("weights", "error", "fragment"), [
    pytest.param(lambda model: None, TypeError, "is None", id="None"),
    pytest.param(lambda model: model, TypeError, "pass model.state_dict()", id="the model"),
    pytest.param(lambda model: {"fc.weight": [1.0]}, TypeError, "'fc.weight' holds a list",
                 id="a list for a tensor"),
    pytest.param(lambda model: {**model.state_dict(), "extra": torch.zeros(1)}, ValueError,
                 "does not fit architecture 'fast_cnn'", id="another architecture's"),
    pytest.param(lambda model: {k: torch.full_like(v, float("nan")) if v.is_floating_point()
                                else v for k, v in model.state_dict().items()},
                 ValueError, "the training diverged", id="NaN weights"),
])
def test_save_refuses_what_are_not_weights_and_writes_nothing(tmp_path, quick_model, weights,
                                                             error, fragment):
    path = tmp_path / "m.pt"
    with pytest.raises(error, match=r"^state_dict.*" + re.escape(fragment)):
        save_checkpoint(path, weights(quick_model), arch="fast_cnn")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("arch", "model_class", "arch_kwargs"), [
    (None, None, None), (None, "", None), (None, "MyNet", {"width": 8}),
    ("fast_cnn", "MyNet", None)])
def test_save_refuses_a_network_it_could_not_name_and_writes_nothing(tmp_path, quick_model, arch,
                                                                     model_class, arch_kwargs):
    with pytest.raises(ValueError, match="^save_checkpoint: .*(model_class|not a MyNet)"):
        save_checkpoint(tmp_path / "m.pt", quick_model.state_dict(), arch=arch,
                        model_class=model_class, arch_kwargs=arch_kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("given", "error"), [(None, TypeError), ("", ValueError),
                                              ("  ", ValueError)])
def test_save_to_an_empty_path_names_the_argument(tmp_path, quick_model, given, error,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match="path .*the checkpoint path is empty: name a file"):
        save(given, quick_model)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("value", "kind"), [({"a", "b"}, "set"), (float("nan") + 0j, "complex"),
                                             (Path("x.png"), "PosixPath|WindowsPath"),
                                             (np.float64(0.5), "float64")])
def test_save_refuses_metadata_the_loader_would_refuse(tmp_path, quick_model, value, kind):
    """A set, or numpy's float64 (which weights-only loading cannot rebuild), used to be
    written, and the file was then refused by load_checkpoint."""
    with pytest.raises(ValueError, match=f"holds a ({kind}) at metadata/tags"):
        save(tmp_path / "m.pt", quick_model, metadata={"tags": value})
    assert list(tmp_path.iterdir()) == []


def test_metadata_the_loader_accepts_round_trips(tmp_path, quick_model):
    metadata = {"tags": ["a", "b"], "pair": (1, 2.5), "ok": True, "none": None,
                "curve": {"loss": [0.5, 0.25]}}
    path = save(tmp_path / "m.pt", quick_model, metadata=metadata)
    stored = load_checkpoint(path)[1].metadata
    assert {key: stored[key] for key in metadata} == metadata


@pytest.mark.parametrize("read", [load_checkpoint, read_checkpoint])
def test_loading_none_names_the_path_argument(read):
    with pytest.raises(TypeError, match="^path must be a checkpoint file name .*not NoneType"):
        read(None)


@pytest.mark.parametrize(("name", "content"), [
    ("photo.tif", None),
    ("train.sh", b"#!/bin/sh\npython -m mnist_helpers train\n"),
    ("notes.zip", None),
])
def test_a_file_that_is_not_a_checkpoint_is_never_to_be_deleted(tmp_path, name, content):
    """A user's photo or script given as --checkpoint used to be met with "delete it"."""
    path = tmp_path / name
    if name.endswith(".tif"):
        Image.new("L", (28, 28), 255).save(path)
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hello")
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "not a checkpoint file" in message
    assert "Name a .pt file saved by mnist_helpers" in message
    assert "delete" not in message
    assert path.read_bytes()  # and nothing was done to it
