"""hosts: every machine (hardware fingerprint) of one history side by side; bad input refused."""
import copy
import json
import math

import pytest

from harness.fingerprint import fingerprint
from reports.cli import EXIT_ONE_MACHINE, main, run_gate, run_history, run_hosts
from reports.storage import store_entries

from . import benchjson as B
from . import conftest_data as D

PROFILE = "edge-idle"
FAST = {"brand_raw": "Fast CPU", "vendor_id_raw": "GenuineIntel", "family": 6, "model": 143, "count": 8,
        "flags": ["sse4_2", "avx2", "avx512f", "avx512_vnni", "amx_int8", "hypervisor"]}
SLOW = {"brand_raw": "Slow CPU", "vendor_id_raw": "AuthenticAMD", "family": 23, "model": 49, "count": 8,
        "flags": ["sse4_2", "avx2"]}


def run_on(cpu, seed, *, slower=1.0, quota=None, datetime=None, **kw):
    doc = D.honest_run(seed, between_sd=0.02, shift=slower, **kw)
    doc["machine_info"]["cpu"] = copy.deepcopy(cpu)
    if quota is not None:
        doc["machine_info"]["continuum"]["profile"]["enforced"]["cpu_quota"] = {"requested": True, "enforced": True,
                                                                              "value": quota}
    doc["datetime"] = datetime or f"2026-11-27T08:{seed % 60:02d}:00+00:00"
    return doc


def save(folder, docs, start=1):
    for i, doc in enumerate(docs, start=start):
        B.write(folder / f"{i:04d}_{doc['commit_info']['id']}_2026_r{i:08x}.json", doc)


def two_machines(tmp_path, fast_runs=4, slow_runs=3, slower=2.0):
    """One hostname ("vm") and two CPUs in one host folder: the case the fingerprint tells apart."""
    storage = tmp_path / "history"
    folder = storage / PROFILE / "vm" / B.MACHINE_ID
    save(folder, [run_on(FAST, i) for i in range(fast_runs)]
         + [run_on(SLOW, 20 + i, slower=slower) for i in range(slow_runs)])
    return storage


def test_two_cpus_under_one_hostname_are_two_machines_with_the_ratio_between_them(tmp_path):
    storage = two_machines(tmp_path)
    out = run_hosts(str(storage), profile=PROFILE, format="json")
    assert out.exit_code == 0, out.error
    doc = json.loads("\n".join(out.lines))
    fast, slow = doc["machines"]
    assert (fast["runs"], slow["runs"]) == (4, 3)  # the reference: most runs
    assert doc["reference"] == fast["id"] != slow["id"]
    cells = [c for c in doc["cases"] if c["machine"] == slow["id"]]
    assert len(cells) == 10 and all(1.8 < c["ratio"] < 2.2 and c["low"] < c["ratio"] < c["high"] for c in cells)
    assert sum(c["low"] < 2.0 < c["high"] for c in cells) >= 8  # 95 % intervals: rarely more than one miss
    assert all(c["ratio"] is None for c in doc["cases"] if c["machine"] == fast["id"])
    assert all(c["marks"] == [] for c in cells)


def test_ratio_interval_carries_both_machines_noise(tmp_path):
    """Noisier runs on either machine give a wider interval (same ratio of means)."""
    widths = []
    for sd in (0.01, 0.2):
        storage = tmp_path / f"sd{sd}" / PROFILE / "vm" / B.MACHINE_ID
        fast = [run_on(FAST, i) for i in range(3)]
        slow = [run_on(SLOW, 20 + i, slower=2.0 * math.exp(sd * (i - 1))) for i in range(3)]
        save(storage, fast + slow)
        doc = json.loads("\n".join(run_hosts(str(storage.parents[2]), profile=PROFILE, format="json").lines))
        c = next(c for c in doc["cases"] if c["ratio"] is not None)
        widths.append(math.log(c["high"] / c["low"]))
    assert widths[1] > 5 * widths[0]


def test_baseline_flag_and_an_unknown_one(tmp_path):
    storage = two_machines(tmp_path)
    doc = json.loads("\n".join(run_hosts(str(storage), profile=PROFILE, format="json").lines))
    slow_id = doc["machines"][1]["id"]
    other = json.loads("\n".join(run_hosts(str(storage), profile=PROFILE, baseline=slow_id[:6], format="json").lines))
    assert other["reference"] == slow_id
    assert all(c["ratio"] < 0.6 for c in other["cases"] if c["ratio"] is not None)
    bad = run_hosts(str(storage), profile=PROFILE, baseline="nosuch")
    assert bad.exit_code == 2 and "--baseline nosuch" in bad.error
    assert doc["machines"][0]["id"] in bad.error and slow_id in bad.error and "Slow CPU" in bad.error


def test_one_machine_says_so_with_exit_3(tmp_path, capsys):
    storage = tmp_path / "history"
    save(storage / PROFILE / "vm" / B.MACHINE_ID, [run_on(FAST, i) for i in range(3)])
    assert main(["hosts", "--storage", str(storage), "--profile", PROFILE]) == EXIT_ONE_MACHINE == 3
    err = capsys.readouterr()
    assert "one machine only" in err.err and "3 run(s)" in err.err and err.out == ""


def test_one_cpu_under_two_hostnames_is_one_machine(tmp_path):
    storage = tmp_path / "history"
    save(storage / PROFILE / "vm" / B.MACHINE_ID, [run_on(FAST, i) for i in range(2)])
    save(storage / PROFILE / "runner-7" / B.MACHINE_ID, [run_on(FAST, 10 + i) for i in range(2)])
    out = run_hosts(str(storage), profile=PROFILE)
    assert out.exit_code == 3 and "4 run(s) under runner-7/" in out.error


def test_the_cpu_quota_makes_another_machine(tmp_path):
    storage = tmp_path / "history"
    save(storage / PROFILE / "vm" / B.MACHINE_ID, [run_on(FAST, i) for i in range(3)]
         + [run_on(FAST, 10 + i, slower=2.0, quota=0.5) for i in range(3)])
    out = run_hosts(str(storage), profile=PROFILE)
    assert out.exit_code == 0 and "CPU quota 0.5" in "\n".join(out.lines)


@pytest.mark.parametrize("change, mark, compared", [
    (lambda d: [b["extra_info"].update(preset="quick") for b in d["benchmarks"]], "preset quick, reference tiny",
     False),
    (lambda d: d["machine_info"]["continuum"].update(versions={"tensorflow": "2.99.0"}),
     "library versions differ: TensorFlow 2.99.0 vs None", True),
    (lambda d: d["benchmarks"].pop(), "case set differs", True),
])
def test_other_workloads_are_marked_never_silently_compared(tmp_path, change, mark, compared):
    storage = tmp_path / "history"
    slow = [run_on(SLOW, 20 + i, slower=2.0) for i in range(3)]
    for d in slow:
        change(d)
    save(storage / PROFILE / "vm" / B.MACHINE_ID, [run_on(FAST, i) for i in range(4)] + slow)
    doc = json.loads("\n".join(run_hosts(str(storage), profile=PROFILE, format="json").lines))
    cells = [c for c in doc["cases"] if c["machine"] == doc["machines"][1]["id"]]
    assert cells and all(any(mark in m for m in c["marks"]) for c in cells)
    assert all((c["ratio"] is not None) == compared for c in cells)


def test_merged_copies_count_once_and_a_bad_entry_is_skipped_naming_it(tmp_path):
    storage = two_machines(tmp_path)
    root = storage / PROFILE
    first = sorted((root / "vm" / B.MACHINE_ID).glob("*.json"))[0]
    copy_dir = root / "vm-renamed" / B.MACHINE_ID
    copy_dir.mkdir(parents=True)
    (copy_dir / first.name).write_bytes(first.read_bytes())  # the same run, pulled in under another host
    (copy_dir / "0009_x_r00000009.json").write_text("{not json")
    entries, warnings = store_entries(storage, profile=PROFILE)
    assert len(entries) == 7
    assert any("0009_x_r00000009.json" in w and "skipped" in w for w in warnings)
    assert any(first.name in w and "counted once" in w for w in warnings)
    out = run_hosts(str(storage), profile=PROFILE, format="csv")
    assert out.exit_code == 0 and out.lines[0].startswith("# warning:")
    assert any(line.startswith("case,operation,machine") for line in out.lines)


def test_fingerprint_collision_between_different_cpus_is_reported(tmp_path):
    """Old runs that recorded no flags, family or model cannot be told apart by the fingerprint, but a
    CPU count that differs shows two CPUs under one fingerprint."""
    storage = tmp_path / "history"
    a = [run_on({"brand_raw": "Old CPU", "count": 2}, i) for i in range(2)]
    b = [run_on({"brand_raw": "Old CPU", "count": 2}, 10 + i) for i in range(2)]
    for d in b:  # a stored fingerprint copied from another machine's run
        d["machine_info"]["continuum"]["fingerprint"] = fingerprint(a[0]["machine_info"])
        d["machine_info"]["cpu"]["count"] = 64
    save(storage / PROFILE / "vm" / B.MACHINE_ID, a + b)
    out = run_hosts(str(storage), profile=PROFILE)
    assert out.exit_code == 3 and "holds different CPUs: Old CPU (2 CPUs)" in out.error
    assert "Old CPU (64 CPUs)" in out.error
    listed = run_history(str(storage), profile=PROFILE, machine_id="vm")
    assert listed.exit_code == 0 and any("holds different CPUs" in line for line in listed.lines)


def test_text_markdown_and_figures(tmp_path):
    storage = two_machines(tmp_path)
    text = run_hosts(str(storage), profile=PROFILE, plot=str(tmp_path / "fig"))
    assert text.exit_code == 0 and "95 % interval" in text.lines[4 + 2]
    assert (tmp_path / "fig" / "hosts-inference.png").stat().st_size > 1000
    assert (tmp_path / "fig" / "hosts-serialization.png").is_file()
    md = run_hosts(str(storage), profile=PROFILE, format="markdown")
    assert md.exit_code == 0 and md.lines[2].startswith("| machine |")
    assert run_hosts(str(storage), profile=PROFILE, format="yaml").exit_code == 2


def test_gate_never_pools_two_fingerprints(tmp_path):
    """Under one hostname, the current run's CPU has two saved runs and another CPU three: those three
    are passed over and the gate has no baseline, naming both fingerprints; with five of its own it judges."""
    storage = two_machines(tmp_path, fast_runs=2, slow_runs=3)
    current = B.write(tmp_path / "current.json", run_on(FAST, 40))
    out = run_gate(PROFILE, str(storage), str(current), machine_id="vm")
    assert out.exit_code == 3  # no verdict: too few runs of this fingerprint
    assert "another machine: fingerprint" in out.error and "Slow CPU" in out.error and "Fast CPU" in out.error
    enough = two_machines(tmp_path / "more", fast_runs=5, slow_runs=3)
    out = run_gate(PROFILE, str(enough), str(current), machine_id="vm", format="json")
    assert out.exit_code == 0, out.error
    assert len(json.loads("\n".join(out.lines))["baselines"]) == 5
