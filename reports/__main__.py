"""``python -m reports`` and the ``continuum-bench`` script: the command line; the only place that exits."""
import sys

#: Exit status of an interrupted command (128 + SIGINT), as reports.cli.EXIT_INTERRUPTED.
EXIT_INTERRUPTED = 130


def run() -> int:
    """``reports.cli.main``, with a Ctrl-C while pandas and matplotlib load (a second or two) ending in
    one line and 130 like one during the work, not a traceback."""
    try:
        from .cli import main

        return main()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(run())
