"""The interleaved A/B ratio and the report of tools/int8speed.py (no timing: a fake clock)."""

from __future__ import annotations

import math

import pytest

from tools import int8speed


def test_a_geometric_drift_cancels_in_the_quads(monkeypatch):
    """A machine slowing by 3 % per block would bias back-to-back blocks; ABBA/BAAB quads cancel it."""
    blocks = []

    def fake_per_call_s(run, calls):
        blocks.append(run)
        return run() * 1.03 ** len(blocks)

    monkeypatch.setattr(int8speed, "per_call_s", fake_per_call_s)
    monkeypatch.setattr(int8speed, "calls_per_block", lambda run, block_s: 7)
    result = int8speed.interleaved_ratio(lambda: 2e-3, lambda: 0.8e-3, pairs=40, block_s=0.05)
    assert result["quads"] == 20 and result["calls_per_block"] == 7
    assert result["ratio"] == pytest.approx(0.4, rel=1e-12)
    assert result["lo"] == pytest.approx(0.4, rel=1e-12) and result["hi"] == pytest.approx(0.4, rel=1e-12)
    # Back-to-back (A then B) blocks would have read 0.4 * 1.03 per pair instead.
    assert math.isclose(result["b_s"] / result["a_s"], 0.4, rel_tol=0.05)


@pytest.mark.parametrize("pairs", [0, 3, 41])
def test_pairs_must_make_whole_quads(pairs):
    with pytest.raises(ValueError, match=rf"pairs must be an even number >= 2, got {pairs}"):
        int8speed.interleaved_ratio(lambda: None, lambda: None, pairs=pairs, block_s=0.01)


def test_report_names_goals_and_kernel_paths():
    kernels = {"xnnpack": True, "ops": 32, "delegated_ops": 31, "partitions": 2, "builtin_ops": ["SOFTMAX"]}
    ratio = {"ratio": 0.45, "lo": 0.42, "hi": 0.5, "a_s": 1e-3, "b_s": 0.45e-3, "calls_per_block": 50}
    model = {
        "name": "MobileNet 1.0/224", "load_before": "load 1.00 1.00 1.00", "load_after": "load 1.10 1.00 1.00",
        "kernels": {"float": kernels, "int8": {**kernels, "xnnpack": False, "delegated_ops": 0, "partitions": 0}},
        "float_ops": {"int8": []}, "ratios": {"int8": ratio},
        "sizes": {"float": (1000, 900), "int8": (250, 200)},
    }
    out = {"isa": {"avx2": True, "amx_int8": None}, "pairs": 40, "block_s": 0.05, "preset": "quick",
           "models": [model], "top1": {"float": 0.9, "dynamic": 0.9, "int8": 0.88, "keras_manifest": 0.9},
           "test_images": 740, "sparse": {}}
    text = "\n".join(int8speed.format_lines(out))
    assert "avx2=yes, amx_int8=?" in text
    assert "int8/float latency 0.450 [0.420, 0.500]" in text and "goal <= 0.4: NOT met" in text
    assert "int8     kernels: XNNPACK NO, 0/32 ops" in text
    assert "(0.250x)" in text and "goal <= 0.3: met" in text
    assert "int8 0.8800 (-0.0200)" in text
