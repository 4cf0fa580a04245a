"""verdicts: the gate's verdicts kept beside the history, read back by the dashboard."""
import json

import pytest

from reports import gate as G
from reports.cli import gate_inputs
from reports import publish as P
from reports import verdicts as V
from harness.fingerprint import run_fingerprint

from . import benchjson as B
from . import conftest_data as D


@pytest.fixture
def judged(tmp_path):
    """Four saved runs of edge-idle and a current run whose inference is 1.5x slower, judged by the gate."""
    storage = tmp_path / "history" / "edge-idle"
    D.save_history(storage, [D.honest_run(i, commit=f"c{i}abcdef") for i in range(4)])
    current = B.write(tmp_path / "current.json", D.honest_run(9, commit="feedbeef", slowdown={"inference": 1.5}))
    current_run, entries = gate_inputs("edge-idle", storage, str(current), None)
    return storage, current, G.gate(entries, current_run, where=storage)


def test_gate_result_round_trips(judged):
    storage, current, result = judged
    path = V.write_gate_verdicts(result, storage, "edge-idle")
    assert path.parent == storage / V.FOLDER and path.name.startswith("verdict-") and "feedbeef" in path.name
    (record,) = V.read_records(storage)
    assert record["profile"] == "edge-idle" and record["host"] == D.MACHINE_ID
    assert record["fingerprint"] == run_fingerprint(json.loads(current.read_text())["machine_info"])["id"]
    assert record["current"]["commit"] == "feedbeef" and record["outcome"] == result.outcome == "regression"
    assert record["baselines"] == [e.id for e in result.baselines]
    by_name = {r["name"]: r for r in record["rows"]}
    assert {r.name: r.verdict for r in result.rows} == {n: r["verdict"] for n, r in by_name.items()}
    slowed = [r for r in result.rows if r.verdict == "regression"]
    assert slowed and all(by_name[r.name]["ratio"] == pytest.approx(r.ratio) for r in slowed)


def test_history_readers_pass_over_the_records(judged):
    from reports import storage as S

    storage, _, result = judged
    V.write_gate_verdicts(result, storage, "edge-idle")
    assert S.host_folders(storage) == [D.MACHINE_ID]
    assert len(S.list_entries(storage, profile="edge-idle")) == 4


def test_the_dashboard_marks_a_judged_run_outside_the_history(judged, tmp_path):
    storage, current, result = judged
    V.write_gate_verdicts(result, storage, "edge-idle")
    data = P.publish(storage.parent, tmp_path / "out", workers=1).dashboard.data
    names = [data["verdict_names"][v] for v in data["verdicts"]["v"]]
    assert names.count("regression") == len(result.regressions) > 0
    assert set(data["verdicts"]["r"]) == {-1}  # the current run is not a history entry: placed by its time


@pytest.mark.parametrize("text, message", [
    ("{", "malformed JSON"),
    ('{"format": "other"}', "not a verdict record"),
    ('{"format": "continuum-bench-verdicts", "version": 9}', "field 'version' is 9"),
    ('{"format": "continuum-bench-verdicts", "version": 1, "profile": "device", "host": "h", "fingerprint": "f",'
     ' "current": {}, "rows": [{"name": "x"}]}', r"rows\[0\] needs a 'name' and a 'verdict'"),
])
def test_bad_record_names_file_and_field(tmp_path, text, message):
    path = tmp_path / "verdicts" / "verdict-1.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(V.VerdictError, match=message) as info:
        V.read_records(tmp_path)
    assert str(path) in str(info.value)


def test_gate_save_verdict_keeps_the_record_beside_the_history(tmp_path, capsys):
    from reports.cli import main

    storage = tmp_path / "history" / "edge-idle"
    D.save_history(storage, [D.honest_run(i, commit=f"c{i}abcdef") for i in range(4)])
    current = B.write(tmp_path / "current.json", D.honest_run(9, commit="feedbeef", slowdown={"inference": 1.5}))
    args = ["gate", "--profile", "edge-idle", "--storage", str(storage), "--current", str(current)]
    assert main(args) == 1 and not (storage / "verdicts").exists()  # printing only, by default
    assert main([*args, "--save-verdict"]) == 1
    (record,) = V.read_records(storage)
    assert record["outcome"] == "regression" and record["current"]["commit"] == "feedbeef"
