"""pipeline.chain.ModelChain.provenance: which model an inference or serialization case measured."""
from pipeline.chain import ModelChain


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


def test_a_handed_over_model_is_measured_first_and_then_forgotten(monkeypatch):
    """hand_over_*: the model a step changes in place has its top-1 measured before it is given
    away, and the chain makes (untimed) a new one when a later step asks for it."""
    import types

    import fixtures.memo
    import pipeline.prune
    import pipeline.recalibrate

    evaluated, pruned_again = [], []
    monkeypatch.setattr(fixtures.memo, "cached_top1", lambda model, dataset: evaluated.append(model) or 0.5)
    monkeypatch.setattr(pipeline.prune, "prune", lambda base, pf, method, images=None: pruned_again.append(pf) or "again")
    monkeypatch.setattr(pipeline.recalibrate, "recalibration_sample", lambda x, n, seed: x)
    monkeypatch.setattr(pipeline.recalibrate, "recalibrate_batchnorm", lambda model, images: ("recalibrated", model))
    preset = types.SimpleNamespace(bn_recalibration_samples=None, seed=1)
    chain = ModelChain(preset=preset, dataset=types.SimpleNamespace(x_train=[1]), base=object(), progress=False)
    model = object()
    chain.remember_pruned(0.7, "filter", model)
    assert chain.hand_over_pruned(0.7, "filter") is model
    assert evaluated == [model]  # top-1 as pruned, measured before the model changes
    assert chain.top1_pruned(0.7, "filter") == 0.5 and evaluated == [model]  # and kept
    assert chain.pruned(0.7, "filter") == "again" and pruned_again == [0.7]
    assert chain.provenance(0.7, "filter")["model_from_timed_case"] is False

    recalibrated = object()
    chain.remember_recalibrated(0.7, "filter", recalibrated)
    assert chain.hand_over_recalibrated(0.7, "filter") is recalibrated
    assert evaluated[-1] is recalibrated
    assert chain.recalibrated(0.7, "filter") == ("recalibrated", "again")  # made again, untimed


def test_a_qat_model_starts_from_a_copy_kept_when_the_float_fine_tuning_takes_the_model(monkeypatch):
    import types

    import fixtures.memo
    import pipeline.chain

    monkeypatch.setattr(fixtures.memo, "cached_top1", lambda model, dataset: 0.5)
    monkeypatch.setattr(pipeline.chain, "_stripped_copy", lambda model: ("copy of", model))
    chain = ModelChain(preset=None, dataset=types.SimpleNamespace(), base=object(), progress=False)
    kept, other = object(), object()
    chain.remember_recalibrated(0.7, "magnitude", kept)
    chain.remember_recalibrated(0.5, "magnitude", other)
    chain.keep_for_qat(0.7, "magnitude")
    assert chain.hand_over_recalibrated(0.7, "magnitude") is kept  # the float fine-tuning trains it in place
    assert chain.hand_over_recalibrated(0.5, "magnitude") is other
    assert chain.qat_start(0.7, "magnitude") == ("copy of", kept)  # copied before it was handed over
    assert chain._qat_start == {}  # given away once, not held for the session


def test_quantized_models_are_converted_once_and_a_timed_conversion_is_the_one_served(tmp_path, monkeypatch, tiny_model,
                                                                                     tiny_dataset):
    import types

    import pipeline.quantize
    from pipeline.quantize import quantize_tflite

    monkeypatch.setenv("CONTINUUM_BENCH_CACHE", str(tmp_path))
    converted = []
    real = pipeline.quantize.quantize_tflite

    def counting(model, mode, **kwargs):
        converted.append((mode, kwargs.get("sparse", False)))
        return real(model, mode, **kwargs)

    monkeypatch.setattr(pipeline.quantize, "quantize_tflite", counting)
    preset = types.SimpleNamespace(seed=3, bn_recalibration_samples=None)
    chain = ModelChain(preset=preset, dataset=tiny_dataset, base=tiny_model, progress=False)
    int8 = chain.quantized(0.0, None, "int8")
    assert int8.representative_samples == len(chain.representative()) and int8.fully_integer
    assert chain.quantized(0.0, None, "int8") is int8
    sparse = chain.quantized(0.0, None, "dynamic", sparse=True)
    assert sparse.sparse and sparse.mode == "dynamic"
    # a second session (a new chain) reads both from the disk cache
    again = ModelChain(preset=preset, dataset=tiny_dataset, base=tiny_model, progress=False)
    assert again.quantized(0.0, None, "int8").tflite == int8.tflite
    assert converted == [("int8", False), ("dynamic", True)]
    # a conversion a case timed is what the session serves, and what the cache holds
    timed = quantize_tflite(tiny_model, "dynamic")
    fresh = ModelChain(preset=preset, dataset=tiny_dataset, base=tiny_model, progress=False)
    fresh.remember_quantized(0.0, None, timed)
    assert fresh.tflite_of(0.0, None, "dynamic") == timed.tflite
    assert ModelChain(preset=preset, dataset=tiny_dataset, base=tiny_model, progress=False).quantized(
        0.0, None, "dynamic").tflite == timed.tflite
    assert converted == [("int8", False), ("dynamic", True)]


def test_a_deployable_model_is_hashed_and_counted_once_until_another_model_replaces_it(monkeypatch):
    """Each of a model's conversions and inference cases needs its digest and counts: computed once per model."""
    import fixtures.memo
    import pipeline.accounting
    import pipeline.prune

    hashed, counted = [], []
    monkeypatch.setattr(pipeline.prune, "is_pruning_wrapped", lambda model: False)
    monkeypatch.setattr(fixtures.memo, "model_digest", lambda model: hashed.append(model) or f"digest {len(hashed)}")
    monkeypatch.setattr(pipeline.accounting, "account", lambda model: counted.append(model) or f"counts {len(counted)}")
    chain = ModelChain(preset=None, dataset=None, base=object(), progress=False)
    pruned = object()
    chain.remember_pruned(0.7, "filter", pruned)
    assert chain.deployable_digest(0.7, "filter") == chain.deployable_digest(0.7, "filter") == "digest 1"
    assert chain.deployable_account(0.7, "filter") == chain.deployable_account(0.7, "filter") == "counts 1"
    assert hashed == counted == [pruned]
    chain.remember_finetuned(0.7, "filter", _Finetuned())  # the fine-tuned model is now the deployable one
    assert chain.deployable_digest(0.7, "filter") == "digest 2"
    assert chain.deployable_account(0.7, "filter") == "counts 2"
    assert hashed == counted == [pruned, _Finetuned.model]
    assert chain.deployable_digest(0.0, None) == "digest 3"  # the full model
