"""costmodel.render: one cell formatter, Markdown tables, JSON of frames, the result renderers."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from costmodel import render


def test_markdown_lines():
    df = pd.DataFrame({"pipeline": ["E-FT,E-Inf", "a|b"], "x_s": [1.23456, np.nan], "q": [1.0, math.inf]})
    lines = render.markdown_lines(df, ".3g")
    assert lines[0] == "| pipeline | x_s | q |"
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| E-FT,E-Inf | 1.23 | 1 |"
    assert lines[3] == "| a\\|b |  | inf |"


def test_json_of_frames_and_numpy_values():
    doc = json.loads("\n".join(render.render_json({"t": pd.DataFrame({"q": [1.0, math.inf], "n": [np.int64(3), 4]}),
                                                    "x": np.float64(0.5), "ok": np.bool_(True)})))
    assert doc == {"t": [{"q": 1.0, "n": 3}, {"q": None, "n": 4}], "x": 0.5, "ok": True}


def test_text_and_markdown_of_a_result_and_a_bad_format():
    result = {"q": 100, "radio": {"preset": "paper"}, "t": pd.DataFrame({"a": [1]})}
    assert render.render(result, "text")[:4] == ["q: 100", "radio:", "  preset: paper", "== t =="]
    assert "## t" in render.render(result, "markdown")
    assert render.render(result, "csv")[:3] == ["# q: 100", "# radio:", "#   preset: paper"]
    with pytest.raises(ValueError, match=r"format must be one of \('text', 'markdown', 'csv', 'json'\), got 'xls'"):
        render.render(result, "xls")
