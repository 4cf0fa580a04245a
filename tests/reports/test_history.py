"""history: list a profile's saved runs on a host, plot one benchmark's median across them."""
import json

import pytest

from harness import contract
from reports import history as H
from reports import storage as S
from reports.cli import main, run_history

from . import conftest_data as D

NAME = "test_inference[pf=70-filter-litert]"


@pytest.fixture
def storage(tmp_path):
    root = tmp_path / "results" / "history"
    docs = [D.honest_run(i, commit=f"c{i}abcdef", slowdown={"inference": 1 + 0.1 * i}) for i in range(4)]
    D.save_history(root / "edge-idle", docs)
    return root


def test_list_runs_oldest_first(storage):
    entries = S.list_entries(storage, profile="edge-idle")
    assert [e.id for e in entries] == ["0001", "0002", "0003", "0004"]
    assert entries[0].machine_id == D.MACHINE_ID and entries[0].profile == "edge-idle"
    lines = H.format_text(entries)
    assert "4 saved run(s)" in lines[0] and any("c2abcdef" in line for line in lines)


def test_median_series_follows_the_slowdown(storage):
    series = H.median_series(S.list_entries(storage, profile="edge-idle"), NAME)
    medians = [m for _, m in series]
    assert medians == sorted(medians) and medians[-1] / medians[0] == pytest.approx(1.3, rel=0.05)


def test_plot_writes_png(storage, tmp_path):
    out = run_history(str(storage), profile="edge-idle", benchmark=NAME, plot=str(tmp_path / "med.png"))
    assert out.exit_code == 0, out.error
    png = tmp_path / "med.png"
    assert png.stat().st_size > 5000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_listing(storage):
    out = run_history(str(storage / "edge-idle"), format="json")
    assert [e["id"] for e in json.loads("\n".join(out.lines))] == ["0001", "0002", "0003", "0004"]


@pytest.mark.parametrize("setup, match", [
    (lambda p: None, "history folder not found"),
    (lambda p: p.mkdir(parents=True), "no saved runs"),
])
def test_missing_or_empty_storage(tmp_path, setup, match):
    folder = tmp_path / "hist"
    setup(folder)
    out = run_history(str(folder))
    assert out.exit_code == 2 and match in out.error


def test_unknown_benchmark_and_host(storage):
    out = run_history(str(storage), profile="edge-idle", benchmark="test_nope")
    assert out.exit_code == 2 and "no saved run holds benchmark 'test_nope'" in out.error
    out = run_history(str(storage), profile="edge-idle", machine_id="Other-Host")
    assert out.exit_code == 2 and "no saved run folders for host Other-Host" in out.error


def test_entry_of_another_profile_is_left_out_with_a_warning_naming_it(storage):
    D.save_history(storage / "mixed", [D.honest_run(1), D.honest_run(2, profile="device")])
    out = run_history(str(storage / "mixed"), profile="edge-idle")
    assert out.exit_code == 0 and out.lines[0].startswith("1 saved run(s)")
    assert len(out.warnings) == 1 and "0002_" in out.warnings[0] and "'device'" in out.warnings[0]


def test_cli_history(storage, capsys):
    assert main(["history", "--storage", str(storage), "--profile", "edge-idle"]) == 0
    assert "0004" in capsys.readouterr().out
    assert main(["history", "--storage", str(storage / "nope")]) == 2


def test_hostname_layout_of_the_suite(tmp_path):
    """The suite's conftest stores runs under <profile>/<hostname>/<machine-id>/."""
    root = tmp_path / "history"
    D.save_history(root / "edge-idle", [D.honest_run(1)], machine_id=f"node-a/{D.MACHINE_ID}")
    D.save_history(root / "edge-idle", [D.honest_run(2), D.honest_run(3)], machine_id=f"node-b/{D.MACHINE_ID}")
    out = run_history(str(root), profile="edge-idle")
    assert out.exit_code == 2 and "node-a/" in out.error and "--machine-id" in out.error
    entries = S.list_entries(root, profile="edge-idle", machine_id="node-b")
    assert [e.id for e in entries] == ["0001", "0002"] and entries[0].machine_id == f"node-b/{D.MACHINE_ID}"


def test_this_host_is_chosen_among_several(tmp_path, monkeypatch):
    root = tmp_path / "history"
    monkeypatch.setattr(contract.socket, "gethostname", lambda: "me")
    monkeypatch.setattr(S, "current_machine_id", lambda: D.MACHINE_ID)
    D.save_history(root, [D.honest_run(1)], machine_id=f"other/{D.MACHINE_ID}")
    D.save_history(root, [D.honest_run(2), D.honest_run(3)], machine_id=f"me/{D.MACHINE_ID}")
    assert len(S.list_entries(root)) == 2


def test_listing_flags_runs_whose_load_died(storage):
    docs = [D.honest_run(1), D.honest_run(2)]
    docs[1]["machine_info"]["continuum"]["load"] = {"workers": 2, "valid": False, "state": "stopped",
                                                    "died": [{"index": 0, "pid": 3, "returncode": -9}]}
    D.save_history(storage / "flagged", docs)
    out = run_history(str(storage / "flagged"), profile="edge-idle")
    rows = [line for line in out.lines if line.startswith("000")]
    assert "INVALID" not in rows[0] and "INVALID" in rows[1]
    listing = json.loads("\n".join(run_history(str(storage / "flagged"), format="json").lines))
    assert listing[1]["invalid"][0].startswith("machine_info.continuum.load.valid: false")
