"""The one report: a self-contained index.html that answers first, tables as Markdown and CSV,
what is missing said, clear errors on bad input."""
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from reports import page as P
from reports.cli import main, run_report

from . import benchjson as B

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900"]


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
    # 4 Q-curve figures (warm), 3 under the cold assumption (no data: it does not depend on it), 2 more
    assert sum(1 for r in parser.refs if r[2].startswith("data:image/png;base64,")) == 9
    assert not re.search(r"<script|<link|@import|url\(", page)


def test_report_answers_first(report):
    folder, _ = report
    page = (folder / "index.html").read_text()
    order = [page.index(t) for t in ("Which pipeline is cheapest", "Table I (measured)", "data:image/png",
                                     "Profiles: what ran where", "Warnings (")]
    assert order == sorted(order)
    answer = page[page.index('<table class="answer">'):]
    answer = answer[:answer.index("</table>")]
    assert "edge idle" in answer and "edge loaded" in answer and "(measured)" in answer
    assert "<b>E-Inf full</b> for Q 1&ndash;" in answer and "Q &ge; " in answer
    assert page.index("Every benchmark") > page.index("Warnings (")


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


def test_unstable_results_are_flagged(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    doc = B.profile_doc("device")
    doc["benchmarks"][0]["stats"] = B.stats(0.05, rounds=3, cv=0.3)
    B.write(results / "device.json", doc)
    assert run_report(results=[str(results)], out=str(tmp_path), run="r").exit_code == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "3 rounds &lt; 5" in page and "CV" in page and "--benchmark-min-rounds" in page


def test_report_without_the_edge_profiles_says_what_is_missing(tmp_path):
    results = tmp_path / "results"
    B.write(results / "device.json", B.profile_doc("device"))
    out = run_report(results=[str(results)], out=str(tmp_path), run="r")
    assert out.exit_code == 0, out.error
    assert any("no edge-idle results" in line for line in out.lines)
    page = (tmp_path / "r" / "index.html").read_text()
    assert "no edge-loaded results: the loaded-edge answer and curves are the study&#x27;s only; run tox -e " \
           "edge-loaded" in page
    assert "edge idle <span class=meta>(the study&#x27;s figures)" in page


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


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    """Render index.html in Debian's chromium; the screenshot must not be blank."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    np = pytest.importorskip("numpy")
    from matplotlib.image import imread

    folder, _ = report
    shot = tmp_path / "index.png"
    cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           (folder / "index.html").as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), proc.stderr[-2000:]
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (900, 1280)
    assert float(np.std(pixels)) > 0.05  # not one flat colour
    assert float((pixels.mean(axis=2) < 0.5).mean()) > 0.005  # some dark ink: text, axes


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
