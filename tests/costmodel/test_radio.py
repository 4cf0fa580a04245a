"""costmodel.radio against an independent plain-numpy reference and TR 38.901 values."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from costmodel import radio

C = 299_792_458.0  # speed of light [m/s]


# ---- independent reference (written from TR 38.901 Table 7.4.1-1 / 7.4.2-1) ----------
def ref_pl_los(d2, fc_hz=3.5e9, hbs=10.0, hut=1.5):
    d3 = np.sqrt(d2 ** 2 + (hbs - hut) ** 2)
    fc = fc_hz / 1e9
    dbp = 4 * (hbs - 1) * (hut - 1) * fc_hz / C
    pl1 = 32.4 + 21 * np.log10(d3) + 20 * np.log10(fc)
    pl2 = 32.4 + 40 * np.log10(d3) + 20 * np.log10(fc) - 9.5 * np.log10(dbp ** 2 + (hbs - hut) ** 2)
    return np.where(d2 <= dbp, pl1, pl2)


def ref_pl_nlos(d2, fc_hz=3.5e9, hbs=10.0, hut=1.5):
    d3 = np.sqrt(d2 ** 2 + (hbs - hut) ** 2)
    p = 35.3 * np.log10(d3) + 22.4 + 21.3 * np.log10(fc_hz / 1e9) - 0.3 * (hut - 1.5)
    return np.maximum(ref_pl_los(d2, fc_hz, hbs, hut), p)


def ref_p_los(d2):
    return np.where(d2 <= 18, 1.0, 18 / d2 + np.exp(-d2 / 36) * (1 - 18 / d2))


def ref_rate(pl_db, ptx_dbm, nf_db, bw=100e6, gain_db=2 * 10 * np.log10(16)):
    snr_db = ptx_dbm + gain_db - pl_db - (-174 + 10 * np.log10(bw) + nf_db)
    return bw * np.log2(1 + 10 ** (snr_db / 10))


# ---- published values ------------------------------------------------------------------
@pytest.fixture
def tr38901_umi_100m():
    """TR 38.901 UMi street canyon at 100 m, 3.5 GHz, h_BS 10 m, h_UT 1.5 m."""
    return {"los_db": 85.3, "nlos_db": 104.6}


def test_published_path_loss_at_100m(tr38901_umi_100m):
    assert_allclose(radio.path_loss_umi_los_db(100.0), tr38901_umi_100m["los_db"], atol=0.05)
    assert_allclose(radio.path_loss_umi_nlos_db(100.0), tr38901_umi_100m["nlos_db"], atol=0.05)


def test_breakpoint_distance():
    assert_allclose(radio.breakpoint_distance(), 4 * 9 * 0.5 * 3.5e9 / C, rtol=1e-3)


DIST = np.array([10.0, 18.0, 50.0, 100.0, 200.0, 209.0, 211.0, 300.0, 1000.0, 4000.0])


def test_los_against_reference():
    assert_allclose(radio.path_loss_umi_los_db(DIST), ref_pl_los(DIST), atol=2e-3)


def test_nlos_against_reference():
    assert_allclose(radio.path_loss_umi_nlos_db(DIST), ref_pl_nlos(DIST), atol=2e-3)
    assert_allclose(radio.path_loss_umi_nlos_db(DIST, ue_height=2.5),
                    ref_pl_nlos(DIST, hut=2.5), atol=2e-3)


def test_los_probability_against_reference():
    assert_allclose(radio.los_probability_umi(DIST), ref_p_los(DIST), rtol=1e-12)


@pytest.mark.parametrize("mode", ["los", "nlos"])
def test_rates_against_reference(mode):
    ref_pl = ref_pl_los if mode == "los" else ref_pl_nlos
    link = radio.RadioLink(los_mode=mode)
    assert_allclose(radio.uplink_rate(link, DIST), ref_rate(ref_pl(DIST), 10, 5), rtol=1e-3)
    assert_allclose(radio.downlink_rate(link, DIST), ref_rate(ref_pl(DIST), 23, 9), rtol=1e-3)


def test_expected_rate_is_probability_weighted():
    p = ref_p_los(DIST)
    want = p * ref_rate(ref_pl_los(DIST), 10, 5) + (1 - p) * ref_rate(ref_pl_nlos(DIST), 10, 5)
    assert_allclose(radio.uplink_rate(radio.RadioLink(los_mode="expected"), DIST), want, rtol=1e-3)


@pytest.mark.parametrize("mode", radio.LOS_MODES)
def test_rate_non_increasing_with_distance(mode):
    d = np.linspace(10, 3000, 400)
    link = radio.RadioLink(los_mode=mode)
    for r in (radio.uplink_rate(link, d), radio.downlink_rate(link, d)):
        assert np.all(np.diff(r) <= 1e-6)


def test_noise_power():
    assert_allclose(radio.noise_power_dbm(100e6, 9.0), -174 + 80 + 9)


# ---- the paper preset ----------------------------------------------------------------------
def test_paper_preset_is_the_calibration():
    cal = radio.calibrate_link()
    p = radio.PRESETS["paper"]
    assert abs(cal.distance - p.distance) < 0.01
    assert abs(cal.ue_noise_figure_db - p.ue_noise_figure_db) < 1e-3
    assert cal.bs_noise_figure_db == p.bs_noise_figure_db == radio.BS_NOISE_FIGURE_DB


@pytest.fixture
def study_transfer_times():
    """docs/spec.md / Table II: (bytes, direction, published seconds)."""
    return {"dataset": (412.193e6, "up", 23.75), "sample": (300e3, "up", 0.017),
            "full_model": (16.9e6, "down", 0.5203)}


def test_paper_preset_transfer_times_within_2pct(study_transfer_times):
    link = radio.PRESETS["paper"]
    rate = {"up": float(radio.uplink_rate(link)), "down": float(radio.downlink_rate(link))}
    for name, (size, direction, published) in study_transfer_times.items():
        t = 8 * size / rate[direction]
        assert abs(t / published - 1) < 0.02, name
    errors = {r["what"]: r["rel_error"] for r in radio.paper_transfer_errors()}
    assert len(errors) == 5
    assert max(abs(e) for w, e in errors.items() if "result exchange" not in w) < 0.02


def test_customary_noise_figures_cannot_give_both_directions():
    """With NF_UE 9 dB / NF_BS 5 dB the downlink SNR is 9 dB above the uplink's at any
    distance; the study's rates need 4.95 dB."""
    need = radio.required_snr_db(radio.STUDY_DOWNLINK_BPS) - radio.required_snr_db(radio.STUDY_UPLINK_BPS)
    assert_allclose(need, 4.95, atol=0.01)
    link = radio.PRESETS["3gpp"].replace(los_mode="nlos")
    d = np.linspace(20, 2000, 200)
    gap = (radio.snr_db(23, radio.path_loss_db(d, "nlos"), link.ue_noise_figure_db)
           - radio.snr_db(10, radio.path_loss_db(d, "nlos"), link.bs_noise_figure_db))
    assert_allclose(gap, 9.0)
    # at the distance fitting the uplink, the downlink is far too fast
    cal = radio.calibrate_link(base=link)
    t_model = 8 * 16.9e6 / float(radio.downlink_rate(cal.replace(ue_noise_figure_db=9.0)))
    assert t_model / 0.5203 - 1 < -0.2


def test_transfer_time():
    assert_allclose(radio.transfer_time(1e6, 8e6), 1.0)


# ---- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,field", [({"distance": 0.0}, "distance"), ({"distance": -5.0}, "distance"),
                                      ({"los_mode": "maybe"}, "los_mode"),
                                      ({"bandwidth": 0.0}, "bandwidth"),
                                      ({"ue_height": 0.5}, "ue_height")])
def test_link_validation(kw, field):
    with pytest.raises(ValueError, match=field):
        radio.RadioLink(**kw)


def test_function_validation():
    with pytest.raises(ValueError, match="distance"):
        radio.path_loss_umi_los_db(-1.0)
    with pytest.raises(ValueError, match="los_mode"):
        radio.path_loss_db(100.0, "sometimes")
    with pytest.raises(ValueError, match="radio preset"):
        radio.get_link("5g")
    with pytest.raises(ValueError, match="rate_bps"):
        radio.transfer_time(1.0, 0.0)
