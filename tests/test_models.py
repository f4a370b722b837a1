"""The networks: shapes on real digits, parameter counts, the layer table."""

from __future__ import annotations

import pytest
import torch

from mnist_helpers import ARCHITECTURES, build_model, count_parameters
from mnist_helpers.models import SeedCNN, layer_table


@pytest.fixture(scope="module")
def batch(test_tensors) -> torch.Tensor:
    return test_tensors.images[:7]


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_gives_ten_logits(arch, batch):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    with torch.no_grad():
        logits = model(batch)
    assert logits.shape == (7, 10)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert logits.std(0).abs().sum() > 0, "different digits should give different logits"
    # Training mode works too (batch norm needs more than one image per channel).
    model.train()
    out = model(batch)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_seed_cnn_has_the_seeds_parameter_count():
    assert count_parameters(SeedCNN()) == 1_199_882
    assert count_parameters(build_model("seed_cnn")) == 1_199_882


def test_fast_cnn_is_much_smaller_than_seed_cnn():
    assert count_parameters(build_model("fast_cnn")) < count_parameters(SeedCNN()) / 10


def test_count_parameters_skips_frozen_ones():
    model = build_model("fast_cnn")
    total = count_parameters(model)
    for p in model.classifier.parameters():
        p.requires_grad_(False)
    assert count_parameters(model) == total - (64 * 3 * 3 * 10 + 10)


def test_build_model_rejects_unknown_names():
    with pytest.raises(ValueError, match="seed_cnn") as caught:
        build_model("lenet")
    assert "lenet" in str(caught.value)


def test_build_model_passes_keyword_arguments():
    wide = build_model("fast_cnn", width=32)
    assert count_parameters(wide) > count_parameters(build_model("fast_cnn"))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_layer_table_ends_at_ten_outputs(arch):
    model = build_model(arch)
    model.train()
    rows = layer_table(model)
    assert model.training, "layer_table must restore the training mode"
    assert rows[-1]["output_shape"] == (1, 10)
    assert all(row["output_shape"][0] == 1 for row in rows)
    assert sum(row["parameters"] for row in rows) == count_parameters(model)
    assert {"layer", "type", "output_shape", "parameters"} <= set(rows[0])


def test_seed_cnn_layer_table_shapes():
    rows = {row["layer"]: row for row in layer_table(SeedCNN())}
    assert rows["conv1"]["output_shape"] == (1, 32, 26, 26)
    assert rows["conv2"]["output_shape"] == (1, 64, 24, 24)
    assert rows["pool"]["output_shape"] == (1, 64, 12, 12)
    assert rows["fc1"]["output_shape"] == (1, 128)
    assert rows["fc1"]["parameters"] == 9216 * 128 + 128
    assert rows["fc2"]["output_shape"] == (1, 10)


def test_place_model_uses_channels_last_on_cpu_and_gives_the_same_outputs(test_tensors):
    import copy

    from mnist_helpers.device import place_model

    torch.manual_seed(0)
    model = build_model("fast_cnn").eval()
    reference = copy.deepcopy(model)
    placed = place_model(model, "cpu")
    weight = placed.features[0][0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    batch = test_tensors.images[:32]
    with torch.no_grad():
        assert torch.allclose(placed(batch), reference(batch), atol=1e-5)


@pytest.mark.parametrize("arch", ["tiny_cnn", "deep_cnn"])
def test_cropping_networks_ignore_the_border(arch, batch):
    """tiny_cnn and deep_cnn look only at the central 24×24: the 2-pixel border cannot change
    their output, while the centre does."""
    torch.manual_seed(0)
    model = build_model(arch).eval()
    framed = batch.clone()
    framed[:, :, :2, :] = 3.0
    framed[:, :, -2:, :] = 3.0
    framed[:, :, :, :2] = 3.0
    framed[:, :, :, -2:] = 3.0
    centre = batch.clone()
    centre[:, :, 12:16, 12:16] = 3.0
    with torch.no_grad():
        assert torch.equal(model(batch), model(framed))
        assert not torch.allclose(model(batch), model(centre))
    assert build_model(arch, border=0).eval()(batch).shape == (7, 10)


def test_deep_cnn_has_five_conv_layers_and_the_documented_size():
    model = build_model("deep_cnn")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and convs[0].stride == (2, 2) and convs[0].kernel_size == (5, 5)
    assert count_parameters(model) == 165_394
    assert count_parameters(build_model("deep_cnn", width=8)) < count_parameters(model) / 5
