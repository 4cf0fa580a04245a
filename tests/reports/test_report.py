"""The one report: a self-contained index.html that answers first, tables as Markdown and CSV,
what is missing said, clear errors on bad input."""
import json
import re
from html.parser import HTMLParser

import pytest

from reports import page as P
from reports.cli import main, run_report

from . import benchjson as B


class _Refs(HTMLParser):
    """Every src / href of the page."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [(tag, k, v) for k, v in attrs if k in ("src", "href") and v is not None]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One report of the three hand-made profiles (edge-loaded not enforced), with the study beside."""
    root = tmp_path_factory.mktemp("report")
    results = B.write_results_dir(root / "results")
    doc = B.profile_doc("edge-loaded", enforced={"affinity": True, "cpu_quota": False,
                                                 "reason": "no writable cgroup v2 cpu controller"})
    B.write(results / "edge-loaded.json", doc)
    out = run_report(results=[str(results)], out=str(root / "report"), run="r1")
    assert out.exit_code == 0, out.error
    return root / "report" / "r1", out


def test_report_files(report):
    folder, out = report
    assert (folder / "index.html").stat().st_size > 50_000
    for name in ("table1", "table2", "crossovers", "best_ranges", "measurements", "study_table2"):
        assert (folder / "tables" / f"{name}.md").read_text().startswith("| ")
        assert (folder / "tables" / f"{name}.csv").stat().st_size > 0
    for stem in ("accuracy", "model_size", "latency_idle", "latency_loaded", "data", "energy"):
        for ext in ("png", "svg"):
            assert (folder / "figures" / f"{stem}.{ext}").stat().st_size > 2000
    assert not list(folder.glob("*.md")), "tables are written once, under tables/"
    doc = json.loads((folder / "report.json").read_text())
    assert {"table1", "table2", "crossovers", "best_ranges", "warnings", "missing"} <= set(doc)


def test_report_is_self_contained(report):
    folder, _ = report
    page = (folder / "index.html").read_text()
    parser = _Refs()
    parser.feed(page)
    external = [r for r in parser.refs if not (r[2].startswith("data:") or r[2].startswith("#"))]
    assert external == []
    # 4 Q-curve figures (warm), 3 under the cold assumption (no data: it does not depend on it), 3 more
    # (accuracy and size versus pruning factor, accuracy against latency and size per model variant)
    assert sum(1 for r in parser.refs if r[2].startswith("data:image/png;base64,")) == 10
    assert not re.search(r"<script[^>]*src|<link|@import|url\(", page)
    assert page.count("<script>") == 1  # the few inline lines that sort a table


def test_report_answers_first(report):
    folder, _ = report
    page = (folder / "index.html").read_text()
    order = [page.index(t) for t in ("Which pipeline is cheapest", "Table I (measured)", "data:image/png",
                                     "Profiles: what ran where", "Warnings (")]
    assert order == sorted(order)
    block = page[page.index('<section id="answer-block">'):page.index("</section>")]
    assert "edge idle and edge loaded (measured)" in block and "Assumes warm inference" in block
    assert "preset tiny: MobileNet v1 at width 0.25, 32x32 px inputs, 4 classes, 80 generated images" in block
    answer = block[block.index('<table class="answer">'):]
    answer = answer[:answer.index("</table>")]
    assert "latency, edge idle" in answer and "latency, edge loaded" in answer
    assert "<b>E-Inf full</b></span> Q 1&ndash;" in answer and "Q &ge; " in answer
    assert [f"at Q = {q}" in answer for q in ("1", "100", "10,000")] == [True] * 3
    assert page.index("Every benchmark") > page.index("Warnings (")


def test_the_answer_gives_the_costs_of_the_cheapest_and_the_runner_up(report):
    """At Q = 1 on the idle edge, the cheapest latency is E-Inf full's: sample up, result down, the edge's
    warm inference (the hand-made edge-idle full model: 10 ms), on the paper radio link."""
    from costmodel import radio
    from costmodel.pipelines import STUDY_RESULT_BYTES, STUDY_SAMPLE_BYTES

    folder, _ = report
    page = (folder / "index.html").read_text()
    row = page[page.index("<th class=t>latency, edge idle</th>"):]
    row = row[:row.index("</tr>")]
    link = radio.get_link("paper")
    expected_s = (8 * STUDY_SAMPLE_BYTES / radio.uplink_rate(link) + 8 * STUDY_RESULT_BYTES / radio.downlink_rate(link)
                  + B.TIMES["edge-idle"]["inf0"])
    shown = re.search(r'<b>E-Inf full</b> <span data-answer="cost">([0-9.]+) ms</span>', row)
    assert shown and float(shown.group(1)) == pytest.approx(expected_s * 1e3, rel=5e-3)
    assert "next: " in row
    assert "The metrics disagree" in page or "All metrics name the same pipeline" in page


def test_report_profiles_table_and_warnings(report):
    folder, out = report
    page = (folder / "index.html").read_text()
    profiles = page[page.index("Profiles: what ran where"):page.index("Warnings (")]
    for text in ("<th class=t>enforced</th>", "background load achieved", "50 workers",
                 "<details><summary>full read-back"):
        assert text in profiles
    # edge-loaded's cpu_quota was not enforced: its cell says so, shaded
    assert '<td class="t bad">affinity yes; quota NO</td>' in profiles
    assert "profile.enforced.cpu_quota: false (no writable cgroup v2 cpu controller)" in page
    assert any("limit not enforced" in line for line in out.lines)
    assert ('<p class="alert">edge-loaded: 1 limit(s) not enforced, its times are not the profile&#x27;s: '
            'cpu_quota (see Warnings)</p>') in page


def test_unstable_only_where_more_rounds_would_help(tmp_path):
    """A spread over 10 % across 7 rounds is unstable; cases the preset times 1-3 times are said once."""
    results = B.write_results_dir(tmp_path / "results")
    doc = B.profile_doc("device")
    doc["benchmarks"][0]["stats"] = B.stats(0.05, rounds=7, cv=0.3)
    few = [b for b in doc["benchmarks"] if b["extra_info"]["operation"] in ("finetune", "encryption")]
    for b in few:
        b["stats"] = B.stats(b["stats"]["mean"], rounds=1)
    B.write(results / "device.json", doc)
    out = run_report(results=[str(results)], out=str(tmp_path), run="r")
    assert out.exit_code == 0, out.error
    page = (tmp_path / "r" / "index.html").read_text()
    warnings = page[page.index('<h2 id="warnings">'):page.index('<h2 id="tables">')]
    assert f"{doc['benchmarks'][0]['name']} unstable (CV" in warnings and "over 7 rounds" in warnings
    assert "--benchmark-min-rounds" not in page
    assert warnings.count("by the preset&#x27;s design") == 1 and f"{len(few)} case(s)" in warnings
    assert "test_finetune" not in warnings  # timed once by design: in the one line, not one line each
    table = page[page.index('id="t-measurements"'):]
    table = table[:table.index("</table>")]
    assert table.count('<tr class="bad">') == 1


def test_report_without_the_edge_profiles_says_what_is_missing(tmp_path):
    results = tmp_path / "results"
    B.write(results / "device.json", B.profile_doc("device"))
    out = run_report(results=[str(results)], out=str(tmp_path), run="r")
    assert out.exit_code == 0, out.error
    assert any("no edge-idle results" in line for line in out.lines)
    page = (tmp_path / "r" / "index.html").read_text()
    assert "no edge-loaded results: the loaded-edge answer and curves are the study&#x27;s only; run tox -e " \
           "edge-loaded" in page
    assert "latency, edge idle <small>(the study&#x27;s figures)</small>" in page


def test_report_refuses_a_run_whose_load_died_unless_asked(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    doc = B.profile_doc("edge-loaded")
    doc["machine_info"]["continuum"]["load"].update(valid=False, state="stopped",
                                                   died=[{"index": 0, "pid": 77, "returncode": -9}])
    B.write(results / "edge-loaded.json", doc)
    out = run_report(results=[str(results)], out=str(tmp_path), run="r")
    assert out.exit_code == 2 and "machine_info.continuum.load.valid: false" in out.error
    assert not (tmp_path / "r").exists()
    shown = run_report(results=[str(results)], out=str(tmp_path), run="r", allow_invalid=True)
    assert shown.exit_code == 0 and any("INVALID RUN" in line for line in shown.lines)
    page = (tmp_path / "r" / "index.html").read_text()
    assert '<p class="alert">edge-loaded: INVALID RUN shown on request' in page


@pytest.mark.parametrize("setup, match", [
    (lambda p: None, "no such file or folder"),
    (lambda p: p.mkdir(), "no pytest-benchmark JSON files found"),
])
def test_missing_or_empty_results_folder(tmp_path, setup, match):
    folder = tmp_path / "results"
    setup(folder)
    out = run_report(results=[str(folder)], out=str(tmp_path / "report"), run="r")
    assert out.exit_code == 2 and match in out.error
    assert not (tmp_path / "report" / "r" / "index.html").exists()


def test_result_file_from_another_preset(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    doc = B.profile_doc("device")
    for b in doc["benchmarks"]:
        b["extra_info"]["preset"] = "quick"
    B.write(results / "device.json", doc)
    out = run_report(results=[str(results)], out=str(tmp_path / "report"), run="r")
    assert out.exit_code == 2 and "different presets" in out.error and "device.json" in out.error


def test_cli_report_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    res = B.write_results_dir(tmp_path / "results")
    (res / "device.json").write_text("{ truncated")
    assert main(["report", str(res), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "device.json" in err and "malformed" in err and "Traceback" not in err


def test_warnings_one_line_each_unstable_counted_and_folded():
    lines = P.warnings_html(["edge-idle: limit not enforced, cpu_quota (no cgroup); run where cgroups are writable",
                             "device: test_inference[full-keras] unstable (CV 23.3% > 10%); rerun ...",
                             "device: test_prune[pf=70-filter] unstable (3 rounds < 5); rerun ..."])
    page = "\n".join(lines)
    before_fold = page.split("<details>")[0]
    assert before_fold.count("<li>") == 2 and "limit not enforced" in before_fold
    assert "2 unstable result(s)" in before_fold and "device 2" in before_fold
    assert page.index("<details>") < page.index("test_inference[full-keras]")


def test_header_names_how_the_base_model_came_to_be(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    base = {"source": "cache", "train_time_s": 12.46, "top1_test": 0.5, "weights_route": "backbone + trained head",
            "weights_sha256": "0123456789abcdef" * 4}
    for profile in ("device", "edge-idle", "edge-loaded"):
        doc = json.loads((results / f"{profile}.json").read_text())
        doc["machine_info"]["continuum"]["base_model"] = base
        B.write(results / f"{profile}.json", doc)
    assert run_report(results=[str(results)], out=str(tmp_path / "report"), run="r1").exit_code == 0
    page = (tmp_path / "report" / "r1" / "index.html").read_text()
    assert ('<p class="meta">base model: backbone + trained head, weights sha256 0123456789ab, base step 12.5 s, '
            'test top-1 0.500</p>') in page


def test_the_page_shows_the_quantized_models_and_the_accuracy_cost_figure(report):
    folder, _ = report
    page = (folder / "index.html").read_text()
    order = [page.index(t) for t in ("Which pipeline is cheapest", "Table I (measured)",
                                     "Table I, quantized models (measured)", 'id="fig-latency_idle"')]
    assert order == sorted(order)
    section = page[page.index('id="table-table1_quantization"'):]
    section = section[:section.index("</table>")]
    assert "size, gzip [MB]" in section and "conversion, edge idle [s]" in section and "int8-qat" in section
    assert 'id="fig-quantization"' in page and "the Pareto front" in page
    table = (folder / "tables" / "table1_quantization.csv").read_text().splitlines()
    assert len(table) == 1 + 3 + 2 * 4  # the full model in three variants, each pf 70 % model in four


def test_a_report_on_quantized_models_costs_their_conversion_and_says_so(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    out = run_report(results=[str(results)], out=str(tmp_path / "out"), run="q", quantization="int8",
                     format="json")
    assert out.exit_code == 0, out.error
    doc = json.loads("\n".join(out.lines))
    assert doc["options"]["quantization"] == "int8"
    t2 = {(r["scenario"], r["pipeline"]): r for r in doc["table2"]}
    assert t2[("loaded", "E-FT,D-Inf")]["quantization_s"] == B.QUANTIZE_S["edge-loaded"]["int8"]
    assert t2[("idle", "D-Inf full")]["quantization_s"] == B.QUANTIZE_S["edge-idle"]["int8"]
    assert t2[("idle", "D-FT,D-Inf")]["quantization_s"] is None  # the device fine-tunes: float
    page = (tmp_path / "out" / "q" / "index.html").read_text()
    block = page[page.index('<section id="answer-block">'):page.index("</section>")]
    assert "int8 models served and sent by the edge (D-FT,D-Inf float: the device fine-tunes)" in block


def test_the_report_says_when_cpus_differ_in_int8_features(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    doc = B.profile_doc("device")
    doc["machine_info"]["continuum"]["isa_features"].update(avx2=False, fma=False)
    B.write(results / "device.json", doc)
    out = run_report(results=[str(results)], out=str(tmp_path / "out"), run="isa", format="json")
    warnings = json.loads("\n".join(out.lines))["warnings"]
    said = [w for w in warnings if "differ in int8 features" in w]
    assert len(said) == 1 and "device: avx2 no, fma no" in said[0] and "edge-idle: avx2 yes, fma yes" in said[0]


def test_the_quantization_effect_is_advise_ranks_answer_at_each_point(report):
    from reports.cli import run_advise

    folder, out = report
    doc = json.loads((folder / "report.json").read_text())
    effect = doc["quantization_effect"]
    assert len(effect) == 2 * 3 * 3  # edge loads x metrics x Q of the answer
    results = json.loads((folder / "report.json").read_text())["sources"]["device"].rsplit("/", 1)[0]
    for row in effect:
        ranked = run_advise(q=[row["at_q"]], scenario=row["scenario"], results=[results], rank=True, top=0,
                            metric=row["metric"], allow_invalid=True, format="json")
        rows = json.loads("\n".join(ranked.lines))[f"Q = {row['at_q']:,}"]
        first_float = next(r for r in rows if r["quantization"] == "none")
        assert row["cheapest"].startswith(rows[0]["pipeline"]) and row["cheapest_float"].startswith(
            first_float["pipeline"])
        assert row["pipeline_changes"] == (rows[0]["pipeline"] != first_float["pipeline"])
    changes = sum(r["pipeline_changes"] for r in effect)
    said = "Quantization changes the cheapest pipeline " + (f"at {changes} of 18 points" if changes else "nowhere")
    assert said in (folder / "index.html").read_text() and any(said in line for line in out.lines)


def test_float_results_have_no_quantization_table_or_figure(tmp_path):
    for p in B.TIMES:
        B.write(tmp_path / "res" / f"{p}.json", B.profile_doc(p, quantized=False))
    out = run_report(results=[str(tmp_path / "res")], out=str(tmp_path / "out"), run="f", format="json")
    doc = json.loads("\n".join(out.lines))
    assert "table1_quantization" not in doc and "quantization_effect" not in doc
    assert not (tmp_path / "out" / "f" / "figures" / "quantization.png").exists()
