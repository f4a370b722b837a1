"""Shared code for the MNIST CNN notebook series.

The core comes in layers, lowest first; a module imports only modules before it in this list
(an import-linter ``layers`` contract in ``pyproject.toml`` checks it):

1. foundations: ``errors``, ``files``, ``config`` (constants, the classes, where files
   live), ``checkpoint_contents``, ``paper`` (reading paper), ``drawing`` (making
   pictures of ink on paper), ``device``, ``profiles``;
2. data: ``download`` → ``data`` → ``augment``;
3. the network and its training: ``models`` → ``loop`` → ``evaluate`` → ``checkpoint``
   → ``train``;
4. pictures people make: ``images`` → ``preprocess`` → ``nondigits`` →
   ``digit_pictures`` → ``predict`` → ``digit_line`` → ``number_reading``; then
   ``calibration`` and ``imagefolder``;
5. ``recipe``: a trained model from a ``Profile`` in one call (:func:`train_model`);
6. ``export``: a trained model as an ONNX file for programs without PyTorch (optional
   packages: ``mnist-helpers[export]``).

Above the core, ``display`` holds what notebooks show (figures, widgets, tables), ``course``
the notebooks' setup cells and the notebook runner, ``lab`` the experiments and benchmarks,
and ``cli`` the command line; the core imports none of them.
"""

from .checkpoint import CheckpointInfo, default_checkpoint_path, load_checkpoint, save_checkpoint
from .config import MNIST_MEAN, MNIST_STD
from .data import (
    MNISTTensors,
    TensorBatches,
    TrainingData,
    classic_loader,
    load_mnist,
    load_tensors,
    mnist_transform,
    split_indices,
)
from .device import describe_device, get_device, seed_everything
from .download import prepare_mnist
from .errors import (
    CheckpointError,
    ConfigError,
    ImageError,
    MNISTDataError,
    MnistError,
    NoInkError,
)
from .evaluate import EvalResult, evaluate, predict_all
from .loop import Step, training_steps
from .models import ARCHITECTURES, build_model, count_parameters
from .predict import Prediction, predict_file, predict_files, predict_image
from .profiles import PROFILES, Profile, get_profile
from .recipe import TrainedModel, prepare_training_data, train_model
from .train import History, fit

__version__ = "0.3.0"

__all__ = [
    "ARCHITECTURES", "MNIST_MEAN", "MNIST_STD", "PROFILES", "CheckpointError", "CheckpointInfo",
    "ConfigError", "EvalResult", "History", "ImageError", "MNISTDataError", "MNISTTensors",
    "NoInkError",
    "MnistError", "Prediction", "Profile", "Step", "TensorBatches", "TrainedModel", "TrainingData",
    "build_model", "classic_loader", "count_parameters", "default_checkpoint_path",
    "describe_device", "evaluate", "fit", "get_device", "get_profile", "load_checkpoint",
    "load_mnist", "load_tensors", "mnist_transform", "predict_all", "predict_file",
    "predict_files", "predict_image", "prepare_mnist", "prepare_training_data",
    "save_checkpoint", "seed_everything", "split_indices", "train_model", "training_steps",
]
