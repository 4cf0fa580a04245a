"""``python -m costmodel {paper,advise}``: the cost model's own command line (costmodel.cli);
the only place that exits."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
