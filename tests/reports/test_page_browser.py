"""The report page in a real browser (headless chromium at 1,280 x 800): the answer on the first
screen, no table wider than its container, figure text of at least 10 px; skipped without chromium."""
import pytest

from reports.cli import run_report

from . import benchjson as B
from . import browser as W

#: The first screen the answer must fit on, and the smallest figure text a reader gets there.
FIRST_SCREEN = (1280, 800)
MIN_FIGURE_TEXT_PX = 10

pytestmark = pytest.mark.skipif(W.chromium() is None,
                                reason="chromium is not installed (Debian: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """The page of the three hand-made profiles, measured in chromium at 1,280 x 800."""
    root = tmp_path_factory.mktemp("browser")
    results = B.write_results_dir(root / "results")
    out = run_report(results=[str(results)], out=str(root / "report"), run="r")
    assert out.exit_code == 0, out.error
    page = root / "report" / "r" / "index.html"
    return page, W.measure(page, root / "chromium", *FIRST_SCREEN)


def test_the_answer_lies_within_the_first_screen(measured):
    _, m = measured
    assert m["innerWidth"] == FIRST_SCREEN[0]
    roles = {a["role"] for a in m["answer"]}
    assert roles == {"pipeline", "cost", "assumption"}
    below = [a for a in m["answer"] if a["bottom"] > FIRST_SCREEN[1]]
    assert below == [], f"below the first screen: {below}"
    assert all(a["text"] for a in m["answer"])


def test_no_table_overflows_its_container(measured):
    _, m = measured
    assert m["pageWidth"] <= m["innerWidth"]
    assert len(m["containers"]) >= 8  # Table I, II, the profiles, every benchmark (opened), ...
    cut = [c for c in m["containers"] if c["scrollWidth"] > c["clientWidth"]]
    assert cut == [], f"tables wider than their container: {cut}"
    assert [t for t in m["tables"] if t["right"] > t["parentRight"] + 0.5] == []


def test_a_click_on_a_header_sorts_the_every_benchmark_table(measured):
    _, m = measured
    table = next(t for t in m["sorted"] if t["id"] == "t-measurements")
    assert table["column"] == "median" and len(table["values"]) > 10
    assert table["values"] == sorted(table["values"]) and table["values"] != sorted(table["values"], reverse=True)


def test_figure_text_is_at_least_10_px(measured):
    _, m = measured
    assert len(m["figures"]) >= 6
    for f in m["figures"]:
        shown_px = f["minFontPx"] * f["shown"] / f["natural"]
        assert shown_px >= MIN_FIGURE_TEXT_PX, f"{f['id']}: smallest text {shown_px:.1f} px"


def test_the_first_screen_is_not_blank(measured, tmp_path):
    np = pytest.importorskip("numpy")
    from matplotlib.image import imread

    page, _ = measured
    pixels = imread(W.screenshot(page, tmp_path / "first.png", tmp_path / "chromium", *FIRST_SCREEN))[..., :3]
    assert pixels.shape[:2] == (FIRST_SCREEN[1], FIRST_SCREEN[0])
    assert float(np.std(pixels)) > 0.05  # not one flat colour
    assert float((pixels.mean(axis=2) < 0.5).mean()) > 0.005  # some dark ink: text, figures
