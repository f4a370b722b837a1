"""``python -m mnist_helpers ...``: see :mod:`mnist_helpers.cli`."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while torch is still being imported: nothing to keep
    sys.exit(130)

sys.exit(main())
