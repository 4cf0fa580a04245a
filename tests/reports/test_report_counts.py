"""The report shows instruction counts beside times when a counted run (results/counts.json) is
among its inputs, and says that one counted run serves all profiles."""
import csv
import re

import pytest

from reports import page as P
from reports.cli import run_report
from reports.model import ResultsError
from reports.storage import load_results

from . import benchjson as B


def _median(doc, name):
    return next(b["stats"]["median"] for b in doc["benchmarks"] if b["name"] == name)


KERAS_COUNT = 9_321_187.0


def _with_keras(doc):
    """counts_doc plus the Keras case as benchmarks/test_counts.py writes it (no parameter in its name)."""
    entry = {**doc["benchmarks"][0], "name": "test_count_inference_keras",
             "fullname": "benchmarks/test_counts.py::test_count_inference_keras"}
    entry["extra_info"] = {**entry["extra_info"], "runtime": "keras", "instructions": KERAS_COUNT}
    doc["benchmarks"].append(entry)


@pytest.fixture(scope="module")
def counted_report(tmp_path_factory):
    """The three hand-made profiles and a counted run, all in one results folder, as tox writes them."""
    root = tmp_path_factory.mktemp("counted")
    results = B.write_results_dir(root / "results")
    B.write(results / "counts.json", B.edit(B.counts_doc(), _with_keras))
    out = run_report(results=[str(results)], out=str(root / "report"), run="r1")
    assert out.exit_code == 0, out.error
    return results, root / "report" / "r1"


def test_the_counts_table_holds_each_counted_case_beside_each_profiles_median(counted_report):
    results, folder = counted_report
    rows = {r["case"]: r for r in csv.DictReader((folder / "tables" / "counts.csv").open())}
    assert set(rows) == {"full-litert", "full-keras", "full-tflite", "rsa-oaep-blocks"}
    assert float(rows["full-keras"]["instructions_per_call"]) == KERAS_COUNT
    for name, count in B.INSTRUCTIONS.items():
        case = name.split("[")[1].rstrip("]") if "[" in name else "rsa-oaep-blocks"
        assert float(rows[case]["instructions_per_call"]) == count
    for profile in B.TIMES:
        doc = B.profile_doc(profile)
        assert float(rows["full-litert"][f"{profile}_median_s"]) == pytest.approx(
            _median(doc, "test_inference[full-litert]"))
        assert float(rows["full-keras"][f"{profile}_median_s"]) == pytest.approx(
            _median(doc, "test_inference[full-keras]"))
        assert float(rows["full-tflite"][f"{profile}_median_s"]) == pytest.approx(
            _median(doc, "test_serialize[full-tflite]"))
    # pure RSA is timed on the device only (benchjson's device profile): blank elsewhere, never another case's time
    assert float(rows["rsa-oaep-blocks"]["device_median_s"]) == pytest.approx(
        _median(B.profile_doc("device"), "test_encrypt_pure_rsa"))
    assert rows["rsa-oaep-blocks"]["edge-idle_median_s"] == ""


def test_the_page_shows_counts_beside_times_and_says_one_counted_run_serves_all_profiles(counted_report):
    results, folder = counted_report
    text = (folder / "index.html").read_text()
    section = text.split('<h2 id="counts">', 1)[1].split("<h2", 1)[0]
    assert "one counted run serves all profiles" in section
    assert "do" in section and "not depend on a CPU quota" in section
    assert "3,949,690" in section  # the full model's instructions per call, as the counted run wrote it
    full_row = next(r for r in section.split("<tr>") if "full-litert" in r)
    assert "3,949,690" in full_row  # the count and, in the same row, each profile's median in ms
    cells = re.findall(r'<td data-v="[^"]+">([^<]+)</td>', full_row)[-len(B.TIMES):]  # the profiles' columns
    medians = [_median(B.profile_doc(p), "test_inference[full-litert]") * 1e3 for p in B.TIMES]
    assert [float(c) for c in cells] == pytest.approx(medians, rel=0.01)
    assert str(results / "counts.json") in text  # the page names the counted run it read
    assert text.index('id="counts"') < text.index('id="profiles"')


def test_a_counted_run_given_as_a_file_beside_the_profiles_is_read_too(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    counted = B.write(tmp_path / "elsewhere" / "counts-main.json", B.counts_doc())
    rs = load_results(results / "device.json", counted)
    assert rs.counted is not None and rs.counted.source == str(counted)
    assert set(rs.profiles) == {"device"}  # a counted run is no profile's run
    assert all(m.instructions is None for m in rs.measurements)


def test_without_a_counted_run_the_page_says_how_to_get_one(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    out = run_report(results=[str(results)], out=str(tmp_path / "report"), run="r")
    assert out.exit_code == 0, out.error
    text = (tmp_path / "report" / "r" / "index.html").read_text()
    assert "no counted run among the results: run tox -e counts" in text
    assert not (tmp_path / "report" / "r" / "tables" / "counts.csv").exists()


@pytest.mark.parametrize(("extra", "match"), [
    (lambda d: [B.counts_doc(injected={"inference": 0.01})], "injected slowdown"),
    (lambda d: [B.counts_doc(), B.counts_doc()], "counted runs found in both"),
])
def test_bad_counted_inputs_are_refused_naming_the_file(tmp_path, extra, match):
    results = B.write_results_dir(tmp_path / "results")
    files = [B.write(tmp_path / f"c{i}.json", doc) for i, doc in enumerate(extra(None))]
    out = run_report(results=[str(results), *map(str, files)], out=str(tmp_path / "report"), run="r")
    assert out.exit_code == 2 and match in out.error
    assert "c0.json" in out.error or "c1.json" in out.error


def test_a_counted_run_alone_is_no_report(tmp_path):
    counted = B.write(tmp_path / "counts.json", B.counts_doc())
    with pytest.raises(ResultsError, match="only a counted run was given"):
        load_results(counted)


def test_counts_html_formats_the_count_and_keeps_the_note():
    import pandas as pd

    lines = P.counts_html(pd.DataFrame([{"operation": "inference", "case": "full-litert",
                                         "instructions_per_call": 3949690.4, "counted_calls": 1,
                                         "device_median_s": 0.05}]), "1 case(s) counted")
    assert P.COUNTS_NOTE in "\n".join(lines).replace("&#x27;", "'") and "3,949,690" in "\n".join(lines)


def test_a_counted_run_of_another_preset_is_left_out_with_a_warning_not_a_failure(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    B.write(results / "counts.json",
            B.edit(B.counts_doc(), lambda x: [b["extra_info"].update(preset="quick") for b in x["benchmarks"]]))
    out = run_report(results=[str(results)], out=str(tmp_path / "report"), run="r")
    assert out.exit_code == 0, out.error
    text = (tmp_path / "report" / "r" / "index.html").read_text()
    assert "counts.json: a counted run of preset quick, the timed results are of tiny: its counts are not shown" in text
    assert "no counted run among the results" in text
    assert not (tmp_path / "report" / "r" / "tables" / "counts.csv").exists()
