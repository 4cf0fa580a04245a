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


@pytest.mark.parametrize("text", ["=1+1", "+1", "-cmd", "@SUM(A1)", "\tx"])
def test_csv_quotes_a_cell_a_spreadsheet_would_run(text):
    lines = render.csv_lines(pd.DataFrame({"name": [text], "ratio": [-0.5]}))
    assert lines[1].startswith("'" + text[:1]) or lines[1].startswith("\"'" + text[:1])
    assert lines[1].endswith(",-0.5")  # a negative number stays a number


def test_markdown_escapes_pipes_html_and_newlines():
    line = render.markdown_lines(pd.DataFrame({"name": ["a|b<script>\nc"]}))[2]
    assert line == "| a\\|b&lt;script&gt; c |"


def test_printable_escapes_control_and_direction_characters():
    assert render.printable("a\x1b[2Jb\u202ec\x07\nd\te") == "a\\x1b[2Jb\\u202ec\\x07\\nd\te"


def test_text_tables_are_fixed_point_within_the_width_with_units_in_headers():
    df = pd.DataFrame({"pipeline": ["p"], **{f"part{i}_s": [1404.038 * 10.0 ** -i] for i in range(14)}})
    lines = render.text_table(df)
    assert max(map(len, lines)) <= render.MAX_WIDTH and all("e+" not in x and "e-" not in x for x in lines)
    assert lines[0].split()[:3] == ["pipeline", "part0", "[s]"] and lines[1].split()[1:5] == [
        "1404", "140.4", "14.04", "1.404"]  # four significant digits, no exponent
    assert sum(line.startswith("pipeline") for line in lines) > 1  # split into blocks, each with the key column
