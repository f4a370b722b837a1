"""``fit`` trains any network: a learner's own ``nn.Module`` is trained on real MNIST, saved,
loaded back into a fresh instance and resumed exactly; a network that cannot be trained is
refused in one line before any work; and a checkpoint records the network it really holds,
so loading never builds the wrong one."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from test_train import InterruptingBatches, same_weights, tiny_profile
from torch import nn

from mnist_helpers import (
    CheckpointError,
    ConfigError,
    TensorBatches,
    build_model,
    evaluate,
    fit,
    get_profile,
    load_checkpoint,
    seed_everything,
)
from mnist_helpers.checkpoint import architecture_of, read_checkpoint
from mnist_helpers.train import check_resume


@pytest.fixture(scope="module")
def smaller_train(train_tensors):
    return train_tensors.subset(slice(1000, 1500))


class MyNet(nn.Module):
    """A small CNN as a learner writes one: convolution, batch norm, pooling, dropout (so
    training draws random numbers), then a linear layer to ten scores."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, channels, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(channels)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(channels * 14 * 14, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(self.drop(torch.flatten(x, 1)))


class OtherNet(MyNet):
    """Another learner's class, with the same weights' names and shapes."""


def train_my_net(train, val, path=None, *, epochs: int = 1, **kwargs):
    seed_everything(0)
    model = MyNet()
    history = fit(model, train, val, tiny_profile(epochs=epochs), device="cpu",
                  checkpoint_path=path, verbose=False, **kwargs)
    return model, history


def test_a_learners_own_network_trains_saves_and_loads_back(small_train, small_val,
                                                            test_tensors, tmp_path):
    val = TensorBatches(small_val, 250)
    path = tmp_path / "my_net.pt"
    model, history = train_my_net(TensorBatches(small_train, 50, shuffle=True), val, path)
    assert history.val_accuracy[0] > 0.5, "twenty steps on real digits teach it something"

    with pytest.raises(CheckpointError) as caught:  # the file names a class, never code
        load_checkpoint(path)
    message = str(caught.value)
    assert "\n" not in message and "load_checkpoint(path, model=MyNet())" in message
    assert read_checkpoint(path)["model_class"] == "MyNet"

    loaded, info = load_checkpoint(path, model=MyNet())
    assert (info.arch, info.model_class, info.epochs, info.num_classes) == (None, "MyNet", 1, 10)
    assert info.val_accuracy == history.best_val_accuracy
    images = test_tensors.batch(slice(0, 200))[0]
    with torch.no_grad():
        assert torch.equal(loaded(images), model.eval()(images))
    assert evaluate(loaded, val).accuracy == history.best_val_accuracy


def test_loading_into_the_wrong_network_is_refused_in_one_line(small_train, small_val,
                                                               tmp_path):
    path = tmp_path / "my_net.pt"
    train_my_net(TensorBatches(small_train.subset(slice(0, 100)), 50),
                 TensorBatches(small_val, 250), path)
    for model, expected in ((OtherNet(), "holds a MyNet, not a OtherNet: pass a fresh MyNet()"),
                            (build_model("fast_cnn"), "holds a MyNet, not a FastCNN")):
        with pytest.raises(CheckpointError, match=expected) as caught:
            load_checkpoint(path, model=model)
        assert "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="do not fit this MyNet: .*size mismatch") as caught:
        load_checkpoint(path, model=MyNet(channels=4))  # same class, other shapes
    assert "\n" not in str(caught.value)
    with pytest.raises(TypeError, match="model is the class MyNet, not a network: pass MyNet()"):
        load_checkpoint(path, model=MyNet)


class FiveScores(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


class ScoresAndFeatures(FiveScores):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fc(x.flatten(1)), x


class NoWeights(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(len(x), 10)


@pytest.mark.parametrize(("model", "error", "expected"), [
    pytest.param(MyNet, TypeError, r"model is the class MyNet, not a network: pass MyNet\(\)",
                 id="the class, not a network"),
    pytest.param(MyNet().state_dict(), TypeError, "model must be a network .*OrderedDict",
                 id="its weights"),
    pytest.param(nn.Linear(784, 10), ConfigError,
                 r"cannot be multiplied .*; flatten the images before a Linear layer",
                 id="images not flattened"),
    pytest.param(FiveScores(), ConfigError,
                 r"shape \(2, 5\) for 2 images; training needs 2×10.*nn.Linear\(\.\.\., 10\)",
                 id="five scores"),
    pytest.param(ScoresAndFeatures(), ConfigError, "returns a tuple, not a tensor of scores",
                 id="a tuple"),
    pytest.param(NoWeights(), ConfigError, "no weights to learn", id="no weights"),
])
def test_a_network_that_cannot_be_trained_is_refused_before_any_work(
        small_train, small_val, tmp_path, model, error, expected):
    path = tmp_path / "never.pt"
    with pytest.raises(error, match=expected) as caught:
        fit(model, TensorBatches(small_train, 50), TensorBatches(small_val, 250), tiny_profile(),
            device="cpu", checkpoint_path=path, verbose=False)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_profile_with_non_digits_needs_twelve_scores(small_train, small_val):
    with pytest.raises(ConfigError, match="training needs 2×12"):
        fit(MyNet(), TensorBatches(small_train, 50), TensorBatches(small_val, 250),
            tiny_profile(nondigits=100), device="cpu", verbose=False)


def test_an_interrupted_run_of_ones_own_network_resumes_exactly(smaller_train, small_val,
                                                                tmp_path):
    """With dropout, every step draws random numbers: the resumed run draws the same ones."""
    val = TensorBatches(small_val, 250)
    straight, _ = train_my_net(TensorBatches(smaller_train, 50, shuffle=True), val, epochs=2)

    seed_everything(0)
    model = MyNet()
    first = tmp_path / "first.pt"
    train = InterruptingBatches(TensorBatches(smaller_train, 50, shuffle=True), model,
                                epoch=2, at=3)
    history = fit(model, train, val, tiny_profile(epochs=2), device="cpu",
                  checkpoint_path=first, verbose=False)
    assert history.stopped and history.epoch == [1]

    resumed = MyNet()
    second = tmp_path / "second.pt"
    history = fit(resumed, TensorBatches(smaller_train, 50, shuffle=True), val,
                  tiny_profile(epochs=2), device="cpu", checkpoint_path=second,
                  resume_from=first, verbose=False)
    assert history.epoch == [1, 2] and not history.stopped
    assert same_weights(resumed.state_dict(), straight.state_dict())
    loaded, _ = load_checkpoint(second, model=MyNet())
    assert same_weights(loaded.state_dict(), straight.state_dict())


def test_resuming_ones_own_run_with_another_network_is_refused(smaller_train, small_val,
                                                               tmp_path):
    path = tmp_path / "first.pt"
    train_my_net(TensorBatches(smaller_train, 50), TensorBatches(small_val, 250), path)
    with pytest.raises(CheckpointError, match="trained a MyNet, not a OtherNet: resume it with "
                                              r"a fresh MyNet\(\)") as caught:
        fit(OtherNet(), TensorBatches(smaller_train, 50), TensorBatches(small_val, 250),
            tiny_profile(), device="cpu", resume_from=path, verbose=False)
    assert "\n" not in str(caught.value)
    # The command line builds the profile's network: it says where such a run resumes.
    with pytest.raises(CheckpointError, match=r"resume it in Python, fit\(MyNet\(\), "):
        check_resume(path, tiny_profile(), 0)


@pytest.mark.parametrize(("arch", "kwargs"), [("tiny_cnn", {"border": 0}),
                                              ("fast_cnn", {"width": 8})])
def test_a_registered_network_built_otherwise_than_the_profile_says_is_not_rebuilt_wrongly(
        small_train, small_val, test_tensors, tmp_path, arch, kwargs):
    """A tiny_cnn that crops no border has the weights' shapes of one that crops two pixels,
    but computes something else: the file must not claim it is the profile's network."""
    seed_everything(0)
    model = build_model(arch, **kwargs)
    path = tmp_path / "m.pt"
    fit(model, TensorBatches(small_train.subset(slice(0, 200)), 50),
        TensorBatches(small_val, 250), tiny_profile(), device="cpu", checkpoint_path=path,
        verbose=False)
    with pytest.raises(CheckpointError, match="a network of your own"):
        load_checkpoint(path)
    loaded, info = load_checkpoint(path, model=build_model(arch, **kwargs))
    assert info.arch is None and info.model_class == type(model).__name__
    images = test_tensors.batch(slice(0, 50))[0]
    with torch.no_grad():
        assert torch.equal(loaded(images), model.eval()(images))


def test_architecture_of_names_a_network_only_when_rebuilding_it_computes_the_same():
    robust = get_profile("robust")
    seed_everything(0)
    deep = build_model(robust.arch, **robust.model_kwargs())
    before = torch.get_rng_state()
    assert architecture_of(deep, robust.model_kwargs()) == ("deep_cnn",
                                                            {"width": 24, "num_classes": 12})
    assert torch.equal(torch.get_rng_state(), before), "the run's random numbers are untouched"
    assert architecture_of(build_model("tiny_cnn"), {"width": 4}) == (None, {})
    assert architecture_of(build_model("tiny_cnn", border=0), {}) == (None, {})
    assert architecture_of(build_model("tiny_cnn"), {}) == ("tiny_cnn", {})
    assert architecture_of(MyNet(), {}) == (None, {})


def test_writing_checkpoints_does_not_change_what_a_dropout_network_learns(smaller_train,
                                                                         small_val, tmp_path):
    """Checking a file's weights builds a network, which draws random numbers: they must not
    be the run's, or the dropout of the epochs after a save would differ."""
    profile = tiny_profile(arch="classic_cnn", epochs=2, optimizer="adadelta", lr=1.0,
                           schedule="steplr")
    weights = []
    for path in (None, tmp_path / "classic.pt"):
        seed_everything(0)
        model = build_model("classic_cnn")
        fit(model, TensorBatches(smaller_train.subset(slice(0, 200)), 50, shuffle=True),
            TensorBatches(small_val, 250), profile, device="cpu", checkpoint_path=path,
            verbose=False)
        weights.append(copy.deepcopy(model.state_dict()))
    assert same_weights(*weights)
