"""Notebook 03's exercise checks: a right answer passes; the usual wrong answers fail, each with
the hint that leads to the fix."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mnist_helpers import PROFILES
from mnist_helpers.exercises import NOT_WRITTEN
from mnist_helpers.exercises.ch03 import (
    check_gradients,
    check_nesterov_step,
    check_optimizer_and_schedule,
    check_training_loop,
)
from mnist_helpers.loop import make_optimizer, make_scheduler
from mnist_helpers.models import build_model


def passed(capsys) -> str:
    out = capsys.readouterr().out
    assert out.startswith("✓") and "hint" not in out, out
    return out


def failed_with(capsys, hint: str) -> None:
    """The check printed ✗ and a hint containing ``hint``."""
    out = capsys.readouterr().out
    assert out.startswith("✗"), out
    assert hint in out, out


def not_written(*_args):
    raise NotImplementedError


# --- gradients by hand ---------------------------------------------------------------------


def gradients_right(w, b, x, y):
    u = w * x + b - y
    return 2 * u * x, 2 * u


def test_the_right_gradients_pass(capsys):
    assert check_gradients(gradients_right) is True
    assert "equal to autograd's" in passed(capsys)


def test_gradients_returned_as_tensors_pass(capsys):
    assert check_gradients(lambda w, b, x, y: tuple(
        torch.tensor(v) for v in gradients_right(w, b, x, y))) is True
    passed(capsys)


@pytest.mark.parametrize("wrong, hint", [
    (lambda w, b, x, y: gradients_right(w, b, x, y)[::-1], "swapped"),
    (lambda w, b, x, y: (w * x + b - y, w * x + b - y), "keep the 2"),
    (lambda w, b, x, y: ((w * x + b - y) * x, w * x + b - y), "keep the 2"),
    (lambda w, b, x, y: tuple(-v for v in gradients_right(w, b, x, y)), "wrong sign"),
    (lambda w, b, x, y: (2 * (w * x + b - y), 2 * (w * x + b - y)), "misses a factor x"),
    (lambda w, b, x, y: (2 * (w * x + b - y) * x,) * 2, "a factor x too many"),
    (lambda w, b, x, y: (2 * (w * x - y) * x, 2 * (w * x - y)), "differs from autograd's"),
    (lambda w, b, x, y: 2 * (w * x + b - y), "return two numbers"),
    (lambda w, b, x, y: ("dw", "db"), "return two numbers"),
    (lambda w, b, x, y: 1 / 0, "raised ZeroDivisionError"),
    (not_written, NOT_WRITTEN),
])
def test_the_usual_wrong_gradients_fail_with_their_hint(capsys, wrong, hint):
    assert check_gradients(wrong) is False
    failed_with(capsys, hint)


# --- the training loop ---------------------------------------------------------------------


def loop_right(model, batches, optimizer, scheduler):
    model.train()
    for images, labels in batches:
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def loop_clears_at_the_end(model, batches, optimizer, scheduler):
    model.train()
    for images, labels in batches:
        logits = model(images.to("cpu"))
        F.nll_loss(F.log_softmax(logits, dim=1), labels).backward()
        optimizer.step()
        scheduler.step()
        model.zero_grad()


@pytest.mark.parametrize("loop", [loop_right, loop_clears_at_the_end])
def test_a_right_loop_passes(capsys, loop):
    assert check_training_loop(loop) is True
    assert "the same weights as the package's loop" in passed(capsys)


def test_the_check_leaves_the_learners_random_numbers_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_training_loop(loop_right)
    assert torch.equal(torch.rand(3), expected)
    passed(capsys)


def loop_without(skip: str, *, softmax: bool = False, epochs: int = 1, early_schedule=False):
    """The right loop with one thing left out or done wrong."""
    def loop(model, batches, optimizer, scheduler):
        if skip != "train":
            model.train()
        for _ in range(epochs):
            for images, labels in batches:
                if skip == "forward":
                    continue
                logits = model(images)
                loss = F.cross_entropy(logits.softmax(1) if softmax else logits, labels)
                if skip not in ("zero_grad", "zero_grad_late"):
                    optimizer.zero_grad()
                loss.backward()
                if skip == "zero_grad_late":
                    optimizer.zero_grad()
                if early_schedule:
                    scheduler.step()
                if skip != "step":
                    optimizer.step()
                if skip != "schedule" and not early_schedule:
                    scheduler.step()
    return loop


@pytest.mark.parametrize("wrong, hint", [
    (loop_without("train"), "call model.train() before the loop"),
    (loop_without("zero_grad"), "clear the gradients every batch"),
    (loop_without("zero_grad_late"), "not between backward() and step()"),
    (loop_without("schedule"), "the schedule was stepped 0 time(s) for 6 batches"),
    (loop_without("", early_schedule=True), "call scheduler.step() after optimizer.step()"),
    (loop_without("step"), "no optimizer step was taken"),
    (loop_without("forward"), "the model never ran"),
    (loop_without("", softmax=True), "on the raw scores"),
    (loop_without("", epochs=2), "optimizer steps for 6 batches: one epoch"),
    (lambda model, batches, optimizer: None, "raised TypeError"),
    (not_written, NOT_WRITTEN),
])
def test_the_usual_wrong_loops_fail_with_their_hint(capsys, wrong, hint):
    assert check_training_loop(wrong) is False
    failed_with(capsys, hint)


# --- the optimizer and schedule of a run ---------------------------------------------------

BEST = PROFILES["best"]
STEPS = 215  # batches of 256 in 55,000 images


def made_with_torch(**changes):
    """The run's optimizer and schedule built with torch, with ``changes`` to their arguments
    (``optimizer`` and ``scheduler`` replace the classes)."""
    model = build_model("fast_cnn")
    sgd = {"lr": BEST.lr, "momentum": BEST.momentum, "nesterov": True,
           "weight_decay": BEST.weight_decay}
    cycle = {"max_lr": BEST.lr, "total_steps": BEST.epochs * STEPS, "pct_start": 0.25,
             "cycle_momentum": False}
    for key, value in changes.items():
        (sgd if key in sgd or key == "dampening" else cycle)[key] = value
    optimizer = torch.optim.SGD(model.parameters(), **sgd)
    return optimizer, torch.optim.lr_scheduler.OneCycleLR(optimizer, **cycle)


def test_the_optimizer_and_schedule_built_with_torch_pass(capsys):
    optimizer, scheduler = made_with_torch()
    assert check_optimizer_and_schedule(optimizer, scheduler, BEST, STEPS) is True
    assert "the same rate at all 6,020 steps" in passed(capsys)
    assert scheduler.last_epoch == 0
    assert optimizer.param_groups[0]["lr"] == pytest.approx(BEST.lr / 25)


def test_the_packages_own_pass(capsys):
    optimizer = make_optimizer(BEST, build_model("fast_cnn").parameters())
    scheduler = make_scheduler(BEST, optimizer, STEPS)
    assert check_optimizer_and_schedule(optimizer, scheduler, BEST, STEPS) is True
    passed(capsys)


@pytest.mark.parametrize("changes, hint", [
    ({"nesterov": False}, "nesterov=True"),
    ({"weight_decay": 0.0}, "weight_decay=profile.weight_decay"),
    ({"momentum": 0.5}, "momentum=profile.momentum"),
    ({"dampening": 0.1, "nesterov": False}, "nesterov"),
    ({"cycle_momentum": True}, "cycle_momentum=False"),
    ({"total_steps": STEPS}, "epochs × steps_per_epoch = 6,020"),
    ({"total_steps": BEST.epochs * STEPS * 2}, "total_steps is 12040"),
    ({"max_lr": 0.1}, "the peak learning rate is 0.1"),
    ({"pct_start": 0.3}, "pct_start=0.25"),
    ({"div_factor": 10.0}, "div_factor"),
    ({"anneal_strategy": "linear"}, "anneal_strategy"),
])
def test_the_usual_wrong_settings_fail_with_their_hint(capsys, changes, hint):
    optimizer, scheduler = made_with_torch(**changes)
    assert check_optimizer_and_schedule(optimizer, scheduler, BEST, STEPS) is False
    failed_with(capsys, hint)


def test_another_optimizer_or_schedule_fails(capsys):
    model = build_model("fast_cnn")
    adam = torch.optim.Adam(model.parameters(), lr=BEST.lr)
    assert check_optimizer_and_schedule(
        adam, torch.optim.lr_scheduler.StepLR(adam, 10), BEST, STEPS) is False
    failed_with(capsys, "the run uses torch.optim.SGD, not Adam")
    optimizer, _ = made_with_torch()
    step = torch.optim.lr_scheduler.StepLR(optimizer, STEPS, gamma=0.7)
    assert check_optimizer_and_schedule(optimizer, step, BEST, STEPS) is False
    failed_with(capsys, "the run's schedule is torch.optim.lr_scheduler.OneCycleLR")
    assert check_optimizer_and_schedule(optimizer, None, BEST, STEPS) is False
    failed_with(capsys, "not NoneType")
    assert check_optimizer_and_schedule(None, None, BEST, STEPS) is False
    failed_with(capsys, "not written yet: make the optimizer and the schedule")


def test_a_schedule_already_stepped_or_of_another_optimizer_fails(capsys):
    optimizer, scheduler = made_with_torch()
    other, _ = made_with_torch()
    assert check_optimizer_and_schedule(other, scheduler, BEST, STEPS) is False
    failed_with(capsys, "must drive this optimizer")
    optimizer.step()
    scheduler.step()
    assert check_optimizer_and_schedule(optimizer, scheduler, BEST, STEPS) is False
    failed_with(capsys, "stepped already")


# --- SGD with Nesterov momentum, by hand ---------------------------------------------------


def nesterov_right(w, grad, velocity, lr, momentum, weight_decay):
    g = grad + weight_decay * w
    velocity = momentum * velocity + g
    return w - lr * (g + momentum * velocity), velocity


def test_the_right_step_passes(capsys):
    assert check_nesterov_step(nesterov_right) is True
    assert "the same weights as torch.optim.SGD after 3 steps" in passed(capsys)


def plain_momentum(w, grad, velocity, lr, momentum, weight_decay):
    velocity = momentum * velocity + grad + weight_decay * w
    return w - lr * velocity, velocity


@pytest.mark.parametrize("wrong, hint", [
    (plain_momentum, "that is plain momentum"),
    (lambda w, g, v, lr, m, wd: nesterov_right(w, g, v, lr, m, 0.0), "weight decay is missing"),
    (lambda w, g, v, lr, m, wd: (nesterov_right(w, g, v * 0, lr, m, wd)[0], v * 0),
     "velocity is not kept"),
    (lambda w, g, v, lr, m, wd: (2 * w - nesterov_right(w, g, v, lr, m, wd)[0],
                                 nesterov_right(w, g, v, lr, m, wd)[1]), "goes up the gradient"),
    (lambda w, g, v, lr, m, wd: (w - lr * (g + m * v), m * v + g), "after step 1"),
    (lambda w, g, v, lr, m, wd: nesterov_right(w, g, v, lr, m, wd)[0], "return two tensors"),
    (lambda w, g, v, lr, m, wd: (w[:2], v), "w's shape"),
    (not_written, NOT_WRITTEN),
])
def test_the_usual_wrong_steps_fail_with_their_hint(capsys, wrong, hint):
    assert check_nesterov_step(wrong) is False
    failed_with(capsys, hint)


# --- the recipe of PyTorch's MNIST example: Adadelta and a step per epoch ----------------------

CLASSIC = PROFILES["default"].with_overrides(
    name="classic", arch="classic_cnn", optimizer="adadelta", lr=1.0, schedule="steplr",
    batch_size=64, epochs=6, weight_decay=0.0)
CLASSIC_STEPS = 860  # batches of 64 in 55,000 images


def classic_with_torch(lr=1.0, step_size=CLASSIC_STEPS, gamma=0.7, weight_decay=0.0):
    optimizer = torch.optim.Adadelta(build_model("fast_cnn").parameters(), lr=lr,
                                     weight_decay=weight_decay)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size,
                                                      gamma=gamma)


def test_the_classic_recipe_built_with_torch_passes(capsys):
    assert check_optimizer_and_schedule(*classic_with_torch(), CLASSIC, CLASSIC_STEPS) is True
    assert "the same rate at all 5,160 steps" in passed(capsys)


@pytest.mark.parametrize("changes, hint", [
    ({"step_size": 1}, "step_size is 1: the run multiplies the rate by 0.7 once per epoch"),
    ({"gamma": 0.5}, "gamma is 0.5, the run's 0.7"),
    ({"lr": 0.1}, "at step 1 the rate is 0.1, the run's 1: start from the optimizer's"),
    ({"weight_decay": 5e-4}, "weight_decay is 0.0005, the run's is 0.0"),
])
def test_a_wrong_classic_recipe_fails_with_its_hint(capsys, changes, hint):
    assert check_optimizer_and_schedule(*classic_with_torch(**changes), CLASSIC,
                                        CLASSIC_STEPS) is False
    failed_with(capsys, hint)


def test_sgd_for_the_classic_recipe_fails(capsys):
    optimizer, scheduler = made_with_torch()
    assert check_optimizer_and_schedule(optimizer, scheduler, CLASSIC, CLASSIC_STEPS) is False
    failed_with(capsys, "the run uses torch.optim.Adadelta, not SGD")
