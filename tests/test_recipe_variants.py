"""benchmarks/recipe_variants.py: its figures come from the saved logits, as printed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_helpers import recipe as recipe_module
from mnist_helpers.data import load_tensors, split_indices
from mnist_helpers.models import build_model

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "recipe_variants.py"


@pytest.fixture(scope="module")
def recipe_variants():
    spec = importlib.util.spec_from_file_location("recipe_variants", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _logits(labels: np.ndarray, wrong: int) -> np.ndarray:
    """Five shifts of logits that pick ``labels``, except the first ``wrong`` images (in
    the unshifted copy only), which pick the next class."""
    logits = np.zeros((5, len(labels), 10), np.float32)
    logits[:, np.arange(len(labels)), labels] = 5.0
    logits[0, np.arange(wrong), (labels[:wrong] + 1) % 10] = 10.0
    return logits


def test_the_printed_accuracies_are_those_of_the_saved_logits(recipe_variants, mnist_raw_dir,
                                                              tmp_path, capsys):
    test = load_tensors(False, str(mnist_raw_dir)).labels.numpy()
    full = load_tensors(True, str(mnist_raw_dir))
    val = full.labels[split_indices(len(full), 5000, seed=0)[1]].numpy()
    for seed, wrong in [(0, 10), (1, 30), (2, 50)]:  # 99.9%, 99.7%, 99.5% on the test set
        np.savez(tmp_path / f"w24e28_{seed}.npz", val=_logits(val, 0), test=_logits(test, wrong))
    recipe_variants.analyse(str(tmp_path), str(mnist_raw_dir))
    out = capsys.readouterr().out
    assert "w24e28, seeds [0, 1, 2]: test 99.700% ± 0.200 (lowest 99.50, highest 99.90)" in out
    # The four shifts are right for every image, so their average outvotes the one wrong copy.
    assert "with TTA 100.000%" in out
    # Three members: the first 30 images are wrong in two of them (the first 10 in all
    # three), so the vote is wrong there; images 30 to 49, wrong in one, are outvoted.
    assert "1 ensembles of 3: 99.700% (99.70 to 99.70)" in out


def test_an_all_variant_trains_on_every_training_image_and_keeps_its_last_epoch(
        recipe_variants, mnist_raw_dir, tmp_path, monkeypatch):
    """A variant named ``...all`` trains on all 60,000 images and keeps the last epoch's
    weights, whatever the 5,000 usually held out would have chosen."""
    small = recipe_variants.get_profile("best").with_overrides(
        arch="logistic", width=None, epochs=2, augment=False, label_smoothing=0.0, lr=0.05)
    monkeypatch.setattr(recipe_variants, "variants", lambda: {"tinyall": small})
    trained_on, weights = [], []
    real_fit = recipe_module.fit

    def watched_fit(model, train, val, profile, **kwargs):
        trained_on.append(len(train.dataset))
        on_epoch = kwargs["on_epoch"]

        def note(history):  # the weights after each epoch, as fit leaves them
            weights.append({k: v.clone() for k, v in model.state_dict().items()})
            return on_epoch is not None and on_epoch(history)

        return real_fit(model, train, val, profile, **{**kwargs, "on_epoch": note})

    monkeypatch.setattr(recipe_module, "fit", watched_fit)
    kept = {}
    real_savez = np.savez_compressed
    monkeypatch.setattr(recipe_variants.np, "savez_compressed",
                        lambda path, **arrays: (kept.update(arrays), real_savez(path, **arrays)))
    row = recipe_variants.train_one("tinyall", 0, "cpu", str(mnist_raw_dir), str(tmp_path))
    assert trained_on == [60_000]
    assert row["best_epoch"] == 2 and len(weights) == 2
    assert kept["test"].shape == (5, 10_000, 10)
    # The logits saved are the last epoch's model's, not the first's.
    model = build_model("logistic")
    model.load_state_dict(weights[-1])
    model.eval()
    test = load_tensors(False, str(mnist_raw_dir))
    first = next(iter(recipe_variants.TensorBatches(test, 1000)))[0]
    with torch.no_grad():
        np.testing.assert_allclose(kept["test"][0, :1000], model(first).numpy(), atol=1e-4)
        model.load_state_dict(weights[0])
        assert not np.allclose(kept["test"][0, :1000], model(first).numpy(), atol=1e-4)
