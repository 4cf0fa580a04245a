"""The page's words and numbers: headers with units, one number format per column, the answer's
rows, costs and the sentence on disagreeing metrics."""
import math

import pandas as pd
import pytest

from reports import page as P
from reports import pagetables as T


def test_a_column_of_inference_times_reads_in_ms_with_one_number_of_decimals():
    # 0.4491 ms and 0.08126 ms: three significant digits of the largest, the same decimals below it
    cells = T.column_cells([0.0004491, 8.126e-05, None], "ms")
    assert [c.text for c in cells] == ["0.449", "0.081", ""]
    assert cells[0].sort == pytest.approx(0.4491)


def test_large_numbers_get_thousands_separators_and_tiny_ones_say_below_the_last_decimal():
    assert [c.text for c in T.column_cells([12_345.6, 7.0], "num")] == ["12,346", "7"]
    assert T.number(0.00031, 3) == "<0.001"  # not 0.000: the cell still sorts by 0.00031
    assert T.number(math.inf, 2) == "never"


@pytest.mark.parametrize("column, header", [
    ("inf_s_edge_idle", "inference, edge idle [ms]"), ("ft_min_device", "fine-tuning, device [min]"),
    ("top1_no_ft_pct", "top-1 as pruned [%]"), ("edge-loaded_median_s", "edge loaded, median [ms]"),
    ("model_exchange_s", "model download [s]"),
])
def test_headers_are_words_with_their_unit(column, header):
    assert T.label(column)[0] == header


def test_table1_has_no_machine_header():
    t1 = pd.DataFrame({"pruning_factor_pct": [0, 70], "pruning_method": [None, "magnitude"],
                       "top1_no_ft_pct": [88.0, 40.0], "ft_min_edge_idle": [None, 1.5],
                       "inf_s_edge_idle": [0.0004491, 8.126e-05]})
    view = T.table_view("table1", t1)
    assert not any("_" in h for h in view.headers)
    assert [row[-1].text for row in view.rows] == ["0.449", "0.081"]


def test_table2_puts_each_share_under_its_time_and_drops_empty_contributions():
    t2 = pd.DataFrame({"scenario": ["idle"], "pipeline": ["E-Inf full"], "model": ["full"],
                       "result_exchange_s": [0.0173], "control_s": [float("nan")], "inference_s": [0.01],
                       "result_exchange_pct": [63.4], "control_pct": [float("nan")], "inference_pct": [36.6],
                       "total_q1_s": [0.0273], "per_request_s": [0.0273]})
    view = T.table_view("table2", t2)
    assert "control messages [s]" not in view.headers and "sample and result [s]" in view.headers
    cell = view.rows[0][view.headers.index("sample and result [s]")]
    assert cell.small == "63 %" and cell.sort == pytest.approx(0.0173)


def test_the_every_benchmark_table_reads_each_time_in_its_unit_and_sorts_by_seconds():
    df = pd.DataFrame({"profile": ["device"] * 2, "operation": ["finetune", "inference"],
                       "name": ["test_finetune[pf=70-filter]", "test_inference[full-litert]"],
                       "model_state": [None, "full"], "median_s": [61.2, 0.00045], "mean_s": [61.2, 0.00046],
                       "min_s": [61.2, 0.00044], "stddev_s": [0.0, 1e-5], "rounds": [1, 10], "cv": [0.0, 0.02],
                       "unstable": [False, False]})
    view = T.table_view("measurements", df)
    median = view.headers.index("median")
    assert [r[median].text for r in view.rows] == ["61.2 s", "450 us"]
    assert [r[median].sort for r in view.rows] == [61.2, 0.00045]
    html = "\n".join(T.view_html(view, sortable=True, table_id="t-x"))
    assert '<table id="t-x" class="sortable">' in html and "<thead>" in html and "<tbody>" in html


@pytest.mark.parametrize("value, metric, text", [
    (0.0179, "latency", "17.9 ms"), (14_148.0, "latency", "3.93 h"), (5.08e-4, "energy", "0.508 mJ"),
    (5.94, "energy", "5.94 J"), (1.42e6, "data", "1.42 MB"), (302_064.0, "data", "302 kB"),
])
def test_costs_read_in_the_unit_that_fits(value, metric, text):
    assert P.quantity(value, metric) == text


def _costs(cheapest):
    """Costs at Q 1 and 100 on both edges: {(scenario, metric, q): cheapest}; the other pipeline 2x."""
    rows = []
    for (scen, metric, q), best in cheapest.items():
        other = "D-Inf full" if best != "D-Inf full" else "E-Inf full"
        rows += [{"scenario": scen, "metric": metric, "q": q, "rank": 1, "pipeline": best, "cost": 1.0},
                 {"scenario": scen, "metric": metric, "q": q, "rank": 2, "pipeline": other, "cost": 2.0}]
    return pd.DataFrame(rows)


def test_energy_and_data_are_one_row_when_the_edge_load_does_not_change_them():
    same = {(s, m, q): "E-Inf full" for s in ("idle", "loaded") for m in ("latency", "energy", "data") for q in (1, 100)}
    same[("loaded", "latency", 100)] = "D-Inf full"
    measured = {"idle": "measured", "loaded": "measured"}
    assert [r[0] for r in P.answer_rows(_costs(same), measured)] == [
        "latency, edge idle", "latency, edge loaded", "device energy", "data exchanged"]
    differ = {**same, ("loaded", "data", 1): "D-Inf full"}
    assert [r[0] for r in P.answer_rows(_costs(differ), measured)][-2:] == [
        "data exchanged, edge idle", "data exchanged, edge loaded"]


def test_one_sentence_says_where_the_metrics_disagree():
    agree = {(s, m, q): "E-Inf full" for s in ("idle", "loaded") for m in ("latency", "energy", "data") for q in (1, 100)}
    costs = _costs(agree)
    assert P.disagreement(costs, P.answer_rows(costs, {"idle": "measured", "loaded": "measured"})).startswith("All")
    costs = _costs({**agree, ("idle", "data", 100): "D-Inf full", ("loaded", "data", 100): "D-Inf full"})
    text = P.disagreement(costs, P.answer_rows(costs, {"idle": "measured", "loaded": "measured"}))
    assert text.startswith("The metrics disagree (at Q = 100, edge idle")
    assert "data exchanged D-Inf full" in text and "latency E-Inf full" in text and "battery" in text


def test_the_scenario_names_the_distance_the_pruned_pipelines_and_the_model():
    radio = {"preset": "paper", "distance": 291.4, "uplink_bps": 139e6, "downlink_bps": 260e6}
    options = {"pruning_factor": 0.7, "pruning_method": "magnitude", "runtime": "litert"}
    scale = {"preset": "quick", "alpha": 0.5, "input_size": 64, "num_classes": 10, "images_per_class": 200,
             "embedded": True}
    scenario, preset = P.scenario_text(radio=radio, options=options, scale=scale,
                                       source={"idle": "measured", "loaded": "the study's figures"})
    assert "291 m from the base station" in scenario and "pf 70 % magnitude, LiteRT" in scenario
    assert "the study's figures: loaded" in scenario
    assert preset.startswith("preset quick: MobileNet v1 at width 0.5, 64x64 px inputs, 10 classes, 2,000 generated")
    _, unknown = P.scenario_text(radio=radio, options=options, scale={"preset": "quick"},
                                 source={"idle": "measured"})
    assert "do not record its model and input size" in unknown


def test_the_sentence_reads_each_edge_loads_own_row_where_the_loads_differ():
    agree = {(s, m, q): "E-Inf full" for s in ("idle", "loaded") for m in ("latency", "energy", "data") for q in (1, 100)}
    costs = _costs({**agree, ("loaded", "data", 1): "D-Inf full"})
    rows = P.answer_rows(costs, {"idle": "measured", "loaded": "measured"})
    assert ("data exchanged, edge loaded", "loaded", "data") in rows
    assert P.disagreement(costs, rows).startswith("The metrics disagree (at Q = 1, edge loaded")
