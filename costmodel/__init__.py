"""continuum-bench cost model: pure Python (numpy, pandas, scipy), never TensorFlow.

Modules: ``radio`` (5G link, TR 38.901 UMi), ``pipelines`` (latency / energy / data
per pipeline, affine in Q), ``curves`` (curves, crossovers, best ranges), ``tables``
(Table II from a scenario), ``options`` (every pipeline on every model variant
ranked, with its top-1), ``paper`` (the study's inputs from its packaged CSVs),
``render`` (a result as text, Markdown or JSON lines), ``cli`` (``python -m costmodel
paper|advise`` on the study's figures). It imports none of the suite's other packages:
reading results, figures, the HTML report and ``continuum-bench`` live in ``reports``.
"""
from .pipelines import (BASELINES, METRICS, PIPELINES, Affine, DevicePowers, PipelineInputs,
                        cost_coefficients, cost_terms, data_exchanged, device_energy,
                        pipeline_latency)
from .radio import RadioLink, downlink_rate, get_link, uplink_rate

__all__ = ["PIPELINES", "BASELINES", "METRICS", "Affine", "DevicePowers", "PipelineInputs",
           "cost_terms", "cost_coefficients", "pipeline_latency", "device_energy",
           "data_exchanged", "RadioLink", "get_link", "uplink_rate", "downlink_rate"]
