"""costmodel.options: every (pipeline, model variant) ranked by its cost, with a top-1 floor."""
import math

import pytest

from costmodel.options import Option, change_sentence, cheapest_change, check_min_top1, rank_options
from costmodel.pipelines import PipelineInputs


def inputs(inference_s, model_bytes=5e6, quantize_s=0.0):
    return PipelineInputs(uplink_bps=100e6, downlink_bps=200e6, model_bytes=model_bytes, dataset_bytes=4e8,
                          inference_edge_s=inference_s, inference_device_s=10 * inference_s, quantize_s=quantize_s)


def latency(pipeline, x, q):
    """The E-Inf full / D-Inf full latencies by hand: per request up + inference + down; or download + Q inference."""
    if pipeline == "E-Inf full":
        return q * (8 * x.sample_bytes / x.uplink_bps + x.inference_edge_s + 8 * x.result_bytes / x.downlink_bps) \
            + x.quantize_s
    return 8 * x.request_bytes / x.uplink_bps + 8 * x.model_bytes / x.downlink_bps + q * x.inference_device_s \
        + x.quantize_s


OPTIONS = [Option("E-Inf full", "full", "none", inputs(0.010), 0.88),
           Option("E-Inf full", "full", "int8", inputs(0.004, quantize_s=2.0), 0.85),
           Option("D-Inf full", "full", "none", inputs(0.010), 0.88),
           Option("D-Inf full", "full", "int8", inputs(0.004, 1.3e6, quantize_s=2.0), 0.85),
           Option("D-Inf full", "full", "dynamic", inputs(0.008, 1.3e6, quantize_s=0.5), math.nan)]


@pytest.mark.parametrize("q", [1, 100, 10_000])
def test_ranked_by_the_cost_at_q_with_the_cost_over_the_cheapest(q):
    table = rank_options(OPTIONS, "latency", q)
    expected = sorted((latency(o.pipeline, o.inputs, q), o.pipeline, o.quantization) for o in OPTIONS)
    assert list(zip(table.pipeline, table.quantization)) == [e[1:] for e in expected]
    assert table.latency_s.tolist() == pytest.approx([e[0] for e in expected], rel=1e-12)
    assert table["rank"].tolist() == list(range(1, len(OPTIONS) + 1))
    assert table.x_cheapest.tolist() == pytest.approx([e[0] / expected[0][0] for e in expected])


def test_the_floor_removes_options_below_it_and_those_without_a_top1():
    table = rank_options(OPTIONS, "latency", 100, min_top1=0.86)
    assert set(zip(table.pipeline, table.quantization)) == {("E-Inf full", "none"), ("D-Inf full", "none")}
    assert table.top1_pct.tolist() == pytest.approx([88.0, 88.0])
    assert rank_options(OPTIONS, "latency", 100, min_top1=0.95).empty


@pytest.mark.parametrize("bad", [-0.1, 1.5, 85, True, "0.8"])
def test_a_floor_outside_0_1_is_refused_naming_the_flag(bad):
    with pytest.raises(ValueError, match=r"--min-top1 must be a fraction in \[0, 1\]"):
        check_min_top1(bad)
    with pytest.raises(ValueError, match="--min-top1"):
        rank_options(OPTIONS, "latency", 1, min_top1=bad)


def test_cheapest_change_compares_the_cheapest_of_all_with_the_cheapest_float():
    changes = cheapest_change(OPTIONS, "latency", [1, 10_000])
    for c in changes:
        costs = {(o.pipeline, o.quantization): latency(o.pipeline, o.inputs, c.q) for o in OPTIONS}
        assert c.cost == pytest.approx(min(costs.values()))
        assert c.float_cost == pytest.approx(min(v for k, v in costs.items() if k[1] == "none"))
        assert c.pipeline_changes == (c.cheapest.pipeline != c.cheapest_float.pipeline)
    # at Q = 1 the edge's float model wins (no download, no conversion); at 10,000 the int8 model on the device
    assert (changes[0].cheapest.pipeline, changes[0].cheapest.quantization) == ("E-Inf full", "none")
    assert changes[1].cheapest.quantization != "none"
    assert change_sentence(changes, "latency").startswith(("yes: ", "no: "))


def test_the_sentence_says_yes_only_where_the_pipeline_changes():
    edge_only = [o for o in OPTIONS if o.pipeline == "E-Inf full"]
    changes = cheapest_change(edge_only, "latency", [1, 10_000])
    line = change_sentence(changes, "latency")
    assert line.startswith("no: ") and "cheaper at Q = 10,000" in line
    shifted = [Option("E-Inf full", "full", "none", inputs(0.010), 0.88),
               Option("D-Inf full", "full", "int8", inputs(0.0001, 1.3e6), 0.85)]
    line = change_sentence(cheapest_change(shifted, "latency", [10_000]), "latency")
    assert line.startswith("yes: quantization changes the cheapest pipeline at Q = 10,000")
    assert "D-Inf full int8 " in line and "the cheapest float E-Inf full " in line


def test_a_tie_goes_to_the_float_model():
    same = [Option("E-Inf full", "full", "dynamic", inputs(0.010), 0.87),
            Option("E-Inf full", "full", "none", inputs(0.010), 0.88)]
    assert rank_options(same, "energy", 10).quantization.tolist() == ["none", "dynamic"]
    (change,) = cheapest_change(same, "energy", [10])
    assert change.cheapest.quantization == "none" and not change.pipeline_changes
