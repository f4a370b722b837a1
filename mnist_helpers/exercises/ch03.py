"""Checks for notebook 03's exercises (training): the gradients of a squared error worked by
hand, the training loop, the real run's optimizer and schedule built with torch, and one step
of SGD with Nesterov momentum written out.

Every check runs what you wrote on inputs it makes itself (drawn with a fixed seed, without
touching your own random numbers) and compares the result with PyTorch (autograd,
``torch.optim.SGD``) or with the package's own code (:func:`mnist_helpers.loop.training_steps`,
``make_optimizer``, ``make_scheduler``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..data import MNISTTensors, TensorBatches
from ..loop import TrainingSetup, learning_rates, make_optimizer, make_scheduler, training_steps
from ..models import build_model
from ..profiles import Profile
from . import close, number, raised, verdict
from .ch03_nesterov import check_nesterov_step


#: The hint for a function whose body is still the exercise's ``raise NotImplementedError``.
@contextmanager
def _own_random_numbers(seed: int) -> Iterator[None]:
    """Draw from PyTorch's global generator with ``seed`` inside, and leave the learner's
    random numbers as they were afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# --- warm-up: gradients by hand -----------------------------------------------------------------


def _autograd(w: float, b: float, x: float, y: float) -> tuple[float, float]:
    """dL/dw and dL/db of L = (w·x + b − y)², as PyTorch's autograd computes them."""
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    dw, db = torch.autograd.grad((wt * x + bt - y) ** 2, (wt, bt))
    return float(dw), float(db)


def _gradient_hint(mine: tuple[float, float], right: tuple[float, float], x: float) -> str:
    """What a wrong pair of derivatives most likely got wrong."""
    (dw, db), (rw, rb) = mine, right
    if close(dw, rb) and close(db, rw):
        return "the two are swapped: return (dL/dw, dL/db), in that order"
    if close(-dw, rw) and close(-db, rb):
        return ("both have the wrong sign: the derivative of (w·x + b − y)² is positive "
                "when the prediction w·x + b is above y")
    if close(2 * db, rb) or (close(db, rb) and close(2 * dw, rw)):
        return "the derivative of u² is 2u: keep the 2"
    if close(db, rb * x):
        return "dL/db has a factor x too many: b is not multiplied by x"
    if close(dw * x, rw):
        return ("dL/dw misses a factor x (the chain rule: inside the square, w is multiplied "
                "by x)")
    which = "dL/dw" if not close(dw, rw) else "dL/db"
    return (f"{which} differs from autograd's: with u = w·x + b − y, dL/dw = 2u·x and "
            f"dL/db = 2u (autograd gives {rw:.4g} and {rb:.4g}, yours {dw:.4g} and {db:.4g})")


def check_gradients(gradients: Callable[[float, float, float, float], Any]) -> bool:
    """Does ``gradients(w, b, x, y)`` return ``(dL/dw, dL/db)`` of the squared error
    ``L = (w·x + b − y)²``, as autograd computes them, at a few points drawn at random?"""
    what = "dL/dw and dL/db by hand"
    generator = torch.Generator().manual_seed(3)
    points = (torch.rand(6, 4, generator=generator, dtype=torch.float64) * 6 - 3).tolist()
    points[0] = [0.5, 1.0, 3.0, -2.0]  # x = 3: a factor x and a factor 2 differ
    for w, b, x, y in points:
        try:
            result = gradients(w, b, x, y)
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, what, raised(error, f"gradients({w:.3g}, {b:.3g}, "
                                                       f"{x:.3g}, {y:.3g})"))
        dw, db = (number(v) for v in result) if (
            isinstance(result, tuple | list) and len(result) == 2) else (None, None)
        if dw is None or db is None:
            return verdict(False, what, f"return two numbers, (dL/dw, dL/db); got "
                           f"{type(result).__name__}")
        right = _autograd(w, b, x, y)
        if not (close(dw, right[0]) and close(db, right[1])):
            return verdict(False, what, _gradient_hint((dw, db), right, x))
    return verdict(True, f"{what}: equal to autograd's at {len(points)} points", "")


# --- core: the training loop --------------------------------------------------------------------

#: A run small enough to check in a moment: the real run's recipe (SGD with Nesterov momentum,
#: weight decay, one-cycle), for one epoch of a few batches, in float32 (no mixed precision).
CHECK_PROFILE = Profile(name="check", arch="fast_cnn", width=4, epochs=1, batch_size=16,
                        lr=0.1, channels_last=False, mixed_precision=False)


def _check_batches(device: torch.device, count: int = 6) -> TensorBatches:
    """``count`` batches of random 28×28 "images" and labels, the same at every pass: the check
    is about the arithmetic of the loop, which is the same on any numbers."""
    generator = torch.Generator().manual_seed(0)
    size = count * CHECK_PROFILE.batch_size
    images = MNISTTensors(torch.randint(0, 256, (size, 28, 28), generator=generator,
                                        dtype=torch.uint8),
                          torch.randint(0, 10, (size,), generator=generator))
    return TensorBatches(images.to(device), CHECK_PROFILE.batch_size)


@dataclass
class _Spy:
    """What the learner's loop did, seen from the outside: the calls it made and, at every
    optimizer step, the learning rate and whether any gradient was there to use."""

    forwards_in_eval: int = 0
    forwards: int = 0
    zero_grads: int = 0
    scheduler_steps: int = 0
    step_rates: list[float] = field(default_factory=list)
    steps_without_gradients: int = 0

    def watch(self, model: nn.Module, optimizer: torch.optim.Optimizer,
              scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
        """Count ``model``'s forward passes and the optimizer's and scheduler's calls."""
        def on_forward(module: nn.Module, _inputs: object) -> None:
            self.forwards += 1
            self.forwards_in_eval += not module.training

        model.register_forward_pre_hook(on_forward)
        step, zero_grad, schedule = optimizer.step, optimizer.zero_grad, scheduler.step

        def counted_step(*args: Any, **kwargs: Any) -> Any:
            self.step_rates.append(optimizer.param_groups[0]["lr"])
            grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
            self.steps_without_gradients += all(g is None or not g.any() for g in grads)
            return step(*args, **kwargs)

        def counted_zero_grad(*args: Any, **kwargs: Any) -> Any:
            self.zero_grads += 1
            return zero_grad(*args, **kwargs)

        def counted_schedule(*args: Any, **kwargs: Any) -> Any:
            self.scheduler_steps += 1
            return schedule(*args, **kwargs)

        optimizer.step = counted_step  # type: ignore[method-assign]
        optimizer.zero_grad = counted_zero_grad  # type: ignore[method-assign]
        scheduler.step = counted_schedule  # type: ignore[method-assign]


def _same_weights(a: nn.Module, b: nn.Module, exact: bool) -> bool:
    """Whether two models hold (nearly) the same weights and batch-norm statistics: to float32
    rounding (``exact``, on a CPU), or to the looser agreement of a GPU, whose convolutions
    may add up in another order from run to run."""
    sa, sb = a.state_dict(), b.state_dict()
    rtol, atol = (1e-4, 1e-6) if exact else (1e-3, 1e-5)
    return all(torch.allclose(sa[k].double(), sb[k].double(), rtol=rtol, atol=atol)
               for k in sa if sa[k].is_floating_point())


def _loop_hint(spy: _Spy, batches: int, planned: list[float], moved: bool) -> str:
    """What a loop whose weights differ from the package's most likely got wrong."""
    if spy.forwards == 0:
        return "the model never ran: call model(images) for every batch"
    if not spy.step_rates:
        return ("no optimizer step was taken: after loss.backward(), call optimizer.step() "
                "(it changes the weights)")
    if len(spy.step_rates) != batches:
        return (f"{len(spy.step_rates)} optimizer steps for {batches} batches: one epoch "
                "takes exactly one optimizer.step() per batch")
    if spy.forwards_in_eval:
        return ("the model ran in evaluation mode: call model.train() before the loop, so that "
                "batch norm uses each batch's own statistics while training")
    if spy.steps_without_gradients == batches or not moved:
        return ("the steps found no gradients: call optimizer.zero_grad() before "
                "loss.backward(), not between backward() and step()")
    if spy.zero_grads < batches:
        return ("clear the gradients every batch (optimizer.zero_grad() before "
                "loss.backward()): otherwise each batch's gradients add to the previous ones'")
    if spy.scheduler_steps != batches:
        return (f"the schedule was stepped {spy.scheduler_steps} time(s) for {batches} "
                "batches: call scheduler.step() once per batch, after optimizer.step()")
    if not all(close(a, b) for a, b in zip(spy.step_rates, planned, strict=True)):
        return ("the steps used other learning rates than the schedule plans: call "
                "scheduler.step() after optimizer.step(), so the first batch uses the "
                "schedule's first rate")
    return ("the calls are right but the weights differ: the loss should be "
            "F.cross_entropy(model(images), labels), on the raw scores (it applies softmax "
            "itself), for the whole batch")


def check_training_loop(train_one_epoch: Callable[..., Any],
                        device: torch.device | str = "cpu") -> bool:
    """Does ``train_one_epoch(model, batches, optimizer, scheduler)`` change a small
    ``fast_cnn``'s weights exactly as the package's loop (``training_steps``) does, over one
    epoch of a few batches, with the real run's optimizer and schedule?"""
    what = "your training loop"
    device = torch.device(device)
    batches = _check_batches(device)
    with _own_random_numbers(0):
        start = build_model(CHECK_PROFILE.arch, **CHECK_PROFILE.model_kwargs()).to(device).eval()
        reference = copy.deepcopy(start)
        setup = TrainingSetup.create(reference, CHECK_PROFILE, len(batches), device)
        for _ in training_steps(reference, batches, setup, epochs=[1], device=device):
            pass
        mine = copy.deepcopy(start)
        optimizer = make_optimizer(CHECK_PROFILE, mine.parameters())
        scheduler = make_scheduler(CHECK_PROFILE, optimizer, len(batches))
        spy = _Spy()
        spy.watch(mine, optimizer, scheduler)
        try:
            with warnings.catch_warnings():  # a schedule stepped first: the hint says so
                warnings.simplefilter("ignore")
                train_one_epoch(mine, batches, optimizer, scheduler)
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            if len(spy.step_rates) > len(batches):  # OneCycleLR refuses to go on: say why
                planned = learning_rates(CHECK_PROFILE, len(batches))
                return verdict(False, what, _loop_hint(spy, len(batches), planned, True))
            return verdict(False, what, raised(error))
    if _same_weights(mine, reference, exact=device.type == "cpu"):
        return verdict(True, f"{what}: the same weights as the package's loop after "
                       f"{len(batches)} steps", "")
    moved = any(not torch.equal(p, q) for p, q in zip(mine.parameters(), start.parameters(),
                                                      strict=True))
    planned = learning_rates(CHECK_PROFILE, len(batches))
    return verdict(False, what, _loop_hint(spy, len(batches), planned, moved))


# --- core: the real run's optimizer and schedule ------------------------------------------------


def _planned_rates(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int
                   ) -> tuple[list[float], list[float]]:
    """The learning rate and momentum of each of ``steps`` steps, read from a copy of
    ``scheduler`` (and of its optimizer), so the learner's own is left as it was."""
    planner = copy.deepcopy(scheduler)
    group = planner.optimizer.param_groups[0]
    rates, momenta = [], []
    with warnings.catch_warnings():  # no optimizer.step() here: nothing to learn
        warnings.simplefilter("ignore")
        for _ in range(steps):
            rates.append(group["lr"])
            momenta.append(group.get("momentum", 0.0))
            planner.step()
    return rates, momenta


#: The optimizer settings compared, each with what to do when it differs.
_SETTINGS = {
    "momentum": "momentum=profile.momentum",
    "nesterov": "nesterov=True (Nesterov momentum)",
    "weight_decay": "weight_decay=profile.weight_decay",
    "dampening": "leave dampening at 0",
    "rho": "leave rho at its default",
    "eps": "leave eps at its default",
}


def _optimizer_problem(optimizer: Any, reference: torch.optim.Optimizer) -> str | None:
    """Whether the learner's optimizer is of another kind than the package's (None: same)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        return f"optimizer must be a torch.optim optimizer, not {type(optimizer).__name__}"
    if type(optimizer) is not type(reference):
        return (f"the run uses torch.optim.{type(reference).__name__}, not "
                f"{type(optimizer).__name__}")
    return None


def _settings_problem(optimizer: torch.optim.Optimizer, reference: torch.optim.Optimizer
                      ) -> str | None:
    """Which of the optimizer's settings differs from the run's (None: none)."""
    mine, theirs = optimizer.param_groups[0], reference.param_groups[0]
    for key, fix in _SETTINGS.items():
        if key in theirs and mine.get(key) != theirs[key]:
            return f"{key} is {mine.get(key)!r}, the run's is {theirs[key]!r}: {fix}"
    return None


def _first_difference(mine: list[float], planned: list[float]) -> str:
    """The first step at which two plans of learning rates differ, in words."""
    at = next(i for i, (a, b) in enumerate(zip(mine, planned, strict=True)) if not close(a, b))
    return f"at step {at + 1} the rate is {mine[at]:.4g}, the run's {planned[at]:.4g}"


def _schedule_problem(mine: list[float], momenta: list[float], planned: list[float],
                      momentum: float, one_cycle: bool) -> str | None:
    """What differs between the learner's planned learning rates (and momenta) and the run's."""
    if all(close(a, b) for a, b in zip(mine, planned, strict=True)):
        if any(not close(m, momentum) for m in momenta):
            return ("the learning rates are right, but the schedule also changes the "
                    "momentum: the run keeps it fixed")
        return None
    if not one_cycle:
        return (f"{_first_difference(mine, planned)}: start from the optimizer's "
                "lr=profile.lr")
    peak, planned_peak = max(mine), max(planned)
    if not close(peak, planned_peak):
        return f"the peak learning rate is {peak:.4g}, the run's {planned_peak:.4g}: max_lr"
    if not close(mine[0], planned[0]):
        return (f"the first step's rate is {mine[0]:.4g}, the run's {planned[0]:.4g} (the peak "
                "divided by 25): leave div_factor at its default")
    if mine.index(peak) != planned.index(planned_peak):
        return (f"the peak comes at step {mine.index(peak) + 1}, the run's at step "
                f"{planned.index(planned_peak) + 1}: warm up over the first 25% of the steps "
                "(pct_start=0.25)")
    return (f"{_first_difference(mine, planned)}, on the way down: leave anneal_strategy "
            "('cos') and final_div_factor at their defaults")


def _scheduler_problem(scheduler: Any, optimizer: torch.optim.Optimizer,
                       reference: torch.optim.lr_scheduler.LRScheduler, total: int) -> str | None:
    """What is wrong with the learner's schedule before any step is planned (None: nothing)."""
    if not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        return (f"scheduler must be a torch.optim.lr_scheduler schedule, not "
                f"{type(scheduler).__name__}")
    if type(scheduler) is not type(reference):
        return (f"the run's schedule is torch.optim.lr_scheduler.{type(reference).__name__}, "
                f"not {type(scheduler).__name__}")
    if scheduler.optimizer is not optimizer:
        return "the schedule must drive this optimizer: pass it as the schedule's first argument"
    if scheduler.last_epoch != 0:
        return "the schedule has been stepped already: make a fresh one"
    if getattr(scheduler, "cycle_momentum", False):
        return ("the schedule also changes the momentum (OneCycleLR does by default): the run "
                "keeps it fixed, cycle_momentum=False")
    step_lr = torch.optim.lr_scheduler.StepLR
    if isinstance(reference, step_lr) and isinstance(scheduler, step_lr):
        if scheduler.step_size != reference.step_size:
            return (f"step_size is {scheduler.step_size}: the run multiplies the rate by "
                    f"{reference.gamma} once per epoch, and the schedule is stepped after every "
                    f"batch, so step_size is the batches in an epoch, {reference.step_size}")
        if not close(scheduler.gamma, reference.gamma):
            return f"gamma is {scheduler.gamma}, the run's {reference.gamma}"
    steps = getattr(scheduler, "total_steps", total)
    if steps != total:
        return (f"total_steps is {steps}; the run's schedule spans all of its steps, "
                f"epochs × steps_per_epoch = {total:,}")
    return None


def check_optimizer_and_schedule(optimizer: Any, scheduler: Any, profile: Profile,
                                 steps_per_epoch: int) -> bool:
    """Are ``optimizer`` and ``scheduler`` (made with torch for a run of ``profile`` with
    ``steps_per_epoch`` batches an epoch) what the package makes for that run: the same
    optimizer settings, and the same learning rate at every step?"""
    what = f"the optimizer and schedule of the {profile.name!r} run"
    if optimizer is None and scheduler is None:
        return verdict(False, what, "not written yet: make the optimizer and the schedule "
                       "(both are still None), run that cell, then this one")
    reference = make_optimizer(profile, [nn.Parameter(torch.zeros(1))])
    planned = learning_rates(profile, steps_per_epoch)
    problem = (_optimizer_problem(optimizer, reference)
               or _scheduler_problem(scheduler, optimizer,
                                     make_scheduler(profile, reference, steps_per_epoch),
                                     len(planned))
               or _settings_problem(optimizer, reference))
    if problem is None:
        try:
            mine, momenta = _planned_rates(scheduler, len(planned))
        except ValueError as error:  # OneCycleLR refuses a step past its total_steps
            return verdict(False, what, f"stepping it {len(planned)} times raised "
                           f"ValueError ({' '.join(str(error).split())[:90]}): the schedule "
                           "must span the whole run, epochs × steps_per_epoch")
        problem = _schedule_problem(
            mine, momenta, planned, reference.param_groups[0].get("momentum", 0.0),
            isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR))
    if problem is not None:
        return verdict(False, what, problem)
    return verdict(True, f"{what}: the package's settings, and the same rate at all "
                   f"{len(planned):,} steps", "")


__all__ = ["check_gradients", "check_nesterov_step", "check_optimizer_and_schedule",
           "check_training_loop"]
