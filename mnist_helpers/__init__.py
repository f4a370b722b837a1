"""Shared code for the MNIST CNN notebook series: data, models, training, evaluation, prediction.

Each notebook imports what it teaches from here; the modules read in the order data flows:
``data`` → ``models`` → ``train`` → ``evaluate`` → ``predict``.
"""

from .checkpoint import (
    CheckpointError,
    default_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from .data import (
    MNIST_MEAN,
    MNIST_STD,
    MNISTDataError,
    MNISTTensors,
    TensorBatches,
    classic_loader,
    load_mnist,
    load_tensors,
    mnist_transform,
    prepare_mnist,
    split_indices,
)
from .device import describe_device, get_device, seed_everything
from .models import ARCHITECTURES, build_model, count_parameters
from .profiles import PROFILES, Profile, get_profile
from .train import EvalResult, History, evaluate, fit, prepare_training_data

__version__ = "0.1.0"

__all__ = [
    "ARCHITECTURES", "MNIST_MEAN", "MNIST_STD", "PROFILES", "CheckpointError", "EvalResult",
    "History", "MNISTDataError", "MNISTTensors", "Profile", "TensorBatches", "build_model",
    "classic_loader", "count_parameters", "default_checkpoint_path", "describe_device",
    "evaluate", "fit", "get_device", "get_profile", "load_checkpoint", "load_mnist",
    "load_tensors", "mnist_transform", "prepare_mnist", "prepare_training_data",
    "save_checkpoint", "seed_everything", "split_indices",
]
