"""fingerprint: a run's hardware identity from its machine_info, for new runs and old ones."""
import copy

import pytest

from harness import fingerprint as F

#: machine_info of a run written before the fingerprint: py-cpuinfo's brand and count only, the flat
#: {limit: bool} profile record of older runs
OLD_INFO = {"machine": "x86_64", "cpu": {"brand_raw": "test cpu", "count": 2},
            "continuum": {"profile": {"name": "device", "requested": {"cpus": 1},
                                      "enforced": {"affinity": True, "cpu_quota": True, "memory": True}}}}

#: machine_info.cpu as py-cpuinfo 10 writes it on a Sapphire Rapids VM (flags cut to the relevant ones)
SPR_CPU = {"arch": "X86_64", "bits": 64, "count": 8, "vendor_id_raw": "GenuineIntel",
           "brand_raw": "Intel(R) Xeon(R) Platinum 8480+", "family": 6, "model": 143, "stepping": 8,
           "flags": ["sse4_1", "sse4_2", "avx", "avx2", "avx512f", "avx512_vnni", "avx512vnni", "avx_vnni",
                     "amx_tile", "amx_int8", "amx_bf16", "hypervisor", "fma"]}


def new_run_info(cpu=SPR_CPU, affinity=(6, 7), memory=4 * 2**30):
    """machine_info of a run recorded by today's suite: affinity and memory limit read back."""
    mi = copy.deepcopy(OLD_INFO)
    mi["cpu"] = copy.deepcopy(cpu)
    mi["continuum"]["profile"] = {
        "name": "device", "requested": {"name": "device", "cpus": len(affinity), "memory_bytes": memory},
        "enforced": {"affinity": {"requested": True, "enforced": True, "value": list(affinity)},
                     "memory_limit": {"requested": True, "enforced": True, "value": memory},
                     "cpu_quota": {"requested": False, "enforced": False, "reason": "not requested by the profile"}}}
    mi["continuum"]["versions"] = {"tensorflow": "2.21.0", "ai-edge-litert": "2.3.0", "numpy": "2.4.6"}
    return mi


def test_fields_from_a_new_run():
    fp = F.fingerprint(new_run_info())
    assert fp["vendor"] == "GenuineIntel" and fp["family"] == 6 and fp["model"] == 143
    assert fp["brand"] == "Intel(R) Xeon(R) Platinum 8480+" and fp["arch"] == "X86_64"
    assert fp["isa"] == ["sse4_2", "avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx"]
    assert fp["cpus"] == 2 and fp["memory_bytes"] == 4 * 2**30 and fp["virtualised"] is True
    assert fp["cpu_quota"] is None
    assert len(fp["id"]) == F.ID_LENGTH and int(fp["id"], 16) >= 0


def test_old_run_without_limits_read_back():
    """An old run's flat record ({limit: bool}) gives the requested CPUs and memory; no CPU flags, no ISA."""
    mi = copy.deepcopy(OLD_INFO)
    mi["continuum"]["profile"]["requested"]["memory_bytes"] = 2**32
    fp = F.fingerprint(mi)
    assert fp["brand"] == "test cpu" and fp["vendor"] is None and fp["isa"] == []
    assert fp["cpus"] == 1 and fp["memory_bytes"] == 2**32 and fp["virtualised"] is False


def test_unenforced_limits_are_the_host():
    mi = new_run_info()
    mi["continuum"]["profile"]["enforced"]["affinity"] = {"requested": True, "enforced": False,
                                                         "reason": "only 1 CPUs allowed: [0]"}
    mi["continuum"]["profile"]["enforced"]["memory_limit"] = {"requested": True, "enforced": False,
                                                             "reason": "no cgroup"}
    fp = F.fingerprint(mi)
    assert fp["cpus"] == SPR_CPU["count"] and fp["memory_bytes"] is None
    assert fp["id"] != F.fingerprint(new_run_info())["id"]


@pytest.mark.parametrize("change", [
    lambda mi: mi["cpu"]["flags"].remove("amx_tile") or mi["cpu"]["flags"].remove("amx_int8")
    or mi["cpu"]["flags"].remove("amx_bf16"),
    lambda mi: mi["cpu"].update(model=106),
    lambda mi: mi["cpu"]["flags"].remove("hypervisor"),
    lambda mi: mi["continuum"]["profile"]["enforced"]["affinity"].update(value=[4, 5, 6, 7]),
    lambda mi: mi["continuum"]["profile"]["enforced"]["memory_limit"].update(value=8 * 2**30),
    lambda mi: mi["continuum"]["profile"]["enforced"].update(
        cpu_quota={"requested": True, "enforced": True, "quota_us": 50000, "period_us": 100000, "value": 0.5}),
])
def test_what_changes_the_id(change):
    mi = new_run_info()
    change(mi)
    assert F.fingerprint(mi)["id"] != F.fingerprint(new_run_info())["id"]


def test_what_does_not_change_the_id():
    """Hostname, library versions, the CPUs pinned (not their number) and unrelated flags leave it alone."""
    mi = new_run_info(affinity=(0, 1))
    mi["node"] = "another-host"
    mi["continuum"]["versions"]["tensorflow"] = "2.22.0"
    mi["cpu"]["flags"].append("rdrand")
    mi["cpu"]["hz_actual_friendly"] = "3.1 GHz"
    assert F.fingerprint(mi)["id"] == F.fingerprint(new_run_info())["id"]
    assert "versions" not in F.fingerprint(mi)


def test_stored_fingerprint_is_read_back_else_computed():
    mi = new_run_info()
    computed = F.run_fingerprint(mi)
    assert computed == F.fingerprint(mi)
    mi["continuum"][F.RECORD_KEY] = {**computed, "id": "0123456789ab"}
    assert F.run_fingerprint(mi)["id"] == "0123456789ab"
    mi["continuum"][F.RECORD_KEY]["version"] = F.VERSION + 1  # another algorithm: recompute
    assert F.run_fingerprint(mi)["id"] == computed["id"]


def test_arm_features():
    cpu = {"arch": "ARM_8", "count": 4, "brand_raw": "Cortex-A76", "flags": ["asimd", "asimddp", "fp"]}
    fp = F.fingerprint({"cpu": cpu, "continuum": {"profile": {"name": "none"}}})
    assert fp["isa"] == ["neon", "dotprod"] and fp["cpus"] == 4


@pytest.mark.parametrize("mi, field", [
    (None, "machine_info"), ({"cpu": "x86"}, "machine_info.cpu"), ({"continuum": []}, "machine_info.continuum"),
    ({"cpu": {"flags": "avx2"}}, "machine_info.cpu.flags"),
])
def test_bad_machine_info_names_the_field(mi, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.") + " must be"):
        F.fingerprint(mi)


def test_library_versions_and_description():
    mi = new_run_info()
    assert F.library_versions(mi) == {"TensorFlow": "2.21.0", "LiteRT": "2.3.0", "numpy": "2.4.6"}
    assert F.library_versions({}) == {"TensorFlow": None, "LiteRT": None, "numpy": None}
    text = F.describe(F.fingerprint(mi))
    assert text.startswith("Intel(R) Xeon(R) Platinum 8480+, 2 CPUs, 4 GiB") and text.endswith("VM")


def test_cpu_quota_enforced_is_in_it_and_an_unenforced_one_is_not():
    mi = new_run_info()
    mi["continuum"]["profile"]["enforced"]["cpu_quota"] = {"requested": True, "enforced": True, "quota_us": 50000,
                                                          "period_us": 100000, "value": 0.5}
    fp = F.fingerprint(mi)
    assert fp["cpu_quota"] == 0.5 and "CPU quota 0.5" in F.describe(fp)
    mi["continuum"]["profile"]["enforced"]["cpu_quota"]["enforced"] = False
    assert F.fingerprint(mi)["id"] == F.fingerprint(new_run_info())["id"]
