"""MNIST on disk and in memory: finding, verifying, extracting, loading, splitting, batching."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from mnist_helpers import (
    MNIST_MEAN,
    MNIST_STD,
    MNISTDataError,
    TensorBatches,
    classic_loader,
    config,
    load_mnist,
    load_tensors,
    mnist_transform,
    prepare_mnist,
    split_indices,
)
from mnist_helpers.data import compute_mean_std
from mnist_helpers.download import EXTRACTED, RAW_FILES, resolve_data_dir

RAW_NAMES = [name for name, _ in RAW_FILES]
TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry below ``folder`` (hidden ones too) with its size and mtime."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            stat = path.lstat()
            result[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return result


def leftovers(folder: Path) -> list[str]:
    """Temporary or hidden files (half-written downloads or extractions) below ``folder``."""
    if not folder.exists():
        return []
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*")
        if p.name.startswith(".") or p.suffix in {".tmp", ".part"}
    )


def link_raw_files(source: Path, target: Path) -> Path:
    """Symlinks to the four original files in ``target`` (created)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RAW_NAMES:
        (target / name).symlink_to(source / name)
    return target


def assert_extracted(cache: Path) -> None:
    raw = cache / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(EXTRACTED)
    for name, (_md5, size) in EXTRACTED.items():
        assert (raw / name).stat().st_size == size


# --- finding and preparing the files -----------------------------------------------------


def test_prepare_reads_shared_folder_and_writes_only_to_cache(raw_gz_dir, tmp_path):
    before = listing(raw_gz_dir)
    cache = tmp_path / "cache"
    root = prepare_mnist(raw_gz_dir, download=False, cache_dir=cache)
    assert root == cache.resolve()
    assert_extracted(cache)
    assert listing(raw_gz_dir) == before, "the source folder must never be written to"
    assert leftovers(cache) == []
    assert sorted(p.name for p in cache.iterdir()) == ["MNIST"]


def test_prepare_accepts_files_directly_in_folder(raw_gz_dir, tmp_path):
    flat = link_raw_files(raw_gz_dir, tmp_path / "flat")
    cache = tmp_path / "cache"
    root = prepare_mnist(flat, download=False, cache_dir=cache)
    assert root == cache.resolve()
    assert_extracted(cache)
    assert sorted(p.name for p in flat.iterdir()) == sorted(RAW_NAMES)
    assert len(load_mnist(False, flat, download=False, cache_dir=cache)) == 10_000


def test_prepare_accepts_mnist_raw_layout(raw_gz_dir, tmp_path):
    parent = tmp_path / "parent"
    for name in RAW_NAMES:  # real copies this time, not links
        target = parent / "MNIST" / "raw" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(raw_gz_dir / name, target)
    before = listing(parent)
    cache = tmp_path / "cache"
    root = prepare_mnist(parent, download=False, cache_dir=cache)
    assert root == cache.resolve()
    assert_extracted(cache)
    assert listing(parent) == before
    assert len(load_mnist(True, parent, download=False, cache_dir=cache)) == 60_000


def test_prepare_reuses_extracted_files(raw_gz_dir, mnist_cache):
    raw = mnist_cache / "MNIST" / "raw"
    before = listing(raw)
    assert prepare_mnist(raw_gz_dir, download=False, cache_dir=mnist_cache) == mnist_cache
    assert listing(raw) == before


def test_resolve_data_dir_precedence(monkeypatch, tmp_path):
    from_arg, from_env = tmp_path / "arg", tmp_path / "env"
    monkeypatch.setenv("MNIST_DATA_DIR", str(from_env))
    assert resolve_data_dir(from_arg) == (from_arg.resolve(), True)
    assert resolve_data_dir(str(from_arg)) == (from_arg.resolve(), True)
    assert resolve_data_dir() == (from_env.resolve(), True)
    monkeypatch.delenv("MNIST_DATA_DIR")
    assert resolve_data_dir() == (config.data_dir(), False)
    monkeypatch.setenv("MNIST_WORKSPACE", str(tmp_path / "ws"))
    assert config.data_dir() == (tmp_path / "ws" / "data").resolve()


def test_an_empty_data_dir_setting_is_an_error_not_the_current_folder(monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", "")
    with pytest.raises(MNISTDataError, match="empty"):
        resolve_data_dir()


# --- what goes wrong, and what the user is told -------------------------------------------


def test_offline_download_failure_lists_urls_and_manual_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    data = tmp_path / "ws" / "data"
    with pytest.raises(MNISTDataError) as caught:
        prepare_mnist(download=True, mirrors=["http://127.0.0.1:9/"])
    message = str(caught.value)
    assert f"http://127.0.0.1:9/{RAW_NAMES[0]}" in message
    for name, md5 in RAW_FILES:
        assert name in message and md5 in message
    assert str(data) in message
    assert "MNIST_DATA_DIR" in message
    assert leftovers(data) == []
    # Nothing that looks like a downloaded file was left behind either.
    assert list((data / "MNIST" / "raw").iterdir()) == []


def test_missing_files_without_download_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    with pytest.raises(MNISTDataError) as caught:
        prepare_mnist(download=False)
    message = str(caught.value)
    assert str(tmp_path / "ws" / "data") in message
    assert "downloading is switched off" in message
    for name in RAW_NAMES:
        assert name in message


def test_a_named_folder_without_the_files_is_never_written(tmp_path):
    """The folder in MNIST_DATA_DIR (or data_dir) is only read: when the files are not there,
    the error says so and nothing is created in it, not even after a failed download."""
    empty, cache = tmp_path / "empty", tmp_path / "cache"
    empty.mkdir()
    with pytest.raises(MNISTDataError) as caught:
        prepare_mnist(empty, download=True, cache_dir=cache, mirrors=["http://127.0.0.1:9/"])
    message = str(caught.value)
    assert str(empty) in message and "only" in message and "read" in message
    for name in RAW_NAMES:
        assert name in message
    assert list(empty.iterdir()) == []
    assert not cache.exists() or leftovers(cache) == []


def test_some_files_missing_without_download_names_them(raw_gz_dir, tmp_path):
    folder = tmp_path / "partial"
    folder.mkdir()
    for name in RAW_NAMES[:2]:
        (folder / name).symlink_to(raw_gz_dir / name)
    with pytest.raises(MNISTDataError, match=r"missing: t10k-images-idx3-ubyte\.gz, "
                                             r"t10k-labels-idx1-ubyte\.gz"):
        prepare_mnist(folder, download=False, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("damaged", ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"])
def test_truncated_gz_is_named_with_the_fix(raw_gz_dir, tmp_path, damaged):
    folder, cache = tmp_path / "copy", tmp_path / "cache"
    folder.mkdir()
    for name in RAW_NAMES:
        shutil.copyfile(raw_gz_dir / name, folder / name)
    full = (folder / damaged).stat().st_size
    with (folder / damaged).open("r+b") as handle:
        handle.truncate(full // 2)
    with pytest.raises(MNISTDataError) as caught:
        prepare_mnist(folder, download=True, cache_dir=cache, mirrors=["http://127.0.0.1:9/"])
    message = str(caught.value)
    assert str(folder / damaged) in message
    assert "Delete it" in message and "replace it" in message
    assert f"{full // 2:,} bytes" in message and f"expected {full:,}" in message
    assert (folder / damaged).stat().st_size == full // 2, "the damaged file is left to the user"
    assert not cache.exists() or leftovers(cache) == []
    assert not (cache / "MNIST" / "raw").exists() or not any((cache / "MNIST" / "raw").iterdir())


def test_files_in_wrong_place_say_where_they_were_found(raw_gz_dir, tmp_path):
    nested = link_raw_files(raw_gz_dir, tmp_path / "some" / "nested" / "dir")
    cache = tmp_path / "cache"
    with pytest.raises(MNISTDataError) as caught:
        prepare_mnist(tmp_path, download=True, cache_dir=cache,
                      mirrors=["http://127.0.0.1:9/"])
    message = str(caught.value)
    assert str(nested) in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "MNIST_DATA_DIR" in message
    assert not (tmp_path / "MNIST").exists(), "nothing may be downloaded in this case"
    assert not cache.exists() or leftovers(cache) == []


def test_failed_extraction_leaves_no_partial_file(raw_gz_dir, tmp_path, monkeypatch):
    import gzip

    cache = tmp_path / "cache"
    calls = {"n": 0}
    real_open = gzip.open

    class Exploding:
        """A gzip reader that fails half-way through the second file."""

        def __init__(self, handle):
            self.handle, self.read_bytes = handle, 0

        def read(self, size=-1):
            if self.read_bytes > 1 << 20:
                raise OSError("disk full (simulated)")
            chunk = self.handle.read(size)
            self.read_bytes += len(chunk)
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def fake_open(path, mode="rb"):
        calls["n"] += 1
        handle = real_open(path, mode)
        return Exploding(handle) if calls["n"] == 1 else handle

    monkeypatch.setattr(gzip, "open", fake_open)
    with pytest.raises(MNISTDataError, match="disk full"):
        prepare_mnist(raw_gz_dir, download=False, cache_dir=cache)
    raw = cache / "MNIST" / "raw"
    assert list(raw.iterdir()) == [], "neither a temp file nor a partial file may remain"
    monkeypatch.setattr(gzip, "open", real_open)
    assert prepare_mnist(raw_gz_dir, download=False, cache_dir=cache) == cache.resolve()
    assert_extracted(cache)


# --- the loaded data ----------------------------------------------------------------------


def test_load_mnist_sizes_and_label_histograms(mnist_raw_dir, mnist_cache):
    train = load_mnist(True, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    test = load_mnist(False, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    assert len(train) == 60_000 and len(test) == 10_000
    assert train.data.shape == (60_000, 28, 28) and train.data.dtype == torch.uint8
    assert torch.bincount(train.targets, minlength=10).tolist() == TRAIN_HISTOGRAM
    assert torch.bincount(test.targets, minlength=10).tolist() == TEST_HISTOGRAM


def test_load_tensors_shapes_and_normalisation(train_tensors, test_tensors):
    assert train_tensors.pixels.shape == (60_000, 28, 28)
    assert test_tensors.pixels.shape == (10_000, 28, 28)
    assert train_tensors.pixels.dtype == torch.uint8, "kept as bytes: 4x less memory"
    assert train_tensors.labels.dtype == torch.int64
    assert torch.bincount(test_tensors.labels, minlength=10).tolist() == TEST_HISTOGRAM
    images, labels = train_tensors.batch(slice(None))
    assert images.shape == (60_000, 1, 28, 28) and images.dtype == torch.float32
    assert torch.equal(labels, train_tensors.labels)
    # Normalised with the training statistics: mean ~0 and std ~1 over the training set.
    assert abs(images.mean().item()) < 1e-3
    assert abs(images.std().item() - 1.0) < 1e-3
    assert images.min().item() == pytest.approx(-MNIST_MEAN / MNIST_STD, abs=1e-5)
    assert images.max().item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD, abs=1e-5)


def test_mean_std_constants_match_the_training_pixels(mnist_raw_dir, mnist_cache):
    train = load_mnist(True, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    mean, std = compute_mean_std(train.data)
    assert round(mean, 4) == MNIST_MEAN == 0.1307
    assert round(std, 4) == MNIST_STD == 0.3081


def test_classic_and_fast_paths_agree(mnist_raw_dir, mnist_cache, train_tensors):
    dataset = load_mnist(True, mnist_raw_dir, transform=mnist_transform(), download=False,
                         cache_dir=mnist_cache)
    indices = torch.tensor([0, 1, 7, 4242, 31337, 59_999])
    loader = classic_loader(dataset, batch_size=4, indices=indices)
    images, labels = (torch.cat(parts) for parts in zip(*loader, strict=True))
    fast = train_tensors.subset(indices)
    fast_images, fast_labels = fast.batch(slice(None))
    assert images.shape == fast_images.shape == (6, 1, 28, 28)
    assert torch.equal(labels, fast_labels)
    # Same numbers up to float rounding (x/255 against x*(1/255)).
    assert torch.allclose(images, fast_images, rtol=0, atol=1e-6)
    # The same split, now through TensorBatches: the same batches in the same order.
    for (a, la), (b, lb) in zip(classic_loader(dataset, 3, indices=indices),
                                TensorBatches(fast, 3), strict=True):
        assert torch.equal(la, lb) and torch.allclose(a, b, rtol=0, atol=1e-6)


def test_unnormalised_transform_gives_pixels_in_unit_range(mnist_raw_dir, mnist_cache):
    dataset = load_mnist(False, mnist_raw_dir, transform=mnist_transform(normalize=False),
                         download=False, cache_dir=mnist_cache)
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert torch.allclose(image[0], dataset.data[0].float() / 255.0, rtol=0, atol=1e-7)
    assert image.min().item() == 0.0 and image.max().item() == 1.0
    assert label == int(dataset.targets[0]) == 7


# --- splits and batches -------------------------------------------------------------------


def test_split_indices_is_deterministic_disjoint_and_complete():
    train, val = split_indices(1000, 100, seed=3)
    again_train, again_val = split_indices(1000, 100, seed=3)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert len(train) == 900 and len(val) == 100
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(1000))
    other_train, _ = split_indices(1000, 100, seed=4)
    assert not torch.equal(train, other_train)
    assert train.tolist() != sorted(train.tolist()), "the split must be shuffled"
    full, none = split_indices(10, 0)
    assert sorted(full.tolist()) == list(range(10)) and len(none) == 0


@pytest.mark.parametrize("val_size", [-1, 10, 11])
def test_split_indices_rejects_bad_sizes(val_size):
    with pytest.raises(ValueError, match="val_size"):
        split_indices(10, val_size)


def epoch_order(batches: TensorBatches, ids: torch.Tensor) -> list[int]:
    """The sample ids one pass over ``batches`` visits (ids stored in two pixels)."""
    seen = []
    for images, labels in batches:
        pixels = (images * MNIST_STD + MNIST_MEAN) * 255
        batch_ids = (pixels[:, 0, 0, 0].round() * 256 + pixels[:, 0, 0, 1].round()).long()
        assert torch.equal(labels, ids[batch_ids] % 10)
        seen.extend(batch_ids.tolist())
    return seen


def test_tensor_batches_cover_every_sample_once_per_epoch(train_tensors):
    n = 1003
    ids = torch.arange(n)
    data = train_tensors.subset(slice(0, n))
    data.pixels = data.pixels.clone()
    data.pixels[:, 0, 0] = (ids // 256).to(torch.uint8)  # tag each image with its index
    data.pixels[:, 0, 1] = (ids % 256).to(torch.uint8)
    data.labels = ids % 10
    batches = TensorBatches(data, 64, shuffle=True, seed=1)
    assert len(batches) == 16
    first, second = epoch_order(batches, ids), epoch_order(batches, ids)
    assert sorted(first) == sorted(second) == list(range(n))
    assert first != second, "each epoch needs a fresh permutation"
    again = TensorBatches(data, 64, shuffle=True, seed=1)
    assert epoch_order(again, ids) == first and epoch_order(again, ids) == second
    other = TensorBatches(data, 64, shuffle=True, seed=2)
    assert epoch_order(other, ids) != first
    plain = TensorBatches(data, 64)
    assert epoch_order(plain, ids) == list(range(n))
    sizes = [len(labels) for _, labels in plain]
    assert sizes == [64] * 15 + [43]
    dropped = TensorBatches(data, 64, shuffle=True, drop_last=True)
    assert len(dropped) == 15 and [len(lb) for _, lb in dropped] == [64] * 15
    assert batches.dataset is data


def test_tensor_batches_reject_zero_batch_size(train_tensors):
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches(train_tensors, 0)


def test_subset_and_to_keep_images_and_labels_together(test_tensors):
    part = test_tensors.subset(torch.tensor([5, 3]))
    assert len(part) == 2
    assert torch.equal(part.pixels[1], test_tensors.pixels[3])
    assert part.labels.tolist() == test_tensors.labels[[5, 3]].tolist()
    moved = part.to("cpu")
    assert torch.equal(moved.pixels, part.pixels)
    images, labels = test_tensors.batch([5, 3])
    assert torch.equal(images, part.batch(slice(None))[0]) and labels.tolist() == [
        int(test_tensors.labels[5]), int(test_tensors.labels[3])]


def test_without_cache_dir_extraction_goes_to_the_workspace_data_folder(raw_gz_dir, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("MNIST_WORKSPACE", str(tmp_path / "ws"))
    default = (tmp_path / "ws" / "data").resolve()
    before = listing(raw_gz_dir)
    assert prepare_mnist(raw_gz_dir, download=False) == default
    assert_extracted(default)
    assert listing(raw_gz_dir) == before
    assert len(load_tensors(False, raw_gz_dir, download=False)) == 10_000


# --- the unpacked files are verified, not trusted ------------------------------------------


def damaged_copy(mnist_cache: Path, tmp_path: Path) -> Path:
    """A private copy of an unpacked cache (real files), to damage."""
    cache = tmp_path / "cache"
    shutil.copytree(mnist_cache / "MNIST", cache / "MNIST")
    return cache


@pytest.mark.parametrize("damage", ["zeroed labels", "bad magic"])
def test_a_damaged_unpacked_file_is_made_again_from_its_verified_archive(
        raw_gz_dir, mnist_cache, tmp_path, damage):
    cache = damaged_copy(mnist_cache, tmp_path)
    labels = cache / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    images = cache / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    if damage == "zeroed labels":  # the right size, every label 0: 9.8% accuracy if used
        labels.write_bytes(labels.read_bytes()[:8] + bytes(10_000))
    else:
        images.write_bytes(b"\x00\x00\x00\x00" + images.read_bytes()[4:])
    test = load_mnist(False, raw_gz_dir, download=False, cache_dir=cache)
    assert torch.bincount(test.targets, minlength=10).tolist() == TEST_HISTOGRAM
    assert test.data[0].sum() > 0


def test_an_unpacked_file_replaced_by_a_folder_is_named_with_the_fix(raw_gz_dir, mnist_cache,
                                                                    tmp_path):
    cache = damaged_copy(mnist_cache, tmp_path)
    labels = cache / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.unlink()
    labels.mkdir()
    with pytest.raises(MNISTDataError, match="t10k-labels-idx1-ubyte is a folder.*delete it"):
        load_mnist(False, raw_gz_dir, download=False, cache_dir=cache)


def test_a_label_archive_replaced_by_a_folder_is_named_as_such(raw_gz_dir, tmp_path):
    folder = link_raw_files(raw_gz_dir, tmp_path / "src")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").mkdir()
    with pytest.raises(MNISTDataError) as caught:
        prepare_mnist(folder, download=False, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert "t10k-labels-idx1-ubyte.gz is a folder" in message
    assert "images" not in message.split("is a folder")[0].rsplit("/", 1)[-1]


def test_leftovers_of_a_killed_run_are_cleaned_up_and_nothing_else(raw_gz_dir, mnist_cache,
                                                                    tmp_path):
    import os as _os
    import time

    from mnist_helpers.files import partial_folder

    cache = damaged_copy(mnist_cache, tmp_path)
    raw = cache / "MNIST" / "raw"
    ours = partial_folder(raw)
    dead = 4_194_304 + 1  # above Linux's largest process id: no such writer is alive
    stale = ours / f"train-images-idx3-ubyte.{dead}.abc123xy"
    stale.write_bytes(b"x" * 1000)
    download = ours / f"t10k-labels-idx1-ubyte.gz.{dead}.xyz789ab"
    download.mkdir()
    (download / "part").write_bytes(b"y")
    users = [raw / ".train-images-idx3-ubyte.abc123.tmp", raw / ".download-xyz"]
    users[0].write_bytes(b"a file of the user's")
    users[1].mkdir()
    old = time.time() - 2 * 3600
    for path in (stale, download, *users):
        _os.utime(path, (old, old))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"damaged")  # makes prepare unpack again
    prepare_mnist(raw_gz_dir, download=False, cache_dir=cache)
    assert not stale.exists() and not download.exists() and not ours.exists()
    assert all(path.exists() for path in users), "names like ours are not proof that it is ours"


def test_extracted_digests_are_those_of_the_official_archives(raw_gz_dir):
    import gzip
    import hashlib

    for name, (md5, size) in EXTRACTED.items():
        data = gzip.decompress((raw_gz_dir / f"{name}.gz").read_bytes())
        assert len(data) == size and hashlib.md5(data).hexdigest() == md5
