"""Notebook 02's exercise checks: a right answer passes; the usual wrong answers fail, each with
the hint that leads to the fix."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnist_helpers import build_model
from mnist_helpers.exercises.ch02 import (
    check_conv2d,
    check_edge_filter,
    check_model,
    check_output_size,
    check_softmax,
)


def failed_with(capsys, hint: str) -> None:
    """The check printed ✗ and a hint containing ``hint``."""
    out = capsys.readouterr().out
    assert out.startswith("✗"), out
    assert hint in out, out


# --- softmax -------------------------------------------------------------------------------


def stable_softmax(z):
    e = torch.exp(z - z.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def test_a_stable_softmax_passes(capsys):
    assert check_softmax(stable_softmax) is True
    assert capsys.readouterr().out.startswith("✓ softmax")


@pytest.mark.parametrize("wrong, hint", [
    (lambda z: torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True), "Subtract each row's"),
    (lambda z: torch.exp(z) / torch.exp(z).sum(), "each row must add up to 1"),
    (lambda z: z / z.sum(dim=1, keepdim=True), "take the exponential of each logit"),
    (lambda z: torch.exp(z - z.max(dim=1, keepdim=True).values), "each row must add up to 1"),
    (lambda z: stable_softmax(z).sum(dim=1), "of the same shape"),
    (lambda z: stable_softmax(z).tolist(), "of the same shape"),
    (lambda z: torch.softmax(z, dim=0), "each row must add up to 1"),
    (lambda z: 1 / 0, "ZeroDivisionError"),
])
def test_the_usual_wrong_softmaxes_fail_with_their_hint(capsys, wrong, hint):
    assert check_softmax(wrong) is False
    failed_with(capsys, hint)


def not_written(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check", [check_softmax, check_output_size, check_conv2d])
def test_an_exercise_not_written_yet_says_so(capsys, check):
    assert check(not_written) is False
    failed_with(capsys, "not written yet: replace `raise NotImplementedError`")


def test_a_softmax_with_the_right_sums_but_wrong_values_fails(capsys):
    def squares(z):
        s = z ** 2
        return s / s.sum(dim=1, keepdim=True)
    assert check_softmax(squares) is False
    failed_with(capsys, "exp(logit) / sum of exp(logits)")


# --- the output-size rule ------------------------------------------------------------------


def test_the_rule_passes(capsys):
    assert check_output_size(lambda n, k, p=0, s=1: (n + 2 * p - k) // s + 1) is True
    assert capsys.readouterr().out.startswith("✓ the output-size rule")


@pytest.mark.parametrize("wrong, hint", [
    (lambda n, k, p=0, s=1: n - k, "fits size - k + 1 times"),
    (lambda n, k, p=0, s=1: (n + p - k) // s + 1, "grows by 2p"),
    (lambda n, k, p=0, s=1: (n + 2 * p - k + 1) // s, "divide first"),
    (lambda n, k, p=0, s=1: (n + 2 * p - k) / s + 1, "return a whole number"),
    (lambda n, k: n - k + 1, "takes size, kernel, padding, stride"),
])
def test_the_usual_wrong_rules_fail_with_their_hint(capsys, wrong, hint):
    assert check_output_size(wrong) is False
    failed_with(capsys, hint)


def test_a_wrong_rule_is_shown_on_the_setting_where_it_fails(capsys):
    check_output_size(lambda n, k, p=0, s=1: n - k + 1 + 2 * p)  # forgets the stride
    out = capsys.readouterr().out
    assert "stride=2" in out and "PyTorch gives" in out


# --- a convolution by hand -----------------------------------------------------------------


def loops(image, kernel):
    k = kernel.shape[0]
    rows, columns = image.shape[0] - k + 1, image.shape[1] - k + 1
    out = torch.zeros(rows, columns)
    for i in range(rows):
        for j in range(columns):
            out[i, j] = (image[i:i + k, j:j + k] * kernel).sum()
    return out


def test_a_convolution_by_loops_passes(capsys):
    assert check_conv2d(loops) is True
    assert capsys.readouterr().out.startswith("✓ your conv2d")


def test_a_convolution_returning_lists_passes(capsys):
    assert check_conv2d(lambda image, kernel: loops(image, kernel).tolist()) is True


@pytest.mark.parametrize("wrong, hint", [
    (lambda image, kernel: loops(image, kernel.flip(0, 1)), "you flipped the kernel"),
    (lambda image, kernel: F.conv2d(image[None, None], kernel[None, None], padding=1)[0, 0],
     "H − k + 1 rows"),
    (lambda image, kernel: loops(image, kernel.T), "the first row should be"),
    (lambda image, kernel: loops(image.T, kernel).T, "the first row should be"),
    (lambda image, kernel: loops(image, kernel) + 1, "the first row should be"),
    (lambda image, kernel: None, "return a tensor"),
    (lambda image: image, "raised TypeError"),
])
def test_the_usual_wrong_convolutions_fail_with_their_hint(capsys, wrong, hint):
    assert check_conv2d(wrong) is False
    failed_with(capsys, hint)


# --- an edge filter ------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [
    [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],  # Sobel
    [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],  # Prewitt
    [[0, -1, 0], [0, 1, 0], [0, 0, 0]],  # a difference of two neighbours
])
def test_horizontal_edge_filters_pass(capsys, kernel):
    assert check_edge_filter(torch.tensor(kernel, dtype=torch.float32)) is True
    assert capsys.readouterr().out.startswith("✓ horizontal-edge filter")


@pytest.mark.parametrize("kernel, hint", [
    ([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], "responds to a vertical edge"),  # the vertical one
    ([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], "negative weights in the top row"),  # upside down
    ([[-1, -1, -1], [2, 2, 2], [-1, -1, -1]], "negative weights in the top row"),  # a line
    ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], "add up to 0"),  # the identity
    ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], "add up to 0"),  # a blur
    ([[-1, -1, 0], [0, 0, 0], [1, 0, 1]], "every column"),
    ([[0] * 3] * 3, "responds to nothing"),
    ([[-1, 0, 1], [1, 0, -1]], "must be 3×3"),
    ([[float("nan")] * 3] * 3, "inf or nan"),
    ("edge", "as a 3×3 tensor"),
    (None, "not written yet"),
])
def test_what_is_not_a_horizontal_edge_filter_fails_with_its_hint(capsys, kernel, hint):
    assert check_edge_filter(kernel) is False
    failed_with(capsys, hint)


def test_the_edge_filter_check_agrees_with_a_real_edge_picture():
    """What the check calls a horizontal-edge filter lights up the top of a bar of ink and
    stays dark on the bar's sides."""
    image = torch.zeros(12, 12)
    image[4:8, 2:10] = 1.0  # a horizontal bar
    sobel = torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]])
    out = F.conv2d(image[None, None], sobel[None, None], padding=1)[0, 0]
    assert out[3, 5] > 0 and out[8, 5] < 0  # above the bar: dark to ink; below: ink to dark
    assert out[5, 1] == 0 and out[5, 10] == 0  # beside the bar: a vertical edge


# --- a network of your own -----------------------------------------------------------------


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(torch.flatten(x, 1))


class FlattensTheBatch(Small):
    """Reshapes to rows of 784 numbers: no error, but two rows an image."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(x.reshape(-1, 784))


class WrongLinearSize(Small):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8 * 28 * 28, 10)


class ReturnsProbabilities(Small):
    def forward(self, x):
        return torch.softmax(super().forward(x), dim=1)


class MixesTheBatch(Small):
    def forward(self, x):
        return super().forward(x - x.mean(dim=0, keepdim=True))


class NoForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)


class NotWritten(nn.Module):
    """The exercise's stub, untouched."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, x):
        raise NotImplementedError


class NoConvolution(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


class NoLayers(nn.Module):
    def forward(self, x):
        return x


def test_a_small_cnn_passes_and_keeps_its_training_mode(capsys):
    model = Small().train()
    assert check_model(model) is True
    assert model.training, "the check must give the model back in the mode it had"
    out = capsys.readouterr().out
    assert out.startswith("✓ your network: 5 images → (5, 10) logits")
    assert f"{sum(p.numel() for p in model.parameters()):,} parameters" in out


@pytest.mark.parametrize("arch", ["fast_cnn", "classic_cnn", "deep_cnn"])
def test_the_course_networks_pass(capsys, arch):
    assert check_model(build_model(arch)) is True


@pytest.mark.parametrize("model, hint", [
    (Small, "pass a network, Small()"),
    ("a network", "subclasses nn.Module"),
    (NoLayers(), "no parameters"),
    (NoConvolution(), "no nn.Conv2d"),
    (NoForward(), "define forward(self, x)"),
    (NotWritten(), "not written yet"),
    (WrongLinearSize(), "Print x.shape after each line of forward"),
    (FlattensTheBatch(), "keep the batch dimension first"),
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 12)),
     "must give 10 scores"),
    (ReturnsProbabilities(), "return the logits"),
    (MixesTheBatch(), "change with the other images"),
])
def test_the_usual_wrong_networks_fail_with_their_hint(capsys, model, hint):
    assert check_model(model) is False
    failed_with(capsys, hint)


def test_a_parameter_budget_is_enforced_only_when_given(capsys):
    assert check_model(Small(), max_parameters=20_000) is True
    capsys.readouterr()
    assert check_model(Small(), max_parameters=1_000) is False
    failed_with(capsys, "more than 1,000")


def test_a_failing_network_keeps_its_training_mode():
    model = WrongLinearSize().train()
    check_model(model)
    assert model.training
