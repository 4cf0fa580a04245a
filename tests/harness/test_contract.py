"""The results contract: one vocabulary for the benchmarks that write and the store that reads."""
import re

import pytest

from harness.record import case_info
from fixtures.presets import get_preset
from harness import contract


@pytest.fixture
def tiny():
    return get_preset("tiny")


def test_case_info_checks_every_field_it_is_given(tiny):
    info = case_info(tiny, "encryption", scheme=contract.HYBRID_SCHEME, dataset_bytes=10, ciphertext_bytes=12)
    assert info["operation"] == "encryption" and info["preset"] == "tiny"
    with pytest.raises(ValueError, match=r"extra_info\.scheme is 'rsa'; expected one of"):
        case_info(tiny, "encryption", scheme="rsa", dataset_bytes=10, ciphertext_bytes=12)
    with pytest.raises(ValueError, match=r"\(encryption\): extra_info field\(s\) 'scheme' missing"):
        case_info(tiny, "encryption", dataset_bytes=10, ciphertext_bytes=12)
    with pytest.raises(ValueError, match=r"extra_info\.operation is 'train'"):
        case_info(tiny, "train")
    with pytest.raises(ValueError, match=r"extra_info\.runtime is 'onnx'"):
        case_info(tiny, "inference", pruning_factor=0.0, runtime="onnx")
    with pytest.raises(ValueError, match=r"pruning_factor must be a fraction in \[0, 1\)"):
        case_info(tiny, "prune", pruning_factor=70, pruning_method="filter")


def test_bn_recalibration_is_an_operation(tiny):
    info = case_info(tiny, "bn_recalibration", pruning_factor=0.7, pruning_method="filter", top1_after_bn=0.4)
    assert info["operation"] == "bn_recalibration"
    with pytest.raises(ValueError, match=r"extra_info\.top1_after_bn must be a fraction"):
        case_info(tiny, "bn_recalibration", pruning_factor=0.7, top1_after_bn=40)


def test_dataset_serialization_needs_only_its_size():
    assert contract.contract_errors({"operation": "serialization", "model_format": "dataset-tar",
                                     "dataset_bytes": 100}) == []
    assert contract.contract_errors({"operation": "serialization", "model_format": "keras"}) == [
        "(serialization): extra_info field(s) 'pruning_factor', 'model_bytes', 'model_bytes_gzip' missing"]


def test_quantization_is_checked_where_present_and_required_nowhere():
    base = {"operation": "inference", "pruning_factor": 0.0, "runtime": "litert"}
    assert contract.contract_errors(base) == []
    for value in contract.QUANTIZATIONS:
        assert contract.contract_errors({**base, "quantization": value}) == []
    assert contract.contract_errors({**base, "quantization": "int4"}) == [
        "extra_info.quantization is 'int4'; expected one of ('none', 'dynamic', 'int8', 'int8-qat')"]


def test_unique_entry_name_appends_a_run_token():
    named = contract.unique_entry_name("0123abcd_20261206_101010", "00c0ffee")
    assert named == "0123abcd_20261206_101010_r00c0ffee"
    drawn = {contract.unique_entry_name("x") for _ in range(50)}
    assert len(drawn) == 50 and all(re.fullmatch(r"x_r[0-9a-f]{8}", n) for n in drawn)
    with pytest.raises(ValueError, match="run token"):
        contract.unique_entry_name("x", "../evil")
