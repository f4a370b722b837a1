"""``python -m mnist_helpers ...``: see :mod:`mnist_helpers.cli`."""

import sys

from .cli import main

sys.exit(main())
