"""Interactive widgets for the notebooks, one per module: the hyperparameter playground, the
prediction browser, and the canvas to draw a digit or a number on.

Each widget is a small class that owns its state (nothing lives at module level) and shows
itself in a notebook cell. What a button does is a plain method that tests call directly,
and an exception inside a callback is shown in the widget's own message area.
"""

from .browser import PredictionBrowser
from .draw import DrawDigit, DrawNumber
from .playground import Playground

__all__ = ["DrawDigit", "DrawNumber", "Playground", "PredictionBrowser"]
