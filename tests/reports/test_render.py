"""reports.render: one cell formatter, Markdown and CSV tables, JSON of frames."""
import json
import math

import numpy as np
import pandas as pd

from reports import render


def test_markdown_and_csv(tmp_path):
    df = pd.DataFrame({"pipeline": ["E-FT,E-Inf", "a|b"], "x_s": [1.23456, np.nan], "q": [1.0, math.inf]})
    lines = render.markdown_lines(df, ".3g")
    assert lines[0] == "| pipeline | x_s | q |"
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| E-FT,E-Inf | 1.23 | 1 |"
    assert lines[3] == "| a\\|b |  | inf |"
    md, csv = render.write_table(df, tmp_path / "out", "t")
    assert md.read_text().startswith("| pipeline")
    assert pd.read_csv(csv).shape == (2, 3)


def test_json_of_frames_and_numpy_values():
    doc = json.loads("\n".join(render.render_json({"t": pd.DataFrame({"q": [1.0, math.inf], "n": [np.int64(3), 4]}),
                                                    "x": np.float64(0.5), "ok": np.bool_(True)})))
    assert doc == {"t": [{"q": 1.0, "n": 3}, {"q": None, "n": 4}], "x": 0.5, "ok": True}
