"""``python -m pytest`` runs every notebook (nbval) in the quick profile, unless
``MNIST_PROFILE`` names another: the whole series then takes minutes, not the default
profile's full training."""

import os

os.environ.setdefault("MNIST_PROFILE", "quick")
