"""benchmarks.chain.ModelChain.provenance: which model an inference or serialization case measured."""
from benchmarks.chain import ModelChain


class _Finetuned:
    model = object()
    top1_before = 0.5
    top1_after = 0.8


def test_provenance_follows_what_ran_in_the_session():
    chain = ModelChain(preset=None, dataset=None, base=object(), progress=False)
    assert chain.provenance(0.0, None) == {"model_state": "full", "model_from_timed_case": None}
    chain.remember_pruned(0.7, "filter", object())
    assert chain.provenance(0.7, "filter") == {"model_state": "pruned", "model_from_timed_case": True}
    chain.remember_finetuned(0.7, "filter", _Finetuned())
    assert chain.provenance(0.7, "filter") == {"model_state": "finetuned", "model_from_timed_case": True}
    # a model no case produced: nothing to report yet, and never claimed as fine-tuned
    assert chain.provenance(0.5, "magnitude") == {"model_state": "pruned", "model_from_timed_case": None}


def test_top1_of_the_recalibrated_model_is_measured_once(monkeypatch):
    """The BatchNorm case records it and the fine-tuning that starts from the same model reuses it."""
    import types

    import fixtures.memo

    calls = []

    def fake_top1(model, dataset):
        calls.append(model)
        return 0.75

    monkeypatch.setattr(fixtures.memo, "cached_top1", fake_top1)
    dataset = types.SimpleNamespace(x_test=None, y_test=None)
    chain = ModelChain(preset=None, dataset=dataset, base=object(), progress=False)
    model = object()
    chain.remember_recalibrated(0.7, "filter", model)
    assert chain.top1_recalibrated(0.7, "filter") == 0.75
    assert chain.top1_recalibrated(0.7, "filter") == 0.75
    assert calls == [model]  # one evaluation, of the model the BatchNorm case produced
