"""One call makes a trained model from a Profile: the data, the model, fit, the refusal
threshold, and a checkpoint that can be shipped."""

from __future__ import annotations

import pytest
import torch

from mnist_helpers import get_profile, load_checkpoint, train_model
from mnist_helpers.checkpoint import read_checkpoint
from mnist_helpers.errors import ConfigError
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


def test_the_uniform_target_is_the_cross_entropy_against_one_tenth_on_every_digit():
    """Outlier exposure's loss, checked against PyTorch's cross-entropy with soft targets:
    a non-digit's target is 1/10 on every output, a digit's the usual (smoothed) one."""
    import torch.nn.functional as F

    from mnist_helpers.loop import uniform_beyond_loss

    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([1, 2, 10, 11, 3, 10])
    targets = torch.stack([torch.full((10,), 0.1) if label >= 10
                           else F.one_hot(label, 10) * 0.9 + 0.01 for label in labels])
    expected = F.cross_entropy(logits, targets)
    assert torch.allclose(uniform_beyond_loss(logits, labels, 0.1), expected)
    digits = labels < 10
    assert torch.allclose(uniform_beyond_loss(logits[digits], labels[digits], 0.1),
                          F.cross_entropy(logits[digits], labels[digits], label_smoothing=0.1))
    with pytest.raises(IndexError):  # the usual loss: a label 10 has no output
        F.cross_entropy(logits, labels)


def test_non_digits_taught_with_the_uniform_target_keep_ten_outputs_and_lower_their_scores(
        mnist_raw_dir):
    """nondigit_target="uniform": ten outputs, a threshold fitted, and the validation
    non-digits' largest probability pulled below that of a network never shown non-digits."""
    # Long enough to read digits well (above 90% on validation): a network that has barely
    # learnt gives every picture low probabilities, with or without non-digits.
    base = get_profile("default").with_overrides(epochs=1, train_limit=8_000, val_size=500,
                                                 eval_limit=500)
    uniform = base.with_overrides(nondigits=2_000, nondigit_target="uniform")
    assert "num_classes" not in uniform.model_kwargs()
    trained = train_model(uniform, "cpu", seed=3, data_dir=mnist_raw_dir)
    plain = train_model(base, "cpu", seed=3, data_dir=mnist_raw_dir)
    assert trained.refusal_threshold is not None and plain.refusal_threshold is None
    assert min(trained.history.val_accuracy[-1], plain.history.val_accuracy[-1]) > 0.9
    nondigits, _ = trained.data.val_nondigits.batch(slice(None))
    with torch.no_grad():
        assert trained.model(nondigits).shape == (len(nondigits), 10)
        top = {name: torch.softmax(run.model(nondigits), 1).max(1).values.mean().item()
               for name, run in (("uniform", trained), ("plain", plain))}
    assert top["uniform"] < top["plain"], top


def test_a_profile_names_how_non_digits_are_taught():
    with pytest.raises(ConfigError, match="nondigit_target"):
        get_profile("quick").with_overrides(nondigit_target="ignore")
