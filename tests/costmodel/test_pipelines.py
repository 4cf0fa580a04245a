"""costmodel.pipelines against a plain-numpy transcription of docs/spec.md's equations."""
import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose

from costmodel.pipelines import (PIPELINES, Affine, DevicePowers, PipelineInputs, cost_coefficients,
                                 cost_terms, data_exchanged, device_energy, pipeline_latency)

Q = np.array([1, 2, 5, 10, 100, 1000, 5000], dtype=float)
P_E, P_TX, P_RX, P_CPU = 5.34, 0.01, 0.1, 2.8


@pytest.fixture
def x():
    return PipelineInputs(uplink_bps=140e6, downlink_bps=260e6, model_bytes=6.3e6,
                          dataset_bytes=412.193e6, inference_edge_s=0.143, inference_device_s=1.34,
                          prune_s=0.15, encrypt_s=0.12, decrypt_s=0.05, finetune_edge_s=553.2,
                          finetune_device_s=733.2, sample_bytes=300e3, result_bytes=2e3,
                          request_bytes=64)


def ref(x, q):
    """docs/spec.md 'Cost equations', transcribed; T_dec added after T_dataset at the edge."""
    up, dn = x.uplink_bps, x.downlink_bps
    T_req_res, T_res = 8 * x.sample_bytes / up, 8 * x.result_bytes / dn
    T_model, T_dataset = 8 * x.model_bytes / dn, 8 * x.dataset_bytes / up
    T_req_model, T_req_dataset = 8 * x.request_bytes / up, 8 * x.request_bytes / dn
    T_pr, T_enc, T_dec = x.prune_s, x.encrypt_s, x.decrypt_s
    T_ft_e, T_ft_d, T_inf_e, T_inf_d = x.finetune_edge_s, x.finetune_device_s, x.inference_edge_s, x.inference_device_s
    lat = {
        "E-FT,E-Inf": q * T_req_res + T_pr + T_req_dataset + T_enc + T_dataset + T_dec + T_ft_e + q * T_inf_e + q * T_res,
        "E-FT,D-Inf": T_req_model + T_pr + T_req_dataset + T_enc + T_dataset + T_dec + T_ft_e + T_model + q * T_inf_d,
        "D-FT,D-Inf": T_req_model + T_pr + T_model + T_ft_d + q * T_inf_d,
        "E-Inf full": q * (T_req_res + T_inf_e + T_res),
        "D-Inf full": T_req_model + T_model + q * T_inf_d,
    }
    en = {
        "E-FT,E-Inf": q * P_TX * T_req_res + (P_RX + P_E) * T_req_dataset + P_CPU * T_enc + P_TX * T_dataset + q * (P_RX + P_E) * T_res,
        "E-FT,D-Inf": P_TX * T_req_model + (P_RX + P_E) * T_req_dataset + P_CPU * T_enc + P_TX * T_dataset + (P_RX + P_E) * T_model + q * P_CPU * T_inf_d,
        "D-FT,D-Inf": P_TX * T_req_model + (P_RX + P_E) * T_model + P_CPU * T_ft_d + q * P_CPU * T_inf_d,
        "E-Inf full": q * (P_TX * T_req_res + (P_RX + P_E) * T_res),
        "D-Inf full": P_TX * T_req_model + (P_RX + P_E) * T_model + q * P_CPU * T_inf_d,
    }
    s, r, m, ds, rq = x.sample_bytes, x.result_bytes, x.model_bytes, x.dataset_bytes, x.request_bytes
    data = {
        "E-FT,E-Inf": q * (s + r) + rq + ds, "E-FT,D-Inf": 2 * rq + ds + m,
        "D-FT,D-Inf": rq + m, "E-Inf full": q * (s + r), "D-Inf full": rq + m,
    }
    return lat, en, data


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_against_reference(x, pipeline):
    lat, en, data = ref(x, Q)
    assert_allclose(pipeline_latency(pipeline, x, Q), lat[pipeline], rtol=1e-12)
    assert_allclose(device_energy(pipeline, x, Q), en[pipeline], rtol=1e-12)
    assert_allclose(data_exchanged(pipeline, x, Q), data[pipeline], rtol=1e-12)


def test_published_swap_of_p_inf_and_p_ft(x):
    powers = DevicePowers(inference_w=2.0, finetune_w=3.0)
    y = x.replace(powers=powers)
    T_model, T_req = 8 * y.model_bytes / y.downlink_bps, 8 * y.request_bytes / y.uplink_bps
    base = P_TX * T_req + (P_RX + P_E) * T_model
    assert_allclose(device_energy("D-FT,D-Inf", y, Q), base + 3.0 * y.finetune_device_s + Q * 2.0 * y.inference_device_s)
    assert_allclose(device_energy("D-FT,D-Inf", y, Q, published_swap=True),
                    base + 2.0 * y.finetune_device_s + Q * 3.0 * y.inference_device_s)
    # with the study's equal powers it makes no difference
    assert_allclose(device_energy("D-FT,D-Inf", x, Q), device_energy("D-FT,D-Inf", x, Q, published_swap=True))


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("metric", ["latency", "energy", "data"])
def test_terms_sum_to_total_and_costs_non_decreasing(x, pipeline, metric):
    terms = cost_terms(pipeline, metric, x)
    total = cost_coefficients(pipeline, metric, x)
    assert_allclose(sum(t.intercept for t in terms.values()), total.intercept)
    assert_allclose(sum(t.slope for t in terms.values()), total.slope)
    v = total(np.arange(1, 500))
    assert np.all(np.diff(v) >= 0)


def test_vectorised_shape(x):
    q = np.arange(1, 13).reshape(3, 4)
    assert pipeline_latency("E-FT,E-Inf", x, q).shape == (3, 4)
    assert np.ndim(pipeline_latency("E-FT,E-Inf", x, 3)) == 0


def test_affine():
    a = Affine(2.0, 0.5) + Affine(1.0, 0.25)
    assert a == Affine(3.0, 0.75)
    assert_allclose(a([1, 4]), [3.75, 6.0])


@pytest.mark.parametrize("q", [0, 0.5, -1, [1, 0], np.nan, []])
def test_q_below_one_rejected(x, q):
    with pytest.raises(ValueError, match="q must be"):
        pipeline_latency("E-Inf full", x, q)


@pytest.mark.parametrize("field", PipelineInputs.POSITIVE)
@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_sizes_and_rates_must_be_positive(x, field, bad):
    with pytest.raises(ValueError, match=f"PipelineInputs.{field}"):
        dataclasses.replace(x, **{field: bad})


@pytest.mark.parametrize("field", PipelineInputs.NON_NEGATIVE)
def test_times_must_be_non_negative(x, field):
    dataclasses.replace(x, **{field: 0.0})  # zero: not part of the pipeline
    with pytest.raises(ValueError, match=f"PipelineInputs.{field}"):
        dataclasses.replace(x, **{field: -0.1})


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(DevicePowers)])
@pytest.mark.parametrize("bad", [0.0, -2.8, float("nan")])
def test_powers_must_be_positive(field, bad):
    with pytest.raises(ValueError, match=f"DevicePowers.{field}"):
        DevicePowers(**{field: bad})


def test_unknown_pipeline_and_metric(x):
    with pytest.raises(ValueError, match="pipeline must be one of"):
        pipeline_latency("E-Inf", x, 1)
    with pytest.raises(ValueError, match="metric must be one of"):
        cost_terms("E-Inf full", "money", x)


def test_inputs_are_frozen(x):
    with pytest.raises(dataclasses.FrozenInstanceError):
        x.model_bytes = 1.0


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_the_edges_conversion_adds_latency_once_and_no_energy_or_bytes(x, pipeline):
    """Quantizing at the edge is one more one-off step before the model is served or sent."""
    q = x.replace(quantize_s=2.5)
    assert_allclose(pipeline_latency(pipeline, q, Q), pipeline_latency(pipeline, x, Q) + 2.5, rtol=1e-12)
    assert_allclose(device_energy(pipeline, q, Q), device_energy(pipeline, x, Q), rtol=1e-12)
    assert_allclose(data_exchanged(pipeline, q, Q), data_exchanged(pipeline, x, Q), rtol=1e-12)
    assert cost_terms(pipeline, "latency", q)["quantization"] == Affine(2.5, 0.0)
    assert "quantization" not in cost_terms(pipeline, "latency", x)
    with pytest.raises(ValueError, match="quantize_s must be a finite number >= 0"):
        x.replace(quantize_s=-1.0)
