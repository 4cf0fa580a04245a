"""5G NR radio link: 3GPP TR 38.901 UMi street-canyon path loss, SNR, Shannon rate.

Every function is pure and takes SI units (m, Hz, W, bit/s) except where the name
says dB/dBm. Distances may be numpy arrays.

References
----------
- 3GPP TR 38.901 v17, Table 7.4.1-1 (UMi - Street Canyon path loss, note 1 for the
  breakpoint distance) and Table 7.4.2-1 (UMi LOS probability).
- Study (docs/spec.md, "Radio link"): 3.5 GHz, 100 MHz, 23 dBm BS, 10 dBm device,
  4x4 arrays at both ends, D = B log2(1 + SNR).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

SPEED_OF_LIGHT = 299_792_458.0  # [m/s]
THERMAL_NOISE_DBM_PER_HZ = -174.0  # [dBm/Hz] kT at 290 K
UMI_EFFECTIVE_ENV_HEIGHT = 1.0  # [m] h_E for UMi, TR 38.901 Table 7.4.1-1 note 1
UMI_LOS_D1 = 18.0  # [m] TR 38.901 Table 7.4.2-1
UMI_LOS_D2 = 36.0  # [m]

CARRIER_FREQUENCY = 3.5e9  # [Hz] study
BANDWIDTH = 100e6  # [Hz] study
BS_TX_POWER_DBM = 23.0  # [dBm] study, downlink
UE_TX_POWER_DBM = 10.0  # [dBm] study, uplink
ARRAY_ELEMENTS = 16  # 4x4 array at both ends (study)
# Ideal beamforming gain of an N-element array, 10 log10(N) [dBi], applied once
# per end (transmit and receive): 12.04 dBi each, 24.08 dB in total.
ARRAY_GAIN_DB = 10.0 * math.log10(ARRAY_ELEMENTS)
BS_HEIGHT = 10.0  # [m] TR 38.901 UMi
UE_HEIGHT = 1.5  # [m]
UE_NOISE_FIGURE_DB = 9.0  # customary UE noise figure (TR 38.802 / 38.803 link budgets)
BS_NOISE_FIGURE_DB = 5.0  # customary gNB noise figure

LOS_MODES = ("los", "nlos", "expected")

# TR 38.901 Table 7.4.1-1, UMi - Street Canyon (f_c in GHz, d in m)
PL1_CONST, PL1_D, PL1_F = 32.4, 21.0, 20.0
PL2_CONST, PL2_D, PL2_F, PL2_BP = 32.4, 40.0, 20.0, 9.5
NLOS_CONST, NLOS_D, NLOS_F, NLOS_HUT = 22.4, 35.3, 21.3, 0.3


def _positive(name, value):
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 and finite, got {value!r}")
    return arr


def _heights(bs_height, ue_height):
    _positive("bs_height", bs_height)
    _positive("ue_height", ue_height)
    if bs_height <= UMI_EFFECTIVE_ENV_HEIGHT or ue_height <= UMI_EFFECTIVE_ENV_HEIGHT:
        raise ValueError(
            f"bs_height and ue_height must exceed h_E = {UMI_EFFECTIVE_ENV_HEIGHT} m, "
            f"got bs_height={bs_height!r}, ue_height={ue_height!r}")


def breakpoint_distance(carrier_frequency=CARRIER_FREQUENCY, bs_height=BS_HEIGHT,
                        ue_height=UE_HEIGHT):
    """Breakpoint distance d'_BP = 4 h'_BS h'_UT f_c / c [m].

    TR 38.901 Table 7.4.1-1 note 1, effective heights h' = h - h_E, h_E = 1 m (UMi).
    carrier_frequency [Hz], heights [m].
    """
    _positive("carrier_frequency", carrier_frequency)
    _heights(bs_height, ue_height)
    return (4.0 * (bs_height - UMI_EFFECTIVE_ENV_HEIGHT) * (ue_height - UMI_EFFECTIVE_ENV_HEIGHT)
            * carrier_frequency / SPEED_OF_LIGHT)


def distance_3d(distance, bs_height=BS_HEIGHT, ue_height=UE_HEIGHT):
    """3D distance [m] from the 2D ground distance [m] and the antenna heights [m]."""
    d2 = _positive("distance", distance)
    return np.hypot(d2, bs_height - ue_height)


def path_loss_umi_los_db(distance, carrier_frequency=CARRIER_FREQUENCY,
                         bs_height=BS_HEIGHT, ue_height=UE_HEIGHT):
    """UMi street-canyon LOS path loss [dB], TR 38.901 Table 7.4.1-1 (PL1 / PL2).

    distance: 2D distance [m]; carrier_frequency [Hz]; heights [m]. The formula is
    applied as is below 10 m (the table's validity starts at 10 m).
    """
    _heights(bs_height, ue_height)
    d2 = _positive("distance", distance)
    fc_ghz = _positive("carrier_frequency", carrier_frequency) / 1e9
    d3 = distance_3d(d2, bs_height, ue_height)
    d_bp = breakpoint_distance(carrier_frequency, bs_height, ue_height)
    pl1 = PL1_CONST + PL1_D * np.log10(d3) + PL1_F * np.log10(fc_ghz)
    pl2 = (PL2_CONST + PL2_D * np.log10(d3) + PL2_F * np.log10(fc_ghz)
           - PL2_BP * np.log10(d_bp ** 2 + (bs_height - ue_height) ** 2))
    return np.where(d2 <= d_bp, pl1, pl2)


def path_loss_umi_nlos_db(distance, carrier_frequency=CARRIER_FREQUENCY,
                          bs_height=BS_HEIGHT, ue_height=UE_HEIGHT):
    """UMi street-canyon NLOS path loss [dB] = max(PL_LOS, PL'_NLOS), TR 38.901 Table 7.4.1-1.

    PL'_NLOS = 35.3 log10(d_3D) + 22.4 + 21.3 log10(f_c/GHz) - 0.3 (h_UT - 1.5).
    """
    d2 = _positive("distance", distance)
    fc_ghz = _positive("carrier_frequency", carrier_frequency) / 1e9
    d3 = distance_3d(d2, bs_height, ue_height)
    pl_nlos = (NLOS_D * np.log10(d3) + NLOS_CONST + NLOS_F * np.log10(fc_ghz)
               - NLOS_HUT * (ue_height - 1.5))
    return np.maximum(path_loss_umi_los_db(d2, carrier_frequency, bs_height, ue_height), pl_nlos)


def los_probability_umi(distance):
    """UMi LOS probability, TR 38.901 Table 7.4.2-1: 1 for d <= 18 m, else
    18/d + exp(-d/36) (1 - 18/d). distance: 2D distance [m]."""
    d2 = _positive("distance", distance)
    with np.errstate(divide="ignore"):
        p = UMI_LOS_D1 / d2 + np.exp(-d2 / UMI_LOS_D2) * (1.0 - UMI_LOS_D1 / d2)
    return np.where(d2 <= UMI_LOS_D1, 1.0, p)


def path_loss_db(distance, los_mode="los", carrier_frequency=CARRIER_FREQUENCY,
                 bs_height=BS_HEIGHT, ue_height=UE_HEIGHT):
    """Path loss [dB] for los_mode 'los' or 'nlos'; 'expected' returns the loss of the
    LOS-probability-weighted mean linear path gain (the rate functions instead average
    the rate itself, see :func:`link_rate`)."""
    if los_mode == "los":
        return path_loss_umi_los_db(distance, carrier_frequency, bs_height, ue_height)
    if los_mode == "nlos":
        return path_loss_umi_nlos_db(distance, carrier_frequency, bs_height, ue_height)
    if los_mode == "expected":
        p = los_probability_umi(distance)
        g = (p * 10 ** (-path_loss_umi_los_db(distance, carrier_frequency, bs_height, ue_height) / 10)
             + (1 - p) * 10 ** (-path_loss_umi_nlos_db(distance, carrier_frequency, bs_height,
                                                       ue_height) / 10))
        return -10 * np.log10(g)
    raise ValueError(f"los_mode must be one of {LOS_MODES}, got {los_mode!r}")


def noise_power_dbm(bandwidth=BANDWIDTH, noise_figure_db=UE_NOISE_FIGURE_DB):
    """Receiver noise power [dBm] = -174 dBm/Hz + 10 log10(B/Hz) + NF [dB]."""
    b = _positive("bandwidth", bandwidth)
    return THERMAL_NOISE_DBM_PER_HZ + 10 * np.log10(b) + noise_figure_db


def snr_db(tx_power_dbm, path_loss, noise_figure_db, bandwidth=BANDWIDTH,
           tx_gain_db=ARRAY_GAIN_DB, rx_gain_db=ARRAY_GAIN_DB):
    """SNR [dB] = P_tx + G_tx + G_rx - PL - N. path_loss [dB], powers [dBm]."""
    return (tx_power_dbm + tx_gain_db + rx_gain_db - np.asarray(path_loss, dtype=float)
            - noise_power_dbm(bandwidth, noise_figure_db))


def shannon_rate(snr_db_value, bandwidth=BANDWIDTH):
    """Shannon rate D = B log2(1 + SNR) [bit/s]; snr in dB, bandwidth [Hz]."""
    b = _positive("bandwidth", bandwidth)
    return b * np.log2(1.0 + 10 ** (np.asarray(snr_db_value, dtype=float) / 10))


@dataclasses.dataclass(frozen=True)
class RadioLink:
    """Parameters of the device <-> base station link (SI units, dB where named).

    distance [m] (2D), los_mode in LOS_MODES, noise figures [dB] of the UE
    (downlink receiver) and the BS (uplink receiver), heights [m].
    """

    distance: float = 100.0
    los_mode: str = "expected"
    ue_noise_figure_db: float = UE_NOISE_FIGURE_DB
    bs_noise_figure_db: float = BS_NOISE_FIGURE_DB
    bs_height: float = BS_HEIGHT
    ue_height: float = UE_HEIGHT
    carrier_frequency: float = CARRIER_FREQUENCY
    bandwidth: float = BANDWIDTH
    ue_tx_power_dbm: float = UE_TX_POWER_DBM
    bs_tx_power_dbm: float = BS_TX_POWER_DBM
    array_gain_db: float = ARRAY_GAIN_DB

    def __post_init__(self):
        for name in ("distance", "carrier_frequency", "bandwidth"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if self.los_mode not in LOS_MODES:
            raise ValueError(f"los_mode must be one of {LOS_MODES}, got {self.los_mode!r}")
        _heights(self.bs_height, self.ue_height)

    def replace(self, **changes) -> "RadioLink":
        return dataclasses.replace(self, **changes)


def _rate(link: RadioLink, distance, tx_power_dbm, noise_figure_db):
    def one(mode):
        pl = path_loss_db(distance, mode, link.carrier_frequency, link.bs_height, link.ue_height)
        return shannon_rate(snr_db(tx_power_dbm, pl, noise_figure_db, link.bandwidth,
                                   link.array_gain_db, link.array_gain_db), link.bandwidth)
    if link.los_mode == "expected":
        p = los_probability_umi(distance)
        return p * one("los") + (1 - p) * one("nlos")
    return one(link.los_mode)


def uplink_rate(link: RadioLink, distance=None):
    """Uplink (device -> BS) Shannon rate [bit/s]; 'expected' mode averages the rate
    over the LOS probability. distance [m] overrides link.distance (may be an array)."""
    d = link.distance if distance is None else distance
    return _rate(link, d, link.ue_tx_power_dbm, link.bs_noise_figure_db)


def downlink_rate(link: RadioLink, distance=None):
    """Downlink (BS -> device) Shannon rate [bit/s], see :func:`uplink_rate`."""
    d = link.distance if distance is None else distance
    return _rate(link, d, link.bs_tx_power_dbm, link.ue_noise_figure_db)


def transfer_time(size_bytes, rate_bps):
    """Transfer time [s] of size_bytes [byte] at rate_bps [bit/s]: 8 l / D (study)."""
    return 8.0 * _positive("size_bytes", size_bytes) / _positive("rate_bps", rate_bps)


# ---- calibration to the study's transfer times -----------------------------------
# Units: MB = 1e6 bytes, kB = 1e3 bytes (decimal SI). Both all-decimal and all-binary
# units are consistent with the published rounding; mixed ones are not (docs/costmodel.md).
STUDY_DATASET_BYTES = 412e6 + 0.193e6  # encrypted dataset (412 MB + 0.193 MB) [byte]
STUDY_DATASET_UPLOAD_S = 23.75  # [s] Table II
STUDY_SAMPLE_BYTES = 300e3  # [byte]
STUDY_RESULT_BYTES = 2e3  # [byte]
STUDY_SAMPLE_UPLOAD_S = 0.017  # [s] Table II
STUDY_FULL_MODEL_BYTES = 16.9e6  # [byte] MobileNet v1 1.0/224, 4.2 M float32 params
STUDY_FULL_MODEL_DOWNLOAD_S = 0.5203  # [s] Table II
STUDY_PF70_MODEL_DOWNLOAD_S = 0.195  # [s] Table II (size not published)
STUDY_UPLINK_BPS = 8 * STUDY_DATASET_BYTES / STUDY_DATASET_UPLOAD_S
STUDY_DOWNLINK_BPS = 8 * STUDY_FULL_MODEL_BYTES / STUDY_FULL_MODEL_DOWNLOAD_S


def required_snr_db(rate_bps, bandwidth=BANDWIDTH):
    """SNR [dB] at which the Shannon rate equals rate_bps [bit/s]."""
    r = _positive("rate_bps", rate_bps)
    return 10 * np.log10(2 ** (r / _positive("bandwidth", bandwidth)) - 1)


def calibrate_link(uplink_bps=STUDY_UPLINK_BPS, downlink_bps=STUDY_DOWNLINK_BPS,
                   base: RadioLink | None = None) -> RadioLink:
    """Closed-form calibration: keep base's BS noise figure, set the distance so the
    uplink rate is uplink_bps, then the UE noise figure so the downlink rate is
    downlink_bps. Needs base.los_mode 'los' or 'nlos' (a monotone path loss)."""
    from scipy.optimize import brentq  # local: keeps `import costmodel` light

    base = base or RadioLink(los_mode="nlos")
    if base.los_mode == "expected":
        raise ValueError("calibrate_link needs los_mode 'los' or 'nlos', got 'expected'")
    pl_target = (base.ue_tx_power_dbm + 2 * base.array_gain_db
                 - noise_power_dbm(base.bandwidth, base.bs_noise_figure_db)
                 - required_snr_db(uplink_bps, base.bandwidth))

    def gap(d):
        return float(path_loss_db(d, base.los_mode, base.carrier_frequency, base.bs_height,
                                  base.ue_height)) - pl_target
    distance = brentq(gap, 1.0, 1e5, xtol=1e-9)
    pl = pl_target
    ue_nf = (base.bs_tx_power_dbm + 2 * base.array_gain_db - pl
             - required_snr_db(downlink_bps, base.bandwidth)
             - THERMAL_NOISE_DBM_PER_HZ - 10 * math.log10(base.bandwidth))
    return base.replace(distance=float(distance), ue_noise_figure_db=float(ue_nf))


# Presets. `paper` holds the output of calibrate_link() rounded (tests re-derive it):
# NLOS, BS NF 5 dB kept, distance and UE NF set by the study's uplink and downlink rates.
PRESETS = {
    "3gpp": RadioLink(distance=100.0, los_mode="expected",
                      ue_noise_figure_db=UE_NOISE_FIGURE_DB, bs_noise_figure_db=BS_NOISE_FIGURE_DB),
    "paper": RadioLink(distance=291.42, los_mode="nlos",
                       ue_noise_figure_db=13.051, bs_noise_figure_db=BS_NOISE_FIGURE_DB),
}


def get_link(name: str = "paper", **overrides) -> RadioLink:
    """A preset link ('3gpp' or 'paper') with optional field overrides (e.g. distance)."""
    if name not in PRESETS:
        raise ValueError(f"radio preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name].replace(**{k: v for k, v in overrides.items() if v is not None})


def paper_transfer_errors(link: RadioLink | None = None):
    """Relative error of each of the study's transfer times under `link` (default the
    paper preset): list of dicts (what, bytes, published_s, model_s, rel_error)."""
    link = link or PRESETS["paper"]
    up, down = float(uplink_rate(link)), float(downlink_rate(link))
    pf70_bytes = STUDY_PF70_MODEL_DOWNLOAD_S * STUDY_DOWNLINK_BPS / 8
    rows = [
        ("dataset upload (412.193 MB encrypted)", STUDY_DATASET_BYTES, STUDY_DATASET_UPLOAD_S,
         8 * STUDY_DATASET_BYTES / up),
        ("sample upload (300 kB)", STUDY_SAMPLE_BYTES, STUDY_SAMPLE_UPLOAD_S,
         8 * STUDY_SAMPLE_BYTES / up),
        ("result exchange (300 kB up + 2 kB down)", STUDY_SAMPLE_BYTES + STUDY_RESULT_BYTES,
         STUDY_SAMPLE_UPLOAD_S, 8 * STUDY_SAMPLE_BYTES / up + 8 * STUDY_RESULT_BYTES / down),
        ("full model download (16.9 MB)", STUDY_FULL_MODEL_BYTES, STUDY_FULL_MODEL_DOWNLOAD_S,
         8 * STUDY_FULL_MODEL_BYTES / down),
        ("pf70 model download (size implied: %.3f MB)" % (pf70_bytes / 1e6), pf70_bytes,
         STUDY_PF70_MODEL_DOWNLOAD_S, 8 * pf70_bytes / down),
    ]
    return [dict(what=w, bytes=b, published_s=p, model_s=m, rel_error=m / p - 1)
            for w, b, p, m in rows]
