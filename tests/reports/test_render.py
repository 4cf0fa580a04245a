"""reports.render: table files (the Markdown itself is costmodel.render's)."""
import math

import numpy as np
import pandas as pd

from reports import render


def test_markdown_and_csv_files(tmp_path):
    df = pd.DataFrame({"pipeline": ["E-FT,E-Inf", "a|b"], "x_s": [1.23456, np.nan], "q": [1.0, math.inf]})
    md, csv = render.write_table(df, tmp_path / "out", "t")
    assert md.read_text().startswith("| pipeline")
    assert pd.read_csv(csv).shape == (2, 3)


def test_durations_counts_and_aligned_tables():
    assert [render.fmt_time(v) for v in (None, 2.0, 0.0015, 2e-6, 3e-9)] == ["-", "2.000 s", "1.500 ms", "2.000 us",
                                                                              "3.0 ns"]
    assert render.fmt_count(3949690.0) == "3,949,690 Ir"
    assert render.format_table([("a", "bb"), ("ccc", "d")], left=(0,)) == ["a    bb", "ccc   d"]
