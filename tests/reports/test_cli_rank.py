"""continuum-bench advise --rank and --quantization: every measured option ranked, the floor, bad input."""
import json

import pytest

from costmodel import radio
from costmodel.render import FORMATS
from reports import cli

from . import benchjson as B


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return B.write_results_dir(tmp_path_factory.mktemp("rank") / "results")


@pytest.fixture(scope="module")
def old_results(tmp_path_factory):
    """Results written before the int8 cases: no quantized record, no ``quantization`` field."""
    folder = tmp_path_factory.mktemp("old")
    for p in B.TIMES:
        B.write(folder / f"{p}.json", B.profile_doc(p, quantized=False))
    return folder


def _rank(results, *qs, **kw):
    out = cli.run_advise(q=list(qs), results=[str(results)], rank=True, format="json", **kw)
    assert out.exit_code == 0, out.error
    return json.loads("\n".join(out.lines))


def _main(capsys, argv):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_the_text_ranking_fits_one_screen_and_answers_first(results, capsys):
    code, out, err = _main(capsys, ["advise", "--rank", "--q", "1", "--q", "100", "--q", "10000", "--scenario",
                                    "loaded", "--results", str(results)])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("quantization_changes_cheapest: ")
    assert max(len(line) for line in lines) <= 100
    assert [line for line in lines if line.startswith("== ")] == ["== Q = 1 ==", "== Q = 100 ==", "== Q = 10,000 =="]
    assert len(lines) <= 50
    head = next(line for line in lines if line.startswith("rank "))
    assert head.split() == ["rank", "pipeline", "model", "quantization", "top1", "[%]", "latency", "[s]", "x_cheapest"]


def test_a_ranked_cost_is_the_one_computed_by_hand(results):
    """D-Inf full on the full model in int8, loaded edge, paper radio: the request, the int8 model's download
    after the edge converts it, Q times the device's int8 inference."""
    doc = _rank(results, 1, 100, scenario="loaded", top=0)
    link = radio.get_link("paper")
    up, down = float(radio.uplink_rate(link)), float(radio.downlink_rate(link))
    speed, size, lost = B.QUANT["int8"]
    for q in (1, 100):
        row = next(r for r in doc[f"Q = {q}"] if (r["pipeline"], r["model"], r["quantization"])
                   == ("D-Inf full", "full", "int8"))
        by_hand = (8 * 64 / up + 8 * int(B.SIZES[(0.0, "tflite")][1] * size) / down
                   + B.QUANTIZE_S["edge-loaded"]["int8"] + q * B.TIMES["device"]["inf0"] * speed)
        assert row["latency_s"] == pytest.approx(by_hand, rel=1e-9)
        assert row["top1_pct"] == pytest.approx(100 * (B.TOP1_FULL - lost))


@pytest.mark.parametrize("scenario", ["idle", "loaded"])
@pytest.mark.parametrize("metric", ["latency", "energy", "data"])
def test_each_table_is_ranked_and_the_answer_agrees_with_it(results, scenario, metric):
    doc = _rank(results, 1, 100, 10_000, scenario=scenario, metric=metric, top=0)
    column = {"latency": "latency_s", "energy": "energy_j", "data": "data_bytes"}[metric]
    changed = []
    for q in (1, 100, 10_000):
        rows = doc[f"Q = {q:,}"]
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) == 24
        costs = [r[column] for r in rows]
        assert costs == sorted(costs)
        first_float = next(r for r in rows if r["quantization"] == "none")
        if rows[0]["pipeline"] != first_float["pipeline"]:
            changed.append(f"{q:,}")
    answer = doc["quantization_changes_cheapest"]
    assert answer.startswith("yes: " if changed else "no: ")
    if changed:
        assert f"at Q = {', '.join(changed)} (" in answer


def test_top_shows_the_cheapest_and_says_so(results):
    doc = _rank(results, 100, top=3)
    assert [r["rank"] for r in doc["Q = 100"]] == [1, 2, 3]
    assert "the 3 cheapest shown per Q (--top 0: all)" in doc["ranked"]


def test_the_floor_leaves_out_the_options_below_it(results):
    doc = _rank(results, 10_000, min_top1="0.85", top=0)
    rows = doc["Q = 10,000"]
    assert rows and all(r["top1_pct"] >= 85 for r in rows)
    assert not any(r["model"] == "pf=70-filter" for r in rows)  # 70 % top-1 at best
    expected = {("full", "none"), ("full", "dynamic"), ("full", "int8"), ("pf=70-magnitude", "none"),
                ("pf=70-magnitude", "dynamic"), ("pf=70-magnitude", "int8-qat")}
    assert {(r["model"], r["quantization"]) for r in rows} == expected
    assert "reach top-1 >= 0.85" in doc["ranked"]


def test_a_floor_no_option_meets_exits_3_with_the_best_top1(results, capsys):
    code, out, err = _main(capsys, ["advise", "--rank", "--q", "100", "--results", str(results), "--min-top1", "0.9"])
    assert code == 3 and out == ""
    assert err.strip() == ("error: no verdict: no measured option reaches --min-top1 0.9: the best top-1 measured "
                           f"is {B.TOP1_FULL:g} (full none)")


@pytest.mark.parametrize("value", ["-0.1", "1.5", "85", "abc", "nan"])
def test_a_floor_outside_0_1_exits_2_in_one_line(results, capsys, value):
    code, out, err = _main(capsys, ["advise", "--rank", "--q", "100", "--results", str(results), "--min-top1", value])
    assert code == 2 and out == ""
    assert err.strip() == f"error: --min-top1 must be a fraction in [0, 1] (0.85 for 85 %), got {value!r}"


@pytest.mark.parametrize("command", [["advise", "--q", "100"], ["advise", "--rank", "--q", "100"], ["report"]])
def test_an_unknown_quantization_exits_2_in_one_line_naming_it(results, capsys, tmp_path, command):
    argv = command + ([str(results), "--out", str(tmp_path)] if command == ["report"] else ["--results", str(results)])
    code, out, err = _main(capsys, argv + ["--quantization", "int4"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--quantization" in err and "'int4'" in err
    assert not list(tmp_path.iterdir())  # no report folder


@pytest.mark.parametrize("argv, message", [
    (["--rank", "--q", "100"], "--rank chooses among measured results: it goes with --results"),
    (["--q", "100", "--quantization", "int8"], "--quantization chooses among measured results"),
    (["--q", "1", "100"], "--q takes one number of requests without --rank, got 1 100"),
    (["--q", "100", "--metric", "energy", "--results", "R"], "--metric goes with --rank"),
    (["--q", "100", "--min-top1", "0.8", "--results", "R"], "--min-top1 goes with --rank"),
    (["--rank", "--q", "100", "--metric", "speed", "--results", "R"], "--metric must be one of ('latency', 'energy', "
                                                                      "'data'), got 'speed'"),
    (["--rank", "--q", "100", "--top", "-1", "--results", "R"], "--top must be a whole number >= 0"),
    (["--rank", "--q", "100", "--quantization", "int8", "--results", "R"], "--quantization goes without it"),
    (["--rank", "--q", "100", "--pruning-method", "filter", "--results", "R"], "--pruning-method goes without it"),
])
def test_advise_refuses_what_it_cannot_do_in_one_line(results, capsys, argv, message):
    argv = [str(results) if a == "R" else a for a in argv]
    code, out, err = _main(capsys, ["advise"] + argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_old_results_with_int8_name_the_missing_cases(old_results, capsys, tmp_path):
    code, out, err = _main(capsys, ["advise", "--q", "100", "--results", str(old_results), "--quantization", "int8"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--quantization int8: the results lack 6 case(s) the idle-edge scenario needs: " \
           "test_inference[full-int8] on device" in err
    assert "test_quantize[pf=70-magnitude-int8] on edge-idle" in err and "quantized records held: none" in err
    code, out, err = _main(capsys, ["report", str(old_results), "--out", str(tmp_path), "--quantization", "int8"])
    assert code == 2 and "report: --quantization int8: the results lack" in err
    assert not list(tmp_path.iterdir())


def test_old_results_read_as_float_everywhere(old_results, results):
    old = _rank(old_results, 100, top=0)
    assert old["quantization_changes_cheapest"].startswith("no quantized record among the results")
    assert {r["quantization"] for r in old["Q = 100"]} == {"none"}
    new = _rank(results, 100, top=0)
    assert [(r["pipeline"], r["model"], r["latency_s"]) for r in new["Q = 100"] if r["quantization"] == "none"] == \
        [(r["pipeline"], r["model"], r["latency_s"]) for r in old["Q = 100"]]
    a = cli.run_advise(q=100, results=[str(old_results)], format="json")
    b = cli.run_advise(q=100, results=[str(results)], quantization="none", format="json")
    strip = lambda o: {k: v for k, v in json.loads("\n".join(o.lines)).items() if k != "source"}  # noqa: E731
    assert strip(a) == strip(b)


def test_advise_with_a_quantization_uses_the_quantized_models(results):
    out = json.loads("\n".join(cli.run_advise(q=100, scenario="loaded", results=[str(results)],
                                              quantization="dynamic", format="json").lines))
    assert out["source"].startswith("measured (magnitude pruning, dynamic models (D-FT,D-Inf float), warm ")
    inputs = {r["pipeline"]: r for r in out["inputs"]}
    assert inputs["E-FT,D-Inf"]["quantize_s"] == B.QUANTIZE_S["edge-loaded"]["dynamic"]
    assert inputs["D-FT,D-Inf"]["quantize_s"] == 0
    assert inputs["E-Inf full"]["inference_edge_s"] == pytest.approx(B.TIMES["edge-loaded"]["inf0"] * B.QUANT["dynamic"][0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_ranking(results, fmt):
    out = cli.run_advise(q=[1, 100], results=[str(results)], rank=True, top=0, format=fmt)
    assert out.exit_code == 0, out.error
    text = "\n".join(out.lines)
    assert "pf=70-magnitude" in text and "int8-qat" in text and "quantization_changes_cheapest" in text


def test_different_int8_features_are_a_note_of_the_ranking(tmp_path):
    results = B.write_results_dir(tmp_path)
    doc = B.profile_doc("edge-idle")
    doc["machine_info"]["continuum"]["isa_features"]["avx512_vnni"] = True
    B.write(results / "edge-idle.json", doc)
    notes = _rank(results, 100)["notes"]
    assert any("differ in int8 features" in n and "edge-idle: avx512_vnni yes" in n for n in notes)
    assert _rank(results, 100, scenario="loaded")["notes"] == []  # the loaded edge's CPU matches the device's
