"""``python -m reports``: the ``continuum-bench`` command line; the only place that exits."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
