"""htmlreport: a self-contained index.html, tables as Markdown and CSV, clear errors on bad input."""
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from costmodel import htmlreport as R
from costmodel.cli import main
from costmodel.results import load_results

from . import benchjson as B

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,2000"]


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
    out = R.run_report_html([str(results)], out=str(root / "reports"), run="r1")
    assert out.exit_code == 0, out.error
    return root / "reports" / "r1", out


def test_report_files(report):
    folder, out = report
    assert (folder / "index.html").stat().st_size > 50_000
    for name in ("table1", "table2", "crossovers", "measurements", "study_table2"):
        assert (folder / "tables" / f"{name}.md").read_text().startswith("| ")
        assert (folder / "tables" / f"{name}.csv").stat().st_size > 0
    for stem in ("accuracy", "model_size", "latency_idle", "latency_loaded", "data", "energy"):
        for ext in ("png", "svg"):
            assert (folder / "figures" / f"{stem}.{ext}").stat().st_size > 2000


def test_report_is_self_contained(report):
    folder, _ = report
    page = (folder / "index.html").read_text()
    parser = _Refs()
    parser.feed(page)
    external = [r for r in parser.refs if not (r[2].startswith("data:") or r[2].startswith("#"))]
    assert external == []
    assert sum(1 for r in parser.refs if r[2].startswith("data:image/png;base64,")) == 6
    assert not re.search(r"<script|<link|@import|url\(", page)


def test_report_shows_profiles_load_and_warnings(report):
    folder, out = report
    page = (folder / "index.html").read_text()
    for text in ("edge-idle", "edge-loaded", "device", "requested", "enforced (read back from the OS)",
                 "background load achieved", "workers", "no writable cgroup v2 cpu controller"):
        assert text in page
    assert "not fully enforced" in page and any("not fully enforced" in line for line in out.lines)


def test_unstable_results_are_flagged(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    doc = B.profile_doc("device")
    doc["benchmarks"][0]["stats"] = B.stats(0.05, rounds=3, cv=0.3)
    B.write(results / "device.json", doc)
    rs = load_results(results)
    files = R.write_report(rs, tmp_path / "rep", tables={})
    page = files.index.read_text()
    assert "3 rounds &lt; 5" in page and "CV" in page and "--benchmark-min-rounds" in page


@pytest.mark.parametrize("setup, match", [
    (lambda p: None, "no such file or folder"),
    (lambda p: p.mkdir(), "no pytest-benchmark JSON files found"),
])
def test_missing_or_empty_results_folder(tmp_path, setup, match):
    folder = tmp_path / "results"
    setup(folder)
    out = R.run_report_html([str(folder)], out=str(tmp_path / "reports"), run="r")
    assert out.exit_code == 2 and match in out.error
    assert not (tmp_path / "reports" / "r" / "index.html").exists()


def test_result_file_from_another_preset(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    doc = B.profile_doc("device")
    for b in doc["benchmarks"]:
        b["extra_info"]["preset"] = "quick"
    B.write(results / "device.json", doc)
    out = R.run_report_html([str(results)], out=str(tmp_path / "reports"), run="r")
    assert out.exit_code == 2 and "different presets" in out.error and "device.json" in out.error


def test_cli_report_html_bad_input(tmp_path, capsys):
    assert main(["report-html", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "no such file or folder" in capsys.readouterr().err


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
    assert pixels.shape[:2] == (2000, 1280)
    assert float(np.std(pixels)) > 0.05  # not one flat colour
    assert float((pixels.mean(axis=2) < 0.5).mean()) > 0.005  # some dark ink: text, axes


def test_unstable_results_are_counted_and_folded_notes_stay_open():
    lines = R.warnings_html(["edge-idle: limit cpu_quota not enforced (no cgroup)",
                             "device: test_inference[full-keras] unstable (CV 23.3% > 10%); rerun ...",
                             "device: test_prune[pf=70-filter] unstable (3 rounds < 5); rerun ..."])
    page = "\n".join(lines)
    assert "1 warning(s) about the runs" in page and "not enforced" in page.split("<details>")[0]
    assert "2 unstable result(s)</b>" in page and "device 2" in page
    assert page.index("<details>") < page.index("test_inference[full-keras]")
