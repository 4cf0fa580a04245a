"""What every run's machine_info carries besides the cases (harness/record.py)."""

from __future__ import annotations

from harness.record import add_quantization_info


def test_isa_features_come_from_the_cpu_flags_the_fingerprint_reads():
    machine_info = {"cpu": {"flags": ["sse4_2", "avx2", "fma", "avx512f", "avx512vnni"]}, "continuum": {}}
    add_quantization_info(machine_info, "xnnpack")
    features = machine_info["continuum"]["isa_features"]
    assert features["avx512_vnni"] and features["avx2"] and features["fma"] and not features["amx_int8"]
    assert machine_info["continuum"]["litert_kernel_path"] == "xnnpack"


def test_without_cpu_flags_the_features_are_unknown_and_no_litert_case_means_no_kernel_path():
    machine_info = {"continuum": {}}
    add_quantization_info(machine_info, None)
    assert set(machine_info["continuum"]["isa_features"].values()) == {None}
    assert machine_info["continuum"]["litert_kernel_path"] is None
