"""One call makes a trained model from a Profile: the data, the model, fit, the refusal
threshold, and a checkpoint that can be shipped."""

from __future__ import annotations

import torch

from mnist_helpers import get_profile, load_checkpoint, train_model
from mnist_helpers.checkpoint import read_checkpoint
from mnist_helpers.predict import Refusal


def test_a_model_that_can_refuse_is_made_and_shipped_by_the_library(tmp_path, mnist_raw_dir):
    """What ``train --profile robust --no-resume-state`` does, small: 12 classes, a refusal
    threshold fitted on validation images and stored, no resume state in the file."""
    profile = get_profile("quick").with_overrides(
        nondigits=250, train_limit=1_500, val_size=500, eval_limit=500)
    out = tmp_path / "shipped.pt"
    trained = train_model(profile, "cpu", seed=3, data_dir=mnist_raw_dir, checkpoint_path=out,
                          keep_resume_state=False)
    assert trained.checkpoint == out and out.is_file()
    assert trained.data.val_nondigits is not None and len(trained.data.val_nondigits) == 25
    assert trained.refusal_threshold is not None and 0 <= trained.refusal_threshold < 1
    assert "refusal threshold" in (trained.refusal_summary() or "")
    payload = read_checkpoint(out)
    assert "resume" not in payload
    model, info = load_checkpoint(out, "cpu")
    assert Refusal.from_metadata(info.metadata).threshold == trained.refusal_threshold
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 12)


def test_a_ten_class_run_keeps_its_resume_state_and_fits_no_threshold(tmp_path, mnist_raw_dir):
    profile = get_profile("quick").with_overrides(train_limit=1_000, val_size=500,
                                                  eval_limit=500)
    trained = train_model(profile, "cpu", data_dir=mnist_raw_dir,
                          checkpoint_path=tmp_path / "m.pt")
    assert trained.refusal_threshold is None and trained.refusal_summary() is None
    assert "resume" in read_checkpoint(tmp_path / "m.pt")
    assert not trained.model.training  # ready to predict


def test_the_same_seed_makes_the_same_model(mnist_raw_dir):
    profile = get_profile("quick").with_overrides(train_limit=600, val_size=300, eval_limit=300)
    first, second = (train_model(profile, "cpu", seed=5, data_dir=mnist_raw_dir)
                     for _ in range(2))
    assert first.checkpoint is None  # nothing asked to be saved
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
