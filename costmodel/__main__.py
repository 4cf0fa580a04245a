"""``python -m costmodel {paper,advise}``: the model's two commands of the ``continuum-bench``
command line (reports.cli); the only place that exits."""
import sys

from reports.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m costmodel", commands=("paper", "advise")))
