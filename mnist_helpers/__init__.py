"""Shared code for the MNIST CNN notebook series.

The core reads in the order data flows, one module a step:
``config`` (constants, where files live) → ``download`` → ``data`` → ``models`` → ``loop``
→ ``train`` → ``evaluate`` → ``checkpoint`` → ``preprocess`` → ``predict`` → ``digit_line``
→ ``numbers``.
Above it, ``display`` holds what only notebooks need (figures, widgets, the notebook runner)
and ``lab`` the experiments and benchmarks; the core never imports either.
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
    prepare_training_data,
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
from .train import History, fit

__version__ = "0.2.0"

__all__ = [
    "ARCHITECTURES", "MNIST_MEAN", "MNIST_STD", "PROFILES", "CheckpointError", "CheckpointInfo",
    "ConfigError", "EvalResult", "History", "ImageError", "MNISTDataError", "MNISTTensors",
    "NoInkError",
    "MnistError", "Prediction", "Profile", "Step", "TensorBatches", "TrainingData",
    "build_model", "classic_loader", "count_parameters", "default_checkpoint_path",
    "describe_device", "evaluate", "fit", "get_device", "get_profile", "load_checkpoint",
    "load_mnist", "load_tensors", "mnist_transform", "predict_all", "predict_file",
    "predict_files", "predict_image", "prepare_mnist", "prepare_training_data",
    "save_checkpoint", "seed_everything", "split_indices", "training_steps",
]
