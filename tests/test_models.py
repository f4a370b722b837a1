"""The networks: shapes on real digits, parameter counts, the layer table."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mnist_helpers import ARCHITECTURES, ConfigError, build_model, count_parameters
from mnist_helpers.display.notebook import layer_table
from mnist_helpers.models import ClassicCNN


@pytest.fixture(scope="module")
def batch(test_tensors) -> torch.Tensor:
    return test_tensors.batch(slice(0, 7))[0]


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


def test_classic_cnn_has_the_pytorch_example_parameter_count():
    assert count_parameters(ClassicCNN()) == 1_199_882


def test_the_baselines_are_what_they_say():
    assert count_parameters(build_model("logistic")) == 784 * 10 + 10
    mlp = build_model("mlp")
    assert count_parameters(mlp) == (784 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in mlp.modules())


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_can_have_a_not_a_digit_class(arch, batch):
    assert build_model(arch, num_classes=11).eval()(batch).shape == (7, 11)


@pytest.mark.parametrize("arch, kwargs, expected", [
    ("lenet", {}, "Unknown architecture 'lenet'"),
    ("fast_cnn", {"depth": 2}, "takes no argument 'depth'"),
    ("fast_cnn", {"width": 6000}, "out of range"),
    ("fast_cnn", {"width": 0}, "out of range"),
    ("fast_cnn", {"width": 2.5}, "out of range"),
    ("fast_cnn", {"width": True}, "out of range"),
    ("fast_cnn", {"num_classes": 13}, "out of range"),
    ("classic_cnn", {"dropout1": 1.5}, "out of range"),
])
def test_build_model_checks_its_arguments(arch, kwargs, expected):
    with pytest.raises(ConfigError, match=expected):
        build_model(arch, **kwargs)
    assert count_parameters(build_model("classic_cnn")) == 1_199_882


def test_fast_cnn_is_much_smaller_than_classic_cnn():
    assert count_parameters(build_model("fast_cnn")) < count_parameters(ClassicCNN()) / 10


def test_count_parameters_skips_frozen_ones():
    model = build_model("fast_cnn")
    total = count_parameters(model)
    for p in model.classifier.parameters():
        p.requires_grad_(False)
    assert count_parameters(model) == total - (64 * 3 * 3 * 10 + 10)


def test_build_model_rejects_unknown_names_with_the_choices():
    with pytest.raises(ValueError, match="classic_cnn") as caught:
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
    assert rows[-1]["output shape"] == (1, 10)
    assert all(row["output shape"][0] == 1 for row in rows)
    assert sum(row["parameters"] for row in rows) == count_parameters(model)
    assert {"layer", "type", "output shape", "parameters"} <= set(rows[0])


def test_classic_cnn_layer_table_shapes():
    rows = {row["layer"]: row for row in layer_table(ClassicCNN())}
    assert rows["conv1"]["output shape"] == (1, 32, 26, 26)
    assert rows["conv2"]["output shape"] == (1, 64, 24, 24)
    assert rows["pool"]["output shape"] == (1, 64, 12, 12)
    assert rows["fc1"]["output shape"] == (1, 128)
    assert rows["fc1"]["parameters"] == 9216 * 128 + 128
    assert rows["fc2"]["output shape"] == (1, 10)


def test_place_model_uses_channels_last_on_cpu_and_gives_the_same_outputs(test_tensors):
    import copy

    from mnist_helpers.device import place_model

    torch.manual_seed(0)
    model = build_model("fast_cnn").eval()
    reference = copy.deepcopy(model)
    placed = place_model(model, "cpu")
    weight = placed.features[0][0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    batch = test_tensors.batch(slice(0, 32))[0]
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


def test_importing_the_package_does_not_load_the_flop_counters_triton() -> None:
    """``count_multiply_adds`` imports PyTorch's FLOP counter only when it counts: the counter
    loads Triton (about 90 MiB), which a process that only predicts must not hold."""
    code = "import sys, mnist_helpers; print('torch.utils.flop_counter' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
