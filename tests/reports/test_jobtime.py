"""Where a main job's time went (reports/jobtime.py), from the profiles' saved records."""

from __future__ import annotations

import datetime as dt

from reports.jobtime import job_time_lines
from reports.storage import load_results

from .benchjson import profile_doc, write

START = dt.datetime(2026, 12, 2, 5, 0, tzinfo=dt.timezone.utc)


def _timing(total, prune_timed, prune_setup, *, load=None):
    fixtures = {"threads": 8.0, "dataset": 1.5, "base": 2.0}
    if load is not None:
        fixtures["background_load"] = load
    return {"total_s": total, "start_up_s": 0.5, "fixtures_s": fixtures,
            "operations": {"prune": {"cases": 10, "timed_s": prune_timed, "setup_s": prune_setup,
                                     "total_s": prune_timed + prune_setup}},
            "other_s": 0.3}


def _doc(profile, timing, end):
    doc = profile_doc(profile)
    doc["machine_info"]["continuum_timing"] = timing
    doc["datetime"] = end.isoformat()
    return doc


def _lines(tmp_path, docs):
    paths = [write(tmp_path / f"{p}.json", d) for p, d in docs.items()]
    return job_time_lines(load_results(*paths).runs)


def test_sessions_side_by_side_with_totals_and_the_gaps_between_them(tmp_path):
    device_end = START + dt.timedelta(seconds=300)
    # edge-idle starts 12 s after the device session ended (tox installing its environment)
    idle_end = device_end + dt.timedelta(seconds=12 + 200)
    lines = _lines(tmp_path, {
        "edge-idle": _doc("edge-idle", _timing(200.0, 30.0, 5.0), idle_end),  # listed first: order is by time
        "device": _doc("device", _timing(300.0, 40.0, 6.0), device_end),
    })
    text = "\n".join(lines)
    header = lines[1].split()
    assert header == ["device", "edge-idle", "all"]
    session = next(line for line in lines if line.strip().startswith("session, process start to end"))
    assert session.split()[-3:] == ["300.0", "200.0", "500.0"]
    prune_timed = next(line for line in lines if line.strip().startswith("prune timed"))
    assert prune_timed.split()[-3:] == ["40.0", "30.0", "70.0"]
    assert "TensorFlow import" in text and "background load" not in text
    assert "between sessions (tox: the next environment's install, process start): 12.0 s" in text
    assert "first session's start to last session's end: 512.0 s" in text


def test_sessions_days_apart_are_no_job(tmp_path):
    lines = _lines(tmp_path, {
        "device": _doc("device", _timing(300.0, 40.0, 6.0), START),
        "edge-loaded": _doc("edge-loaded", _timing(400.0, 60.0, 9.0, load=1.2), START + dt.timedelta(days=2)),
    })
    assert lines[-1] == "  the sessions did not run back to back: no job span"
    assert any(line.strip().startswith("background load start") for line in lines)


def test_runs_without_a_timing_record_give_no_lines(tmp_path):
    assert _lines(tmp_path, {"device": profile_doc("device")}) == []
