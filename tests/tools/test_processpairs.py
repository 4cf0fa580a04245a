"""tools.processpairs: the quads of paired gate --json files grouped by process pair, per case and clock."""
import json
import math

import numpy as np
import pytest

from reports import stats as S
from tools import processpairs as T


def write_run(path, effects, *, k=4, with_process=True, seed=0):
    """A --json file of one case whose pair ``i``'s B is ``exp(effects[i])`` times A (plus noise); CPU
    time 0.9 of wall; one warm-up quad per pair. Returns each pair's log ratios per quad, wall time."""
    rng = np.random.default_rng(seed)
    blocks, expected, q_all = [], [], 0
    for i, effect in enumerate(effects):
        logs = []
        for q in [-1, *range(q_all, q_all + k)]:
            times = {}
            for side in "ABBA" if q % 2 == 0 else "BAAB":
                t = 1e-3 * math.exp(rng.normal(0, 0.02) + (effect if side == "B" else 0))
                times.setdefault(side, []).append(t)
                block = {"quad": q, "case": "full-keras", "side": side, "calls": 10, "seconds": 10 * t,
                         "cpu_seconds": 9 * t}
                blocks.append({**block, "process": i} if with_process else block)
            if q >= 0:
                logs.append(S.quad_log_ratio(times["A"], times["B"]))
        expected.append(logs)
        q_all += k
    path.write_text(json.dumps({"blocks": blocks, "outcome": "ok"}))
    return expected


def test_pairs_of_all_files_are_the_clusters(tmp_path):
    groups = write_run(tmp_path / "a.json", [0.0, 0.03, -0.02], seed=1)
    groups += write_run(tmp_path / "b.json", [0.01], k=6, with_process=False, seed=2)  # one pair: the old record
    per_case = T.load_clusters([tmp_path / "a.json", tmp_path / "b.json"], "wall")
    assert per_case["full-keras"] == [pytest.approx(g) for g in groups]
    s = T.summary(per_case["full-keras"])
    between, within = S.variance_components(groups)
    assert s["pairs"] == 4 and s["process_sd"] == pytest.approx(between) and s["quad_sd"] == pytest.approx(within)
    assert s["quads_per_pair"] == pytest.approx(18 / 4)
    assert T.load_clusters([tmp_path / "a.json"], "cpu")["full-keras"] == [pytest.approx(g) for g in groups[:3]]


def test_a_file_without_blocks_is_named(tmp_path, capsys):
    (tmp_path / "x.json").write_text('{"outcome": "ok"}')
    assert T.main([str(tmp_path / "x.json")]) == 2
    assert "x.json: not a paired gate --json file" in capsys.readouterr().err


def test_the_table_lists_each_case(tmp_path, capsys):
    write_run(tmp_path / "a.json", [0.0, 0.05, -0.05, 0.0])
    assert T.main([str(tmp_path / "a.json"), "--clock", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cpu time, 1 file(s)") and "full-keras" in out


def test_runs_verdicts_give_the_spread_of_their_estimates_against_their_half_widths(tmp_path):
    ratios, widths = [1.01, 0.98, 1.03, 1.00], [0.02, 0.01, 0.04, 0.015]
    paths = []
    for i, (r, w) in enumerate(zip(ratios, widths)):
        v = {"name": "full-litert", "ratio": r, "half_width": w, "verdict": "ok" if i else "no verdict"}
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps({"config": {"clock": "wall"}, "verdicts": [v],
                                         "other_verdicts": [{**v, "ratio": 1.0}]}))
    s = T.run_summary(T.run_verdicts(paths, "wall")["full-litert"])
    sd = float(np.std(np.log(ratios), ddof=1))
    assert s["estimate_sd"] == pytest.approx(sd) and s["median_half_width"] == pytest.approx(0.0175)
    assert s["sd_over_half_width"] == pytest.approx(sd / 0.0175) and s["verdicts"] == {"ok": 3, "no verdict": 1}
    assert T.run_summary(T.run_verdicts(paths, "cpu")["full-litert"])["estimate_sd"] == 0.0
