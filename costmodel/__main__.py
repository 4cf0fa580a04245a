"""``python -m costmodel {paper,advise}``: the cost model's own command line (costmodel.cli);
the only place that exits."""
import sys

#: Exit status of an interrupted command (128 + SIGINT), as costmodel.cli.EXIT_INTERRUPTED.
EXIT_INTERRUPTED = 130

if __name__ == "__main__":
    try:  # a Ctrl-C while pandas loads: one line, not a traceback
        from .cli import main

        code = main()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.exit(code)
