"""Profiles as data: the study's values, fitting to the host, overrides and their errors."""

from __future__ import annotations

import json

import pytest

from emulation.profiles import (
    GIB,
    LOAD_WORKERS_PER_CPU,
    PROFILES,
    TF_INTER_OP_THREADS,
    get_profile,
    parse_memory_bytes,
    parse_overrides,
)

BIG_HOST = {"host_cpus_available": 8, "host_memory": 64 * GIB}
SMALL_HOST = {"host_cpus_available": 2, "host_memory": 8 * GIB}


def test_device_is_one_cpu_4gib_one_thread_everywhere():
    p = get_profile("device", **BIG_HOST)
    assert (p.cpus, p.memory_bytes, p.cpu_quota, p.load_workers) == (1, 4 * GIB, None, 0)
    assert {p.threads.tf_intra_op, p.threads.tf_inter_op, p.threads.omp, p.threads.blas, p.threads.litert} == {1}


def test_edge_idle_is_four_cpus_16gib_on_a_big_host():
    p = get_profile("edge-idle", **BIG_HOST)
    assert (p.cpus, p.memory_bytes, p.load_workers, p.notes) == (4, 16 * GIB, 0, ())
    assert (p.threads.tf_intra_op, p.threads.tf_inter_op, p.threads.litert) == (4, TF_INTER_OP_THREADS, 4)


def test_edge_is_fitted_to_a_small_host_and_says_so():
    p = get_profile("edge-idle", **SMALL_HOST)
    assert (p.cpus, p.memory_bytes) == (2, 8 * GIB)
    assert len(p.notes) == 2 and "cpus 4 -> 2" in p.notes[0]


def test_edge_loaded_adds_the_default_load():
    p = get_profile("edge-loaded", **SMALL_HOST)
    assert p.load_workers == LOAD_WORKERS_PER_CPU * 2 and p.load_threads == 1
    assert get_profile("edge-loaded", {"load_workers": "50"}, **BIG_HOST).load_workers == 50


def test_overrides_from_profile_set_strings():
    overrides = parse_overrides(["cpus=1", "cpu-quota=0.5", "memory_bytes=512MiB", "litert=2"])
    p = get_profile("edge-idle", overrides, **BIG_HOST)
    assert (p.cpus, p.cpu_quota, p.memory_bytes) == (1, 0.5, 512 * 1024**2)
    assert (p.threads.tf_intra_op, p.threads.litert) == (1, 2)
    assert dict(p.overrides)["cpu_quota"] == "0.5"
    assert get_profile("device", {"memory_bytes": "none"}, **BIG_HOST).memory_bytes is None
    json.dumps(p.to_dict())


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown profile 'phone'.*device.*edge-idle.*edge-loaded"):
        get_profile("phone")
    assert set(PROFILES) == {"device", "edge-idle", "edge-loaded"}


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"cpus": 16}, r"cpus=16: must be in \[1, 8\]"),
        ({"cpus": "two"}, r"cpus='two': expected an integer"),
        ({"cpu_quota": "-1"}, r"cpu_quota='-1'"),
        ({"cpu_quota": 3}, r"cpu_quota must be in \[0.01, cpus=1\]"),
        ({"memory_bytes": "4 parsecs"}, r"memory_bytes='4 parsecs'"),
        ({"memory_bytes": "1TiB"}, r"memory_bytes='1TiB'"),
        ({"memory_bytes": 128 * GIB}, r"exceeds the host"),
        ({"threads": 0}, r"thread count tf_intra_op must be an integer >= 1, got 0"),
        ({"wheels": 4}, r"wheels=4: unknown key"),
    ],
    ids=["cpus-too-many", "cpus-word", "quota-negative", "quota-above-cpus", "memory-unit", "memory-tib",
         "memory-above-host", "threads-zero", "unknown-key"],
)
def test_bad_override_names_key_and_value(overrides, match):
    with pytest.raises(ValueError, match=match):
        get_profile("device", overrides, **BIG_HOST)


def test_bad_profile_set_string():
    with pytest.raises(ValueError, match="expected key=value"):
        parse_overrides(["cpus"])
    with pytest.raises(ValueError, match="unknown key 'gpus'"):
        parse_overrides(["gpus=1"])


@pytest.mark.parametrize("text, value", [("4GiB", 4 * GIB), ("512M", 512 * 1024**2), ("1000", 1000),
                                         ("2gb", 2 * 1000**3), ("none", None)])
def test_parse_memory_bytes(text, value):
    assert parse_memory_bytes(text) == value
