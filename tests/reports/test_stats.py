"""reports.stats against independent references: plain numpy, brute-force enumeration, scipy's
Wilcoxon test, and simulation of what each derivation claims."""
import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats as sps

from reports import stats as S


# ---- Mann-Whitney U ---------------------------------------------------------------------------

def exact_greater_p(a, b):
    """P(U >= U_obs) over every split of the pooled sample into |a| and |b| (no ties): the exact null."""
    pooled = np.concatenate([a, b])
    u_obs = (a[:, None] > b[None, :]).sum()
    hits = total = 0
    for idx in itertools.combinations(range(pooled.size), a.size):
        mask = np.zeros(pooled.size, bool)
        mask[list(idx)] = True
        u = (pooled[mask][:, None] > pooled[~mask][None, :]).sum()
        hits += u >= u_obs
        total += 1
    return hits / total


@pytest.mark.parametrize("seed", range(4))
def test_mann_whitney_is_the_exact_rank_test(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(1.05, 0.03, 6), rng.normal(1.0, 0.03, 7)
    assert S.mann_whitney_p(a, b, "greater") == pytest.approx(exact_greater_p(a, b), rel=1e-9)
    assert S.mann_whitney_p(a, b) == pytest.approx(min(1.0, 2 * min(exact_greater_p(a, b), exact_greater_p(b, a))),
                                                   rel=1e-9)


def test_mann_whitney_of_one_constant_is_no_evidence():
    assert S.mann_whitney_p(np.ones(5), np.ones(5)) == 1.0
    assert S.mann_whitney_p(np.ones(5), np.ones(5), "greater") == 1.0


# ---- pooled between-run noise and the prediction limit ----------------------------------------

def test_pooled_noise_per_kind_and_overall():
    kinds = {"a": "inference/litert", "b": "inference/litert", "c": "serialization/keras"}
    medians = {"a": [1.0, math.e ** 0.1, math.e ** -0.1], "b": [2.0, 2.0 * math.e ** 0.1, 2.0 * math.e ** -0.1],
               "c": [5.0, 5.0]}
    noise = S.pooled_noise(medians, kinds)
    assert noise["inference/litert"] == (pytest.approx(0.1), 4)
    # one degree of freedom of its own: the kind borrows the estimate pooled over all benchmarks
    assert noise["serialization/keras"] == (pytest.approx(math.sqrt(0.04 / 5)), 5)
    assert S.pooled_noise({"a": [1.0]}, {"a": "x"})["x"][1] == 0


def test_pooled_noise_is_the_one_way_anova_within_group_sd():
    rng = np.random.default_rng(3)
    medians = {f"b{i}": list(np.exp(rng.normal(math.log(0.01 * (i + 1)), 0.07, k))) for i, k in enumerate([3, 4, 5, 6])}
    kinds = dict.fromkeys(medians, "inference/litert")
    sigma, dof = S.pooled_noise(medians, kinds)["inference/litert"]
    logs = [np.log(v) for v in medians.values()]
    reference = math.sqrt(sum(np.var(x, ddof=1) * (x.size - 1) for x in logs) / sum(x.size - 1 for x in logs))
    assert (sigma, dof) == (pytest.approx(reference, rel=1e-12), 3 + 4 + 5 + 6 - 4)


def test_prediction_limit_tends_to_the_normal_bound():
    z = NormalDist().inv_cdf(1 - 0.05 / 4)
    assert S.prediction_limit(0.1, 10**7, 5, 0.05, 4) == pytest.approx(math.exp(z * 0.1 * math.sqrt(1.2)), rel=1e-5)
    assert S.prediction_limit(0.1, 4, 5, 0.05, 4) > S.prediction_limit(0.1, 40, 5, 0.05, 4)


def test_prediction_limit_is_exceeded_by_an_unchanged_run_alpha_of_the_time():
    """Simulated lognormal runs: k baseline runs of g benchmarks estimate sigma on g (k - 1) degrees
    of freedom; a new run of one benchmark beyond the limit should happen with probability alpha."""
    rng = np.random.default_rng(11)
    trials, g, k, alpha, sigma = 20000, 2, 3, 0.05, 0.1
    base = rng.normal(0.0, sigma, (trials, g, k))
    new = rng.normal(0.0, sigma, trials)
    sigma_hat = np.sqrt(((base - base.mean(axis=2, keepdims=True)) ** 2).sum(axis=(1, 2)) / (g * (k - 1)))
    ratio = np.exp(new - base[:, 0, :].mean(axis=1))
    limits = np.array([S.prediction_limit(s, g * (k - 1), k, alpha, 1) for s in sigma_hat])
    assert abs((ratio > limits).mean() - alpha) < 0.008


# ---- Hodges-Lehmann interval of per-quad ratios -----------------------------------------------

def test_a_linear_drift_cancels_in_one_quad():
    a = (1.0, 1.3)  # A first and last of ABBA on a ramp 1.0, 1.1, 1.2, 1.3
    b = (1.1 * 1.05, 1.2 * 1.05)
    assert S.quad_log_ratio(a, b) == pytest.approx(math.log(1.05) + 0.5 * math.log(1.1 * 1.2 / 1.3), abs=2e-3)
    assert math.exp(S.quad_log_ratio((1.0, 1.0), (1.05, 1.05))) == pytest.approx(1.05)
    with pytest.raises(ValueError, match="two blocks per side"):
        S.quad_log_ratio((1.0,), (1.0, 1.0))


def test_signed_rank_counts_are_the_subsets_of_ranks():
    n = 9
    sums = [sum(r for r, s in zip(range(1, n + 1), signs) if s) for signs in itertools.product((0, 1), repeat=n)]
    reference = np.cumsum(np.bincount(sums, minlength=n * (n + 1) // 2 + 1))
    assert S.signed_rank_cdf_counts(n) == list(reference)


@pytest.mark.parametrize(("n", "k"), [(5, 0), (6, 1), (10, 9), (20, 53), (30, 138)])
def test_interval_rank_matches_the_signed_rank_table(n, k):
    # two-sided 5 % critical values of T (Hollander & Wolfe Table A.4): k = critical value + 1
    assert S.interval_rank(n, 0.95) == k


def test_normal_approximation_joins_the_exact_one():
    exact = S.interval_rank(S.EXACT_MAX_PAIRS, 0.95)
    n = S.EXACT_MAX_PAIRS
    mean, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    assert abs(exact - (mean - 1.959964 * sd)) < 5
    # just above the exact range the approximation lands within a few ranks of the exact count
    exact_above = sum(c <= 0.025 * 2 ** (n + 1) for c in S.signed_rank_cdf_counts(n + 1))
    assert abs(S.interval_rank(n + 1, 0.95) - exact_above) <= 3


@pytest.mark.parametrize("seed", range(5))
def test_interval_is_the_inverted_wilcoxon_test(seed):
    d = np.random.default_rng(seed).normal(0.02, 0.05, 15)
    shift = S.hodges_lehmann(d, 0.95)

    def p(delta):
        return sps.wilcoxon(d - delta, method="exact").pvalue

    eps = 1e-9
    assert p(shift.lo + eps) > 0.05 and p(shift.hi - eps) > 0.05  # inside: not rejected
    assert p(shift.lo - eps) <= 0.05 and p(shift.hi + eps) <= 0.05  # outside: rejected
    walsh = [(d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d))]
    assert shift.estimate == pytest.approx(np.median(walsh))


def test_too_few_pairs_give_no_interval():
    shift = S.hodges_lehmann([0.01, 0.02, 0.03], 0.95)
    assert (shift.lo, shift.hi) == (None, None) and shift.estimate == pytest.approx(0.02)
    with pytest.raises(ValueError, match="no paired differences"):
        S.hodges_lehmann([])


# ---- the count rule's arithmetic --------------------------------------------------------------

def test_count_ratio_and_spread_against_numpy():
    baseline = [1000.0, 1003.0, 999.0, 1001.0]
    assert S.count_ratio(1010.0, baseline) == pytest.approx(1010.0 / np.median(baseline))
    assert S.count_spread(baseline) == pytest.approx(np.ptp(baseline) / np.min(baseline))
    assert S.count_spread([5.0]) == 0.0


# ---- 5. two machines: Welch's t interval of the log ratio -------------------------------------

def test_machine_ratio_is_welchs_interval_on_the_log_medians():
    """The same interval as scipy's Welch t-test on the logs, exponentiated; unequal variances allowed."""
    a, b = [0.021, 0.019, 0.025, 0.020], [0.010, 0.0102, 0.0099]
    r = S.machine_ratio(a, b)
    welch = sps.ttest_ind(np.log(a), np.log(b), equal_var=False).confidence_interval(0.95)
    assert r.ratio == pytest.approx(math.exp(np.mean(np.log(a)) - np.mean(np.log(b))))
    assert (r.low, r.high) == pytest.approx((math.exp(welch.low), math.exp(welch.high)))
    assert r.low < r.ratio < r.high


def test_machine_ratio_covers_the_true_ratio_about_95_percent_of_the_time():
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(2000):
        a = 2.0 * np.exp(0.1 * rng.standard_normal(3))
        b = np.exp(0.03 * rng.standard_normal(4))
        r = S.machine_ratio(a, b)
        hits += r.low < 2.0 < r.high
    assert 0.93 < hits / 2000 < 0.97


def test_machine_ratio_without_between_run_noise_to_measure():
    one = S.machine_ratio([2.0], [1.0, 1.1])
    assert one.ratio == pytest.approx(2.0 / math.sqrt(1.1)) and one.low is None and one.high is None
    flat = S.machine_ratio([2.0, 2.0], [1.0, 1.0])
    assert (flat.ratio, flat.low, flat.high) == pytest.approx((2.0, 2.0, 2.0))
    with pytest.raises(ValueError, match="at least one positive median"):
        S.machine_ratio([], [1.0])


# ---- the cluster interval over pairs of processes ----------------------------------------------

def brute_hl(d):
    """Median of every Walsh average, by brute force."""
    return float(np.median([(d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d))]))


def hierarchical(rng, j, k, process_sd, quad_noise, delta=0.0):
    """``j`` clusters of ``k`` log ratios: ``delta`` + a cluster effect N(0, process_sd) + per-quad noise."""
    return [list(delta + rng.normal(0, process_sd) + quad_noise(rng, k)) for _ in range(j)]


def test_variance_components_are_the_balanced_anova():
    rng = np.random.default_rng(5)
    groups = hierarchical(rng, 8, 6, 0.02, lambda r, k: r.normal(0, 0.03, k))
    x = np.asarray(groups)
    msw = float(x.var(axis=1, ddof=1).mean())  # balanced: the pooled within variance is the mean of the groups'
    between2 = float(x.mean(axis=1).var(ddof=1)) - msw / 6
    between, within = S.variance_components(groups)
    assert within == pytest.approx(math.sqrt(msw)) and between == pytest.approx(math.sqrt(max(0.0, between2)))


def test_variance_components_recover_the_simulated_ones_with_unequal_clusters():
    rng = np.random.default_rng(6)
    groups = [list(rng.normal(0, 0.02) + rng.normal(0, 0.03, k)) for k in rng.integers(3, 9, 3000)]
    between, within = S.variance_components(groups)
    assert between == pytest.approx(0.02, rel=0.05) and within == pytest.approx(0.03, rel=0.02)
    assert S.variance_components([[0.01, 0.02, 0.03]]) == (None, pytest.approx(0.01))


def test_cluster_interval_is_students_t_over_the_clusters_hodges_lehmann_estimates():
    rng = np.random.default_rng(7)
    groups = hierarchical(rng, 7, 5, 0.02, lambda r, k: r.normal(0, 0.03, k), delta=0.04)
    c = [brute_hl(g) for g in groups]
    lo, hi = sps.t.interval(0.95, len(c) - 1, loc=np.mean(c), scale=sps.sem(c))
    est = S.cluster_interval(groups)
    assert est.estimate == pytest.approx(np.mean(c)) and (est.lo, est.hi) == (pytest.approx(lo), pytest.approx(hi))
    assert est.clusters == 7 and est.quads == 35 and est.dof == 6 and est.cluster_estimates == pytest.approx(c)


@pytest.mark.parametrize("noise", ["normal", "heavy"])
def test_cluster_interval_covers_about_95_percent_where_the_quads_alone_do_not(noise):
    """Pairs of processes that differ by SD 2 % for their whole lives, 10 pairs of 6 quads with quad noise
    of 3 % (normal, or Student t with 3 dof: bursts): the cluster interval covers the true ratio about 95 %
    of the time; the signed-rank interval over all 60 quads, as if independent, far less."""
    quad_noise = {"normal": lambda r, k: r.normal(0, 0.03, k),
                  "heavy": lambda r, k: 0.03 / math.sqrt(3) * r.standard_t(3, k)}[noise]
    rng = np.random.default_rng(8)
    runs, covered, covered_quads = 1500, 0, 0
    for _ in range(runs):
        groups = hierarchical(rng, 10, 6, 0.02, quad_noise, delta=0.05)
        est = S.cluster_interval(groups)
        covered += est.lo <= 0.05 <= est.hi
        flat = S.hodges_lehmann([x for g in groups for x in g])
        covered_quads += flat.lo <= 0.05 <= flat.hi
    assert 0.93 <= covered / runs <= 0.97
    assert covered_quads / runs < 0.85  # its SD is 1.6x too small here: about 78 % expected


def test_one_cluster_has_no_interval_and_equal_clusters_a_zero_width_one():
    est = S.cluster_interval([[0.01, 0.02, 0.03]])
    assert est.lo is None and est.hi is None and est.estimate == pytest.approx(0.02)
    same = S.cluster_interval([[0.01, 0.01], [0.01, 0.01], [0.01, 0.01]])
    assert same.lo == pytest.approx(0.01) and same.hi == pytest.approx(0.01) and same.between_sd == 0.0
    with pytest.raises(ValueError, match="no clusters"):
        S.cluster_interval([])
