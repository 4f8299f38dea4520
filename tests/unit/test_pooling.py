"""The pooling candidates against maintained implementations: statsmodels' meta-analysis for
DerSimonian-Laird and Hartung-Knapp-Sidik-Jonkman, scipy for the trimmed mean and the t-interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.stats import mstats
from statsmodels.stats.meta_analysis import combine_effects

from mgbench.analysis import pooling

# Three processes whose centres scatter beyond their own variances: tau^2 > 0.
DISAGREEING = [
    [0.010, 0.030, 0.022, 0.041, 0.018, 0.027],
    [0.060, 0.052, 0.071, 0.049, 0.066, 0.058],
    [-0.020, 0.004, -0.011, 0.009, -0.003, -0.015],
]
# Processes that agree better than their variances expect: the DL tau^2 truncates to 0.
AGREEING = [
    [0.010, 0.050, -0.020, 0.040, 0.020, 0.000],
    [0.030, -0.010, 0.050, 0.010, 0.020, 0.015],
    [0.020, 0.045, -0.015, 0.005, 0.035, 0.010],
]


def _mean_summaries(groups):
    return pooling.Summaries.stack([pooling.mean_summaries(np.array(g)) for g in groups])


# statsmodels leaves the DL tau^2 negative when processes agree and takes its square root.
NEGATIVE_TAU2 = pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt")


def _oracle(groups):
    summaries = _mean_summaries(groups)
    return summaries, combine_effects(
        summaries.centre, summaries.variance, method_re="dl", use_t=True
    )


def test_dersimonian_laird_matches_statsmodels():
    summaries, oracle = _oracle(DISAGREEING)
    pooled = pooling.dersimonian_laird(summaries)
    assert oracle.tau2 > 0
    assert pooled.tau2 == pytest.approx(oracle.tau2)
    assert pooled.centre == pytest.approx(oracle.mean_effect_re)
    assert pooled.standard_error == pytest.approx(oracle.sd_eff_w_re)


def test_hartung_knapp_is_statsmodels_random_effects_wls_interval():
    # combine_effects' conf_int(use_t=True) returns (fe, re, fe_wls, re_wls); the WLS scale on
    # the random-effects weights with a t on k - 1 df is HKSJ (its docstring says so).
    summaries, oracle = _oracle(DISAGREEING)
    pooled = pooling.hartung_knapp(summaries)
    low, high = oracle.conf_int(alpha=0.05, use_t=True)[3]
    half = pooled.half_width(0.05)
    assert pooled.df == 2
    assert (pooled.centre - half, pooled.centre + half) == pytest.approx((low, high))


@NEGATIVE_TAU2
def test_hartung_knapp_with_tau2_truncated_is_the_fixed_effects_wls_interval():
    # statsmodels leaves the DL tau^2 negative; truncated at 0 the weights are fixed effects'.
    summaries, oracle = _oracle(AGREEING)
    assert oracle.tau2 < 0
    pooled = pooling.hartung_knapp(summaries)
    assert pooled.tau2 == 0
    half = pooled.half_width(0.05)
    low, high = oracle.conf_int(alpha=0.05, use_t=True)[2]
    assert (pooled.centre - half, pooled.centre + half) == pytest.approx((low, high))


@NEGATIVE_TAU2
def test_the_modified_hartung_knapp_is_never_narrower_than_dersimonian_laird_scale():
    summaries, oracle = _oracle(AGREEING)
    pooled = pooling.hartung_knapp_at_least_one(summaries)
    plain = pooling.hartung_knapp(summaries)
    assert plain.standard_error < oracle.sd_eff_w_fe  # the WLS scale was below 1 here
    assert pooled.standard_error == pytest.approx(oracle.sd_eff_w_fe)


def test_t_over_processes_is_scipys_one_sample_t_interval_over_the_centres():
    summaries = _mean_summaries(DISAGREEING)
    pooled = pooling.t_over_processes(summaries)
    low, high = sps.ttest_1samp(summaries.centre, 0).confidence_interval(0.95)
    half = pooled.half_width(0.05)
    assert (pooled.centre - half, pooled.centre + half) == pytest.approx((low, high))


def test_one_process_is_scipys_t_interval_over_its_rounds():
    rounds = np.array(DISAGREEING[0])
    pooled = pooling.one_process(_mean_summaries([rounds]))
    low, high = sps.ttest_1samp(rounds, 0).confidence_interval(0.95)
    half = pooled.half_width(0.05)
    assert (pooled.centre - half, pooled.centre + half) == pytest.approx((low, high))


@pytest.mark.parametrize("n", [8, 10, 20])
def test_trimmed_summaries_match_scipy(n):
    rng = np.random.default_rng(n)
    x, y = rng.standard_t(3, n), rng.standard_t(3, n) + 0.5
    sx, sy = pooling.trimmed_summaries(x), pooling.trimmed_summaries(y)
    assert sx.centre == pytest.approx(sps.trim_mean(x, 0.2))
    g = int(0.2 * n)
    winsorized = mstats.winsorize(x, limits=(g / n, g / n)).var(ddof=1)
    kept = n - 2 * g
    assert sx.variance == pytest.approx((n - 1) * winsorized / (kept * (kept - 1)))
    assert sx.df == kept - 1
    # Yuen's trimmed two-sample t is built from exactly these variances and dfs.
    yuen = sps.ttest_ind(x, y, trim=0.2, equal_var=False)
    statistic = (sx.centre - sy.centre) / np.sqrt(sx.variance + sy.variance)
    df = (sx.variance + sy.variance) ** 2 / (sx.variance**2 / sx.df + sy.variance**2 / sy.df)
    assert statistic == pytest.approx(yuen.statistic)
    assert df == pytest.approx(yuen.df)


def test_mean_summaries_are_the_mean_and_its_squared_standard_error():
    rounds = np.array(DISAGREEING[1])
    found = pooling.mean_summaries(rounds)
    assert found.centre == pytest.approx(rounds.mean())
    assert found.variance == pytest.approx(sps.sem(rounds) ** 2)
    assert found.df == rounds.size - 1


@pytest.mark.parametrize("interval", list(pooling.INTERVALS))
@pytest.mark.parametrize("aggregate", list(pooling.AGGREGATES))
def test_many_data_sets_at_once_equal_one_at_a_time(aggregate, interval):
    rng = np.random.default_rng(5)
    data = rng.normal(0, 0.03, (7, 3, 10)) + rng.normal(0, 0.02, (7, 3, 1))
    summarise, pool = pooling.AGGREGATES[aggregate], pooling.INTERVALS[interval]
    together = pool(summarise(data))
    for i in range(data.shape[0]):
        alone = pool(summarise(data[i]))
        assert together.centre[i] == pytest.approx(float(alone.centre))
        assert together.half_width(0.05)[i] == pytest.approx(float(alone.half_width(0.05)))
        assert together.tau2[i] == pytest.approx(float(alone.tau2), abs=1e-15)


def test_a_process_without_spread_gets_a_finite_weight():
    groups = [DISAGREEING[0], [0.04] * 6, DISAGREEING[2]]
    summaries = _mean_summaries(groups)
    assert summaries.variance[1] == 0
    for pool in pooling.INTERVALS.values():
        pooled = pool(summaries)
        assert np.isfinite(pooled.centre) and pooled.standard_error > 0


def test_pooling_needs_two_processes_and_one_process_exactly_one():
    one, two = _mean_summaries(DISAGREEING[:1]), _mean_summaries(DISAGREEING[:2])
    for pool in pooling.INTERVALS.values():
        with pytest.raises(ValueError, match=">= 2"):
            pool(one)
    with pytest.raises(ValueError, match="exactly one"):
        pooling.one_process(two)


def test_the_chosen_method_is_a_candidate():
    assert pooling.CHOSEN_AGGREGATE in pooling.AGGREGATES
    assert pooling.CHOSEN_INTERVAL in pooling.INTERVALS
