"""The paired gate's worker (harness/paired_worker.py): case ids, and the protocol loop without TensorFlow."""
import io
import json
from fractions import Fraction

import pytest

from harness import paired_worker as W


@pytest.mark.parametrize(("case", "parsed"), [("full-keras", (0.0, None, "keras")),
                                              ("pf=70-filter-litert", (0.7, "filter", "litert")),
                                              ("pf=85-magnitude-keras", (0.85, "magnitude", "keras"))])
def test_case_ids(case, parsed):
    assert W.parse_case(case) == parsed


@pytest.mark.parametrize("case", ["full", "pf=70-filter", "pf=0-filter-litert", "pf=x-filter-keras",
                                  "pf=70-random-litert", "full-onnx"])
def test_bad_case_ids_are_named(case):
    with pytest.raises(ValueError, match=f"case {case!r}: expected"):
        W.parse_case(case)


def test_serve_answers_blocks_and_probes_and_quits():
    calls = []
    out = io.StringIO()
    requests = io.StringIO('{"op": "block", "case": "a", "calls": 3}\n{"op": "probe", "case": "a"}\n'
                           '{"op": "quit"}\n{"op": "block", "case": "a", "calls": 1}\n')
    assert W.serve({"a": lambda: calls.append(1)}, out, requests) == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(answers) == 2 and all(a["seconds"] >= 0 for a in answers)
    assert len(calls) == 3 + W.PROBE_CALLS  # nothing after quit


def test_serve_names_an_unknown_case():
    with pytest.raises(ValueError, match="unknown case; this worker has \\['a'\\]"):
        W.serve({"a": lambda: None}, io.StringIO(), io.StringIO('{"op": "block", "case": "b", "calls": 1}\n'))


def test_injection_wraps_the_timed_call_and_survives_renewal():
    runs = []

    class Runner:
        def run(self, x):
            runs.append(x)

    calls = W.Calls({"a": Runner}, "x", {"inference": Fraction(1, 10)})
    assert len(runs) == W.WARMUP_CALLS
    for _ in range(5):
        calls["a"]()
    calls.renew("a")  # the count of extra calls goes on over the new runner
    for _ in range(10):
        calls["a"]()
    assert len(runs) == 2 * W.WARMUP_CALLS + 15 + (2 * W.WARMUP_CALLS + 15) // 10
    plain = W.Calls({"a": Runner}, "x", {})
    runs.clear()
    plain["a"]()
    assert runs == ["x"]


def test_models_saved_once_load_as_the_ones_built_in_the_worker(tmp_path):
    """--save-models writes each model once (two cases of one model share its files); --models loads
    runners that answer as the ones the worker would have built itself (same seed, same bytes)."""
    import numpy as np

    from fixtures.presets import get_preset

    preset = get_preset("tiny")
    cases = ["full-litert", "pf=70-filter-keras", "pf=70-filter-litert"]
    W.save_models(cases, preset, str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0-full.keras", "0-full.tflite", "70-filter.keras",
                                                          "70-filter.tflite"]
    threads = {"tensorflow_intra_op": None, "litert": None}
    loaded = W.build_factories(cases, preset, threads, str(tmp_path))
    built = W.build_factories(cases, preset, threads)
    for case in cases:
        a, b = loaded[case](), built[case]()
        x = np.random.default_rng(0).random((1, *a.input_shape[1:]), dtype=np.float32)
        np.testing.assert_allclose(a.run(x), b.run(x), rtol=1e-5, atol=1e-6)
