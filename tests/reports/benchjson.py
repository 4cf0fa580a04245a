"""Hand-made pytest-benchmark 5.3 JSON documents for the reports tests.

The layout is what ``pytest --benchmark-json`` (pytest-benchmark 5.3, with
``--benchmark-save-data``) writes: ``machine_info``, ``commit_info``,
``benchmarks`` (``group, name, fullname, params, param, extra_info, options,
stats``), ``datetime``, ``version``. ``machine_info["continuum"]`` is the profile
record of the emulation layer and ``extra_info`` follows the results contract.
"""
from __future__ import annotations

import copy
import json
import statistics

VERSION = "5.3.1"
MACHINE_ID = "Linux-CPython-3.11-64bit"
# per profile: (prune, finetune, inference pf 0, inference pf 0.7) mean times [s]
TIMES = {
    "device": {"finetune": 40.0, "inf0": 0.050, "inf70": 0.020, "encryption": 0.30},
    "edge-idle": {"prune": 0.50, "finetune": 20.0, "inf0": 0.010, "inf70": 0.004,
                  "decryption": 0.20},
    "edge-loaded": {"prune": 1.50, "finetune": 60.0, "inf0": 0.080, "inf70": 0.030,
                    "decryption": 0.60},
}
SIZES = {  # (pf, format) -> (model_bytes, model_bytes_gzip)
    (0.0, "tflite"): (16_900_000, 15_600_000), (0.0, "keras"): (17_200_000, 15_900_000),
    (0.7, "tflite"): (5_100_000, 4_700_000), (0.7, "keras"): (5_400_000, 4_900_000),
}
COMMON = {"preset": "tiny", "config_hash": "abc123", "seed": 0}
#: machine_info.continuum.scale as the suite records it (the tiny preset's)
SCALE = {"alpha": 0.25, "input_size": 32, "num_classes": 4, "images_per_class": 20, "embedded": True}
#: per profile: (init_s, first_call_s) of a cold start, for every inference case of the profile
COLD = {"device": (0.60, 0.15), "edge-idle": (0.20, 0.05), "edge-loaded": (1.20, 0.40)}
#: top-1 [fraction] per method at pf 70 %: (as pruned, after BN re-estimation, after fine-tuning)
TOP1 = {"magnitude": (0.40, 0.75, 0.86), "filter": (0.10, 0.35, 0.70)}
TOP1_FULL = 0.88
#: the magnitude-pruned model's times relative to the filter-pruned one's (dense: slower)
MAGNITUDE_SLOWER = 1.5
#: Quantized variants, as the int8 cases write them: each model's LiteRT inference in dynamic and
#: int8, the pf 70 % models also int8-qat. Per quantization: (inference time relative to the float
#: model's, .tflite size relative to the float one's, top-1 lost [fraction of the float top-1's points]).
QUANT = {"dynamic": (0.8, 0.27, 0.004), "int8": (0.45, 0.26, 0.03), "int8-qat": (0.45, 0.26, 0.01)}
#: per edge profile: the time [s] of one conversion (the quantize record) per quantization
QUANTIZE_S = {"edge-idle": {"dynamic": 0.4, "int8": 2.0}, "edge-loaded": {"dynamic": 1.2, "int8": 6.0}}
#: quantization-aware fine-tuning's time relative to the float fine-tuning's
QAT_SLOWER = 1.3
#: machine_info.continuum.isa_features as pipeline.quantize.isa_features() records it (an AVX2 host)
ISA_FEATURES = {"avx2": True, "fma": True, "avx512f": False, "avx512bw": False, "avx512_vnni": False,
                "avx_vnni": False, "amx_tile": False, "amx_int8": False}


def stats(mean, rounds=7, cv=0.02):
    """stats block with `rounds` values around `mean` with coefficient of variation ~cv."""
    step = mean * cv * 1.5 / max(rounds - 1, 1) * 2
    data = [mean + (i - (rounds - 1) / 2) * step for i in range(rounds)]
    q = statistics.quantiles(data, n=4) if rounds > 1 else [mean] * 3
    sd = statistics.stdev(data) if rounds > 1 else 0.0
    return {"min": min(data), "max": max(data), "mean": statistics.fmean(data), "stddev": sd,
            "rounds": rounds, "median": statistics.median(data), "iqr": q[2] - q[0],
            "q1": q[0], "q3": q[2], "iqr_outliers": 0, "stddev_outliers": 0, "outliers": "0;0",
            "ld15iqr": min(data), "hd15iqr": max(data), "ops": 1 / statistics.fmean(data),
            "total": sum(data), "data": data, "iterations": 1}


def bench(test, param, extra, mean, rounds=7, cv=0.02, group=None):
    """One benchmark entry; ``param`` None for a case without parameters (``test_encrypt_pure_rsa``)."""
    name = test if param is None else f"{test}[{param}]"
    return {"group": group, "name": name,
            "fullname": f"benchmarks/test_{test.split('_')[1]}.py::{name}",
            "params": None if param is None else {"case": param}, "param": param,
            "extra_info": {**COMMON, **extra},
            "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 5,
                        "max_time": 1.0, "min_time": 5e-06, "warmup": False},
            "stats": stats(mean, rounds, cv)}


def float_tflite_sizes(pf, method):
    """(model_bytes, model_bytes_gzip) of a float model's .tflite (a magnitude-pruned one is dense)."""
    raw, gz = SIZES[(pf, "tflite")]
    return (SIZES[(0.0, "tflite")][0], gz) if method == "magnitude" else (raw, gz)


def quantized_cases(profile, model, pf, method, float_s, float_top1, cold):
    """The quantized twins of one model's LiteRT inference (and, at an edge, its quantize records)."""
    out = []
    raw, gz = float_tflite_sizes(pf, method)
    where = {"pruning_factor": pf, **({"pruning_method": method} if method else {})}
    for q, (speed, size, lost) in QUANT.items():
        if q == "int8-qat" and not pf:
            continue  # quantization-aware fine-tuning: the pruned models only
        top1 = round(float_top1 - lost, 6)
        info = {**where, "quantization": q, "model_bytes": int(raw * size), "model_bytes_gzip": int(gz * size),
                "top1": top1, "top1_float": float_top1, "float_ops": []}
        out.append(bench("test_inference", f"{model}-{q}",
                         {"operation": "inference", "runtime": "litert", "model_format": "tflite",
                          "kernel_path": {"xnnpack": True, "builtin_ops": []}, **info, **cold}, float_s * speed))
        if profile in QUANTIZE_S and q in QUANTIZE_S[profile]:
            extra = {"representative_samples": 64} if q == "int8" else {}
            out.append(bench("test_quantize", f"{model}-{q}", {"operation": "quantize", **info, **extra},
                             QUANTIZE_S[profile][q]))
    return out


def profile_doc(profile, *, enforced=None, quantized=True):
    """One profile's results; ``quantized`` False: as the suite wrote them before its int8 cases
    (no quantized record, no ``quantization`` field, no ISA features)."""
    t = TIMES[profile]
    b = []
    runtime = "litert"
    init, first = COLD[profile]
    cold = {"init_s": init, "first_call_s": first}
    floating = {"quantization": "none"} if quantized else {}

    def litert(pf, method, top1):
        raw, gz = float_tflite_sizes(pf, method)
        return {"top1": top1, "top1_float": top1, "model_bytes": raw, "model_bytes_gzip": gz,
                **floating} if quantized else {}

    b.append(bench("test_inference", "full-litert", {"operation": "inference", "pruning_factor": 0.0,
                                                     "runtime": runtime, "model_format": "tflite",
                                                     "top1_full": TOP1_FULL, "top1_before_ft": TOP1_FULL, **cold,
                                                     **litert(0.0, None, TOP1_FULL)},
                   t["inf0"]))
    if quantized:
        b += quantized_cases(profile, "full", 0.0, None, t["inf0"], TOP1_FULL, cold)
    for method, slower in (("filter", 1.0), ("magnitude", MAGNITUDE_SLOWER)):
        before, after_bn, after_ft = TOP1[method]
        top1 = {"top1_full": TOP1_FULL, "top1_before_ft": before, "top1_after_bn": after_bn}
        b.append(bench("test_inference", f"pf=70-{method}-litert",
                       {"operation": "inference", "pruning_factor": 0.7, "pruning_method": method,
                        "runtime": runtime, "model_format": "tflite", **cold, **litert(0.7, method, after_ft)},
                       t["inf70"] * slower))
        if quantized:
            b += quantized_cases(profile, f"pf=70-{method}", 0.7, method, t["inf70"] * slower, after_ft, cold)
            qat = round(after_ft - QUANT["int8-qat"][2], 6)
            b.append(bench("test_finetune", f"pf=70-{method}-int8-qat",
                           {"operation": "finetune", "pruning_factor": 0.7, "pruning_method": method,
                            "quantization": "int8-qat", **top1, "top1_after_ft": qat, "top1_float": after_ft,
                            "top1_int8_ptq": round(after_ft - QUANT["int8"][2], 6)},
                           t["finetune"] * slower * QAT_SLOWER, rounds=5))
        b.append(bench("test_bn_recalibration", f"pf=70-{method}",
                       {"operation": "bn_recalibration", "pruning_factor": 0.7, "pruning_method": method,
                        **top1}, 0.05))
        b.append(bench("test_finetune", f"pf=70-{method}",
                       {"operation": "finetune", "pruning_factor": 0.7, "pruning_method": method,
                        **top1, "top1_after_ft": after_ft, **floating}, t["finetune"] * slower, rounds=5))
    b.append(bench("test_inference", "full-keras", {"operation": "inference", "pruning_factor": 0.0,
                                                    "runtime": "keras", "model_format": "keras", **cold},
                   t["inf0"] * 3))
    if "prune" in t:
        b.append(bench("test_prune", "pf=70-filter", {"operation": "prune", "pruning_factor": 0.7,
                                                      "pruning_method": "filter"}, t["prune"]))
        b.append(bench("test_prune", "pf=70-magnitude",
                       {"operation": "prune", "pruning_factor": 0.7,
                        "pruning_method": "magnitude"}, t["prune"] / 2))
    if "encryption" in t:
        # both encryption cases, as the suite writes them: only the scheme tells them apart
        b.append(bench("test_encrypt_dataset_hybrid", None,
                       {"operation": "encryption", "scheme": "rsa-oaep+aes-256-gcm", "dataset_bytes": 412_000_000,
                        "ciphertext_bytes": 412_193_000}, t["encryption"]))
        b.append(bench("test_encrypt_pure_rsa", None,
                       {"operation": "encryption", "scheme": "rsa-oaep-blocks", "dataset_bytes": 65_536,
                        "ciphertext_bytes": 98_304}, t["encryption"] * 40))
    if "decryption" in t:
        b.append(bench("test_decrypt_dataset_hybrid", None,
                       {"operation": "decryption", "scheme": "rsa-oaep+aes-256-gcm",
                        "ciphertext_bytes": 412_193_000}, t["decryption"]))
    for (pf, fmt), (raw, gz) in SIZES.items():
        for method in (("filter", "magnitude") if pf else (None,)):
            param = f"full-{fmt}" if pf == 0 else f"pf=70-{method}-{fmt}"
            extra = {"operation": "serialization", "pruning_factor": pf, "model_format": fmt,
                     "model_bytes": raw, "model_bytes_gzip": gz}
            if method == "magnitude":  # dense: the same file size, zeros compress
                extra.update(model_bytes=SIZES[(0.0, fmt)][0], model_bytes_gzip=gz)
            if pf:
                extra["pruning_method"] = method
            b.append(bench("test_serialize", param, extra, 0.01))
    return {
        "machine_info": {
            "node": "host", "processor": "x86_64", "machine": "x86_64", "python_compiler": "GCC",
            "python_implementation": "CPython", "python_implementation_version": "3.11.9",
            "python_version": "3.11.9", "python_build": ["main", "Apr 2024"], "release": "6.8",
            "system": "Linux", "cpu": {"brand_raw": "test cpu", "count": 2},
            "continuum": {"profile": {"name": profile,
                                      "requested": {"cpus": 1 if profile == "device" else 4},
                                      "enforced": enforced if enforced is not None else
                                      {"affinity": True, "cpu_quota": True, "memory": True}},
                          "load": {"workers": 50 if profile == "edge-loaded" else 0},
                          "preset": "tiny", "scale": dict(SCALE), "data_dir": None,
                          **({"isa_features": dict(ISA_FEATURES), "litert_kernel_path": "xnnpack"}
                             if quantized else {})}},
        "commit_info": {"id": "0123abcd", "time": "2026-11-27T08:00:00+00:00",
                        "author_time": "2026-11-27T08:00:00+00:00", "dirty": False,
                        "project": "continuum-bench", "branch": "main"},
        "benchmarks": b,
        "datetime": "2026-11-27T08:10:00.000000+00:00",
        "version": VERSION,
    }


def write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    return path


def write_results_dir(root):
    """results/<profile>.json for the three profiles; returns the folder."""
    for p in TIMES:
        write(root / f"{p}.json", profile_doc(p))
    return root


def edit(doc, fn):
    d = copy.deepcopy(doc)
    fn(d)
    return d


#: The counted cases of counts_doc: name -> extra_info (without the count), as benchmarks/test_counts.py writes them.
COUNTED = {
    "test_count_inference[full-litert]": {"operation": "inference", "pruning_factor": 0.0, "pruning_method": None,
                                          "runtime": "litert", "batch_size": 1, "num_threads": 1},
    "test_count_encrypt_pure_rsa": {"operation": "encryption", "scheme": "rsa-oaep-blocks", "dataset_bytes": 65_536,
                                    "ciphertext_bytes": 98_304},
    "test_count_serialize_tflite[full-tflite]": {"operation": "serialization", "pruning_factor": 0.0,
                                                 "model_format": "tflite", "model_bytes": 16_900_000,
                                                 "model_bytes_gzip": 15_600_000},
}
#: Instructions per call of each counted case in counts_doc by default.
INSTRUCTIONS = {"test_count_inference[full-litert]": 3_949_690.0, "test_count_encrypt_pure_rsa": 146_317_233.0,
                "test_count_serialize_tflite[full-tflite]": 115_119.0}


_SESSIONS = iter(range(10**6))


def counts_doc(instructions=None, *, injected=None, datetime=None):
    """A counted run as ``python -m harness.counts`` writes it: ``machine_info.counts``,
    ``machine_info.injected_slowdown`` (``injected``, {} by default), profile record ``none``, one
    round per case and ``extra_info.instructions`` (``instructions``: name -> count, default INSTRUCTIONS)."""
    instructions = INSTRUCTIONS if instructions is None else instructions
    doc = profile_doc("device")
    doc["benchmarks"] = []
    for name, count in instructions.items():
        entry = bench("test_count_x", None, {**COUNTED[name], "instructions": float(count), "counted_calls": 1,
                                             "count_tool": "callgrind"}, 2.5, rounds=1)
        entry.update(name=name, fullname=f"benchmarks/test_counts.py::{name}", param=None)
        doc["benchmarks"].append(entry)
    doc["machine_info"]["continuum"] = {"profile": {"name": "none", "requested": {}, "enforced": {}},
                                        "load": {"workers": 0}}
    doc["machine_info"]["counts"] = {"tool": "callgrind", "valgrind_version": "3.19.0", "events": ["Ir"]}
    doc["machine_info"]["injected_slowdown"] = dict(injected or {})
    # each call its own session unless ``datetime`` is given: the gate passes over the current run's own session
    doc["datetime"] = datetime or f"2026-12-02T01:{next(_SESSIONS) % 60:02d}:00.{next(_SESSIONS):06d}+00:00"
    return doc
