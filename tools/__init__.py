"""Tools that study the suite's measurements: each ``python -m tools.NAME``, reading results through
``reports.storage``."""
