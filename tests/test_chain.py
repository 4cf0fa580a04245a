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
