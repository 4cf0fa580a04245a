"""publish: the static dashboard of a history tree of many machines and profiles."""
import html
import json
import os
import re
import shutil
import subprocess
import time

import numpy as np
import pytest

from reports import cli
from reports import publish as P
from reports import storage as S
from reports import verdicts as V
from harness.fingerprint import run_fingerprint

from . import benchjson as B
from . import histgen as H

RUNS, CASES, REGRESS_AT = 5, 4, 3
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,800"]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """3 machines (one profile each) x 5 runs x 4 cases, plus a second host of machine 0's hardware."""
    root = tmp_path_factory.mktemp("publish") / "history"
    hosts = H.machines(3)
    hosts.append(hosts[0].twin("bench-twin"))
    return H.write_history(root, hosts, RUNS, CASES, regress_at=REGRESS_AT, verdict_from=1, rerun_every=4)


@pytest.fixture(scope="module")
def published(history, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "dashboard"
    done = P.publish(history.root, out, workers=1)
    return out, done, P.read_data(out)


def _series(data, profile, machine_id, case_key):
    g = next(i for i, g in enumerate(data["groups"])
             if data["profiles"][g["p"]] == profile and data["machines"][g["m"]]["id"] == machine_id)
    c = next(i for i, c in enumerate(data["cases"]) if c["key"] == case_key)
    return g, next(s for s, (sg, sc) in enumerate(zip(data["series"]["g"], data["series"]["c"])) if (sg, sc) == (g, c))


def test_machines_are_fingerprints_and_twins_pool(history, published):
    _, done, data = published
    fps = {h.hostname: run_fingerprint(S.load_run(history.runs[h.hostname, 0]).machine_info)["id"]
           for h in history.machines}
    assert len(set(fps.values())) == 3 and fps["bench-twin"] == fps["bench-00"]
    assert sorted(m["id"] for m in data["machines"]) == sorted(set(fps.values()))
    pooled = next(m for m in data["machines"] if m["id"] == fps["bench-00"])
    assert sorted(pooled["hosts"]) == ["bench-00", "bench-twin"]
    assert pooled["versions"] == {"TensorFlow": ["2.21.0"], "LiteRT": ["2.3.0"], "numpy": ["2.4.6"]}
    assert done.dashboard.counts["runs"] == 4 * RUNS
    assert data["profiles"] == ["device", "edge-idle", "edge-loaded"]


def test_every_run_median_and_quartiles_are_in_the_data(history, published):
    out, _, data = published
    for (host, i), path in history.runs.items():
        run = S.load_run(path)
        fp = run_fingerprint(run.machine_info)["id"]
        for b in run.benchmarks:
            g, s = _series(data, run.profile, fp, b.key)
            grp = data["groups"][g]
            j = [os.path.normpath(out / p) for p in data["runs"]["path"][grp["start"]:grp["start"] + grp["n"]]
                 ].index(os.path.normpath(path))
            got = P.series_values(data, s)
            q1, q3 = np.percentile(b.data, [25, 75])
            assert got["m"][j] == pytest.approx(b.median_s, rel=1e-4)
            assert (got["q1"][j], got["q3"][j]) == (pytest.approx(q1, rel=1e-4), pytest.approx(q3, rel=1e-4))
    assert len(data["cases"]) == len({b.key for p in history.runs.values() for b in S.load_run(p).benchmarks})


def test_links_open_the_runs(history, published):
    out, _, data = published
    linked = sorted(os.path.normpath(out / p) for p in data["runs"]["path"])
    assert linked == sorted(os.path.normpath(p) for p in history.runs.values())
    assert all(not os.path.isabs(p) for p in data["runs"]["path"])


def test_runs_in_time_order_and_reruns_share_a_commit(published):
    _, _, data = published
    for g in data["groups"]:
        ts = data["runs"]["t"][g["start"]:g["start"] + g["n"]]
        assert ts == sorted(ts)
    assert data["commits"][:RUNS - 1] == [H.commit_id(i) for i in range(RUNS - 1)]
    # run 4 measured commit 3 again (rerun_every=4): one commit fewer than runs
    assert len(data["commits"]) == RUNS - 1


def test_gate_verdicts_sit_on_the_runs_they_judged(history, published):
    _, _, data = published
    v = data["verdicts"]
    judged = {next(h.hostname for h in history.machines if h.profile == p) for p in H.PROFILES}
    assert len(history.verdicts) == len(judged) * (RUNS - 1)
    regressions = [(s, r) for s, r, code in zip(v["s"], v["r"], v["v"]) if data["verdict_names"][code] == "regression"]
    # even hosts are slowed from run REGRESS_AT on: the judged ones regress there, in inference cases only
    slowed = {h.hostname for i, h in enumerate(history.machines) if i % 2 == 0} & judged
    assert {data["runs"]["path"][r].rsplit("/", 1)[-1] for _, r in regressions} == {
        history.runs[h, REGRESS_AT].name for h in slowed}
    assert {data["cases"][data["series"]["c"][s]]["op"] for s, _ in regressions} == {H.REGRESSED_OPERATION}
    assert all(r >= 0 for r in v["r"])


def test_a_verdict_on_a_run_not_in_the_history_is_placed_by_time_or_noted(history, tmp_path):
    root = tmp_path / "history"
    shutil.copytree(history.root, root)
    doc = json.loads(history.runs["bench-01", 0].read_text())
    case = doc["benchmarks"][0]
    row = {"name": case["fullname"], "operation": case["extra_info"]["operation"], "verdict": "regression",
           "mark": "+", "metric": "time", "ratio": 1.3, "limit": 1.1, "current_s": 0.5, "reference_s": 0.4}
    common = dict(profile="edge-idle", host="bench-01/x", machine_info=doc["machine_info"], commit="feedbeef",
                  datetime="2026-06-02T20:00:00+00:00", source="results/edge-idle.json", outcome="regression",
                  baselines=["0001"])
    V.write_record(V.verdict_record(**common, rows=[row]), root / "edge-idle")
    V.write_record(V.verdict_record(**{**common, "profile": "device"}, rows=[row]), root / "device")
    data = P.read_data(P.publish(root, tmp_path / "out", workers=1).paths[0].parent)
    placed = [i for i, r in enumerate(data["verdicts"]["r"]) if r == -1]
    assert len(placed) == 1 and data["verdicts"]["y"][placed[0]] == 0.5
    assert any("1 gate verdict(s) on a machine, profile or case this history does not hold" in n for n in data["notes"])


def test_invalid_and_counted_runs_left_out_and_named(history, tmp_path):
    root = tmp_path / "history"
    shutil.copytree(history.root, root)
    bad = history.runs["bench-01", 1]
    target = root / bad.relative_to(history.root)
    doc = json.loads(target.read_text())
    doc["machine_info"]["continuum"]["load"] = {"valid": False, "died": [{"index": 0, "pid": 7, "returncode": -9}]}
    target.write_text(json.dumps(doc))
    counted = root / "counts" / "host" / B.MACHINE_ID / "0001_abc_20260601_080000.json"
    B.write(counted, B.counts_doc())
    broken = target.with_name("0099_deadbeef_20260601_080000.json")
    broken.write_text("{ not json")
    done = P.publish(root, tmp_path / "out", workers=1)
    notes = "\n".join(done.dashboard.data["notes"])
    assert done.dashboard.counts["runs"] == 4 * RUNS - 1
    assert f"{target}: left out (machine_info.continuum.load.valid: false" in notes
    assert f"{counted}: left out (a counted run" in notes
    assert f"{broken}: left out ({broken}: malformed or truncated JSON" in notes
    shown = P.publish(root, tmp_path / "out2", workers=1, allow_invalid=True)
    assert shown.dashboard.counts["runs"] == 4 * RUNS


def test_pool_reads_what_one_process_reads(history, tmp_path, monkeypatch):
    monkeypatch.setattr(P, "POOL_MIN_FILES", 1)
    one = P.publish(history.root, tmp_path / "one", workers=1).dashboard.data
    two = P.publish(history.root, tmp_path / "two", workers=2).dashboard.data
    for key in ("machines", "cases", "groups", "runs", "series", "codes", "verdicts"):
        assert one[key] == two[key], key


def test_cache_reads_only_new_or_changed_runs(history, tmp_path, monkeypatch):
    root = tmp_path / "history"
    shutil.copytree(history.root, root)
    cache = tmp_path / "cache"
    first = P.publish(root, tmp_path / "a", workers=1, cache=cache).dashboard.data
    calls = []
    real = P.read_entry
    monkeypatch.setattr(P, "read_entry", lambda path, allow=False: calls.append(path) or real(path, allow))
    again = P.publish(root, tmp_path / "b", workers=1, cache=cache).dashboard.data
    assert calls == [] and again["codes"] == first["codes"]
    changed = root / history.runs["bench-01", 2].relative_to(history.root)
    doc = json.loads(changed.read_text())
    for b in doc["benchmarks"]:
        b["stats"]["median"] *= 2
    changed.write_text(json.dumps(doc))
    data = P.publish(root, tmp_path / "c", workers=1, cache=cache).dashboard.data
    assert calls == [changed]
    b = S.load_run(changed).benchmarks[0]
    g, s = _series(data, b.profile, run_fingerprint(S.load_run(changed).machine_info)["id"], b.key)
    assert P.series_values(data, s)["m"][2] == pytest.approx(b.median_s, rel=1e-4)


def test_page_is_self_contained(published):
    out, done, data = published
    page = (out / "index.html").read_text()
    assert [p.name for p in done.paths] == ["index.html", "data.js"]
    assert '<script src="data.js"></script>' in page and "/*SCRIPT*/" not in page
    for control in ("f-op", "f-profile", "f-machine", "f-case", "f-x"):
        assert f'id="{control}"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from a network
    assert "http" not in (out / "data.js").read_text().split('"codes"')[0]


def test_one_profile_storage_publishes_too(history, tmp_path):
    data = P.publish(history.root / "device", tmp_path / "out", workers=1).dashboard.data
    assert data["profiles"] == ["device"]


def test_bad_input_names_it(tmp_path, history, capsys):
    missing = tmp_path / "nowhere"
    assert cli.main(["publish", str(missing), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: history folder not found" in err and "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["publish", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no saved runs" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert cli.main(["publish", str(history.root), "--out", str(afile)]) == 2
    assert f"{afile}: not a folder" in capsys.readouterr().err
    assert cli.main(["publish", str(history.root), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "--workers must be >= 1, got 0" in capsys.readouterr().err
    bad = tmp_path / "badverdict"
    shutil.copytree(history.root, bad)
    (bad / "device" / "verdicts" / "verdict-x.json").write_text('{"format": "continuum-bench-verdicts", "version": 1}')
    assert cli.main(["publish", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "verdict-x.json: field 'profile' missing" in capsys.readouterr().err


def test_nothing_to_publish_says_why(tmp_path):
    counted = B.write(tmp_path / "counts" / "host" / B.MACHINE_ID / "0001_abc_20260601_080000.json", B.counts_doc())
    with pytest.raises(P.PublishError, match=f"no run to publish \\(1 left out; first: {counted}: a counted run"):
        P.publish(tmp_path, tmp_path / "out", workers=1)


def test_cli_writes_the_folder(history, tmp_path, capsys):
    out = tmp_path / "dash"
    assert cli.main(["publish", str(history.root), "--out", str(out), "--workers", "1"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"wrote {out / 'index.html'} (3 machines, 3 profiles, ")
    assert (out / "data.js").is_file()


def test_codes_round_trip():
    values = np.array([1e-6, 3.3e-3, np.nan, 2.0])
    lo, step = P.log_scale(values)
    assert step > P.MIN_STEP  # a 2e6-fold range: coarser steps, never clipped
    codes = P.encode(values, lo, step)
    assert codes[2] == P.MISSING
    back = P.decode(codes, lo, step)
    assert np.isnan(back[2]) and np.allclose(back[[0, 1, 3]], values[[0, 1, 3]], rtol=step)
    assert P.log_scale(np.array([1e-3, 1.1e-3]))[1] == P.MIN_STEP


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render_in_chromium(page, tmp_path) -> str:
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (apt-get install -y chromium)")
def test_page_draws_in_chromium(published, tmp_path):
    out, _, data = published
    dom = render_in_chromium(out / "index.html", tmp_path)
    charts = int(re.search(r'data-charts="(\d+)"', dom).group(1))
    inference = [c["name"] for c in data["cases"] if c["op"] == "inference"]
    assert charts == len(inference) > 0
    assert re.search(r'data-first-render-ms="\d+"', dom)
    for name in inference:
        assert f">{name}</h2>" in dom
    assert "3 machines, 3 profiles" in dom and "bench-twin" in dom  # the summary and the machine table


#: appended to a copy of the page: click across the first chart until a point is hit
CLICK_SCRIPT = """<script>
(function () {
  var c = document.querySelector('canvas'), r = c.getBoundingClientRect();
  for (var y = r.top; y < r.bottom && document.getElementById('detail').hidden; y += 3)
    for (var x = r.left; x < r.right && document.getElementById('detail').hidden; x += 3)
      c.dispatchEvent(new MouseEvent('click', {clientX: x, clientY: y, bubbles: true}));
})();
</script></body>"""


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (apt-get install -y chromium)")
def test_clicking_a_point_lists_links_to_its_runs(published, history, tmp_path):
    out, _, _ = published
    page = out / "clicked.html"
    page.write_text((out / "index.html").read_text().replace("</body>", CLICK_SCRIPT))
    dom = render_in_chromium(page, tmp_path)
    detail = dom[dom.index('<section id="detail"'):dom.index("</section>")]
    links = re.findall(r'<a href="([^"]+)"', detail)
    assert links and "<th>median</th>" in detail
    runs = {os.path.normpath(p) for p in history.runs.values()}
    assert all(os.path.normpath(out / html.unescape(link)) in runs for link in links)


@pytest.mark.slow
def test_large_history_publishes_and_opens(tmp_path):
    """50 machines x 200 runs x 90 cases: generated and opened in chromium; the times go to the report, not here."""
    if _chromium() is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    h = H.write_history(tmp_path / "history", H.machines(50), 200, 90, regress_at=120)
    start = time.perf_counter()
    done = P.publish(h.root, tmp_path / "out")
    seconds = time.perf_counter() - start
    dom = render_in_chromium(tmp_path / "out" / "index.html", tmp_path)
    assert done.dashboard.counts["machines"] == 50 and done.dashboard.counts["runs"] == 50 * 200
    first = re.search(r'data-first-render-ms="(\d+)"', dom)
    assert first, dom[-2000:]
    print(f"publish {seconds:.1f} s, first render {first.group(1)} ms")
