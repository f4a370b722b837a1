"""MNIST exported as ImageFolder PNGs, and read back the usual way for folders of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers.imagefolder import export_imagefolder, load_imagefolder

LIMIT = 50


def pngs(root: Path) -> dict[str, int]:
    """Every visible PNG below ``root`` with its mtime."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*.png"))
            if not p.name.startswith(".")}


@pytest.fixture
def exported(tmp_path, mnist_raw_dir, private_default_data_dir) -> Path:
    root = tmp_path / "Dataset"
    counts = export_imagefolder(root, data_dir=mnist_raw_dir, limit=LIMIT)
    assert counts == {"train": LIMIT, "test": LIMIT}
    return root


def test_export_writes_class_folders_of_pngs(exported, train_tensors, test_tensors):
    for split, data in (("train", train_tensors), ("test", test_tensors)):
        assert sorted(p.name for p in (exported / split).iterdir()) == [str(d) for d in range(10)]
        files = sorted((exported / split).glob("*/*.png"))
        assert len(files) == LIMIT
        expected = torch.bincount(data.labels[:LIMIT], minlength=10).tolist()
        found = [len(list((exported / split / str(d)).glob("*.png"))) for d in range(10)]
        assert found == expected
        for path in files:
            index, label = int(path.stem), int(path.parent.name)
            assert 0 <= index < LIMIT and data.labels[index].item() == label
    first = Image.open(exported / "train" / "5" / "00000.png")
    assert first.mode == "L" and first.size == (28, 28)


def test_export_is_idempotent(exported, mnist_raw_dir, private_default_data_dir):
    before = pngs(exported)
    assert len(before) == 2 * LIMIT
    counts = export_imagefolder(exported, data_dir=mnist_raw_dir, limit=LIMIT)
    assert counts == {"train": LIMIT, "test": LIMIT}
    assert pngs(exported) == before, "a rerun must not rewrite files already there"


def test_export_fills_in_what_is_missing(exported, mnist_raw_dir, private_default_data_dir):
    victim = exported / "test" / "7" / "00000.png"
    victim.unlink()
    counts = export_imagefolder(exported, data_dir=mnist_raw_dir, limit=LIMIT)
    assert counts == {"train": LIMIT, "test": LIMIT}
    assert victim.is_file()
    bigger = export_imagefolder(exported, data_dir=mnist_raw_dir, limit=LIMIT + 10)
    assert bigger == {"train": LIMIT + 10, "test": LIMIT + 10}


def test_interrupted_export_leftover_breaks_nothing(exported, mnist_raw_dir,
                                                    private_default_data_dir):
    # What a killed run leaves: a half-written temporary PNG beside the finished ones, and
    # one finished file missing.
    folder = exported / "train" / "3"
    good = next(folder.glob("*.png")).read_bytes()
    stray = folder / ".tmpk3x9a_q1.png"
    stray.write_bytes(good[: len(good) // 2])
    (exported / "train" / "1" / "00003.png").unlink()
    counts = export_imagefolder(exported, data_dir=mnist_raw_dir, limit=LIMIT)
    assert counts == {"train": LIMIT, "test": LIMIT}
    dataset = load_imagefolder("train", exported)
    assert len(dataset) == LIMIT
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    assert images.shape == (LIMIT, 1, 28, 28)


def test_imagefolder_matches_load_tensors(exported, train_tensors, test_tensors):
    for split, data in (("train", train_tensors), ("test", test_tensors)):
        dataset = load_imagefolder(split, exported)
        assert dataset.classes == [str(d) for d in range(10)]
        assert len(dataset) == LIMIT
        indices = [int(Path(path).stem) for path, _ in dataset.samples]
        assert sorted(indices) == list(range(LIMIT))
        images = torch.stack([dataset[i][0] for i in range(len(dataset))])
        labels = torch.tensor([dataset[i][1] for i in range(len(dataset))])
        expected = data.subset(torch.tensor(indices))
        assert torch.equal(labels, expected.labels)
        assert torch.allclose(images, expected.batch(slice(None))[0], rtol=0, atol=1e-6)
        # ImageFolder sorts by class folder, then by file name.
        assert labels.tolist() == sorted(labels.tolist())


def test_imagefolder_unnormalised_matches_pixels(exported, mnist_raw_dir, mnist_cache):
    dataset = load_imagefolder("test", exported, normalize=False)
    path, label = dataset.samples[0]
    image, _ = dataset[0]
    pixels = np.asarray(Image.open(path), dtype=np.float32) / 255.0
    assert torch.allclose(image[0], torch.from_numpy(pixels), rtol=0, atol=1e-7)
    assert label == int(Path(path).parent.name)


def test_load_imagefolder_missing_folder_says_how_to_create_it(tmp_path):
    from mnist_helpers import MNISTDataError

    with pytest.raises(MNISTDataError, match="export_imagefolder"):
        load_imagefolder("train", tmp_path / "nowhere")
