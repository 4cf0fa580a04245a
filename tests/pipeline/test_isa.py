"""The ISA extensions read from CPU flags (pipeline/isa.py)."""

from __future__ import annotations

from pipeline.isa import ISA_FLAGS, features_from_flags, isa_features


def test_features_from_flags_accept_both_spellings_of_a_flag():
    proc = features_from_flags(["fpu", "avx2", "fma", "avx512f", "avx512_vnni"])
    cpuinfo = features_from_flags(["fpu", "avx2", "fma", "avx512f", "avx512vnni"])  # py-cpuinfo's spelling
    assert proc == cpuinfo
    assert proc["avx512_vnni"] and proc["avx2"] and proc["fma"]
    assert proc["avx_vnni"] is False and proc["amx_int8"] is False and proc["avx512bw"] is False
    assert set(proc) == set(ISA_FLAGS)


def test_unknown_flags_read_as_none_not_as_absent(tmp_path):
    assert set(features_from_flags(None).values()) == {None}
    assert set(isa_features(tmp_path / "missing").values()) == {None}
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: some arm\n")
    assert set(isa_features(tmp_path / "cpuinfo").values()) == {None}
