"""The errors a user can fix, one type per layer; the command line prints each as one line.

Anything else that goes wrong is a bug in this package and keeps its traceback.
"""

from __future__ import annotations


class MnistError(Exception):
    """Something the user can fix; the message names the input and says what to do."""


class ConfigError(MnistError, ValueError):
    """A setting is wrong: an unknown profile, device or architecture, or a bad argument."""


class OutputError(MnistError, OSError):
    """A file or folder we must write to is not writable, or the disk is full."""


class MNISTDataError(MnistError, RuntimeError):
    """MNIST could not be found, downloaded, verified or read."""


class CheckpointError(MnistError, RuntimeError):
    """A checkpoint is missing, damaged, tampered with, or asks for something we refuse."""


class ImageError(MnistError, ValueError):
    """An image could not be used: ``reason`` says why, ``path`` names it when it is known."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {reason}" if path is not None else reason)
        self.reason, self.path = reason, path


class NoInkError(ImageError):
    """The image holds no ink to read (blank, or too little contrast): for a digit reader
    that is an answer, "not a digit", rather than a failure."""


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM): handled like Ctrl-C, so what is done is kept,
    but the command line exits with status 143 instead of 130."""
