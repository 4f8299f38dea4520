"""Statistics on synthetic samples with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mgbench.analysis import stats


def processes(rate: float, *, noise: float, n_processes: int = 5, steps: int = 30, seed: int = 0):
    """Processes whose steps train 100 images at ``rate`` images/s, with relative noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_processes):
        step = 100 / rate * (1 + noise * rng.standard_normal(steps))
        out.append(stats.ProcessSample(tuple(float(s) for s in step), 100))
    return out


def test_describe_known_answer():
    summary = stats.describe([1.0, 2.0, 3.0, 4.0])
    assert summary.n == 4
    assert summary.median == 2.5
    assert summary.mean == 2.5
    assert summary.stdev == pytest.approx(1.2909944487, rel=1e-9)  # ddof=1, not 1.118
    assert summary.cv == pytest.approx(0.5163977795, rel=1e-9)
    assert summary.p90 == pytest.approx(3.7)
    assert stats.describe([7.0]).stdev == 0.0


def test_process_throughput_counts_gaps_between_steps():
    sample = stats.ProcessSample((0.5, 0.5, 1.0), images_per_step=10, gap_factor=1.25)
    assert sample.images_per_s == pytest.approx(30 / 2.5)
    np.testing.assert_allclose(sample.step_rates(), [16.0, 16.0, 8.0])
    assert stats.throughput([sample, stats.ProcessSample((1.0,), 10)]) == pytest.approx(11.0)


def test_bootstrap_ci_brackets_the_estimate_and_is_reproducible():
    sample = processes(200, noise=0.05)
    low, high = stats.throughput_ci(sample, seed=3)
    assert low < stats.throughput(sample) < high
    assert (low, high) == stats.throughput_ci(sample, seed=3)
    assert high - low < 0.05 * 200


def test_identical_samples_are_no_detectable_difference():
    sample = processes(200, noise=0.05)
    result = stats.compare(sample, sample)
    assert result.change_pct == 0
    assert result.ci_pct[0] <= 0 <= result.ci_pct[1]
    assert result.p_value == 1.0
    assert stats.claim_verdict(result, (5, 12)) == stats.NO_DIFFERENCE
    assert stats.change_verdict(result) == stats.NO_DIFFERENCE


def test_an_8_percent_speedup_with_low_noise_is_within_the_claim():
    result = stats.compare(processes(216, noise=0.01, seed=1), processes(200, noise=0.01, seed=2))
    assert result.change_pct == pytest.approx(8.0, abs=0.3)
    assert 7.0 < result.ci_pct[0] < result.ci_pct[1] < 9.0
    assert result.p_value == pytest.approx(2 / 252)  # 5 vs 5 processes: the smallest possible
    assert stats.claim_verdict(result, (5, 12)) == "faster, within the claimed 5-12%"


def test_a_20_percent_speedup_is_above_the_claim():
    result = stats.compare(processes(240, noise=0.02, seed=1), processes(200, noise=0.02, seed=2))
    assert result.change_pct == pytest.approx(20.0, abs=0.5)
    assert stats.claim_verdict(result, (5, 12)) == stats.ABOVE


def test_a_3_percent_speedup_is_below_the_claim():
    result = stats.compare(processes(206, noise=0.01, seed=1), processes(200, noise=0.01, seed=2))
    assert stats.claim_verdict(result, (5, 12)) == stats.BELOW


def test_a_5_percent_slowdown_is_slower():
    result = stats.compare(processes(190, noise=0.02, seed=1), processes(200, noise=0.02, seed=2))
    assert result.change_pct == pytest.approx(-5.0, abs=0.5)
    assert result.ci_pct[1] < 0
    assert stats.claim_verdict(result, (5, 12)) == stats.SLOWER
    assert stats.change_verdict(result) == stats.SLOWER


def test_a_significant_change_smaller_than_the_minimum_effect_is_not_detected():
    result = stats.compare(
        processes(202, noise=0.005, seed=1), processes(200, noise=0.005, seed=2), min_effect_pct=2
    )
    assert result.significant
    assert not result.detected
    assert stats.claim_verdict(result, (5, 12)) == stats.NO_DIFFERENCE


def test_noise_hides_a_real_shift():
    result = stats.compare(
        processes(216, noise=0.6, n_processes=2, steps=5, seed=1),
        processes(200, noise=0.6, n_processes=2, steps=5, seed=2),
    )
    assert result.ci_pct[0] < 0 < result.ci_pct[1]
    assert stats.claim_verdict(result, (5, 12)) == stats.NO_DIFFERENCE


def test_the_process_is_the_unit_of_significance():
    """Two processes a side can never be significant, however many steps they hold."""
    result = stats.compare(
        processes(240, noise=0.01, n_processes=2, steps=500, seed=1),
        processes(200, noise=0.01, n_processes=2, steps=500, seed=2),
    )
    assert result.change_pct == pytest.approx(20, abs=0.5)
    assert result.p_value == pytest.approx(1 / 3)
    assert stats.claim_verdict(result, (5, 12)) == stats.NO_DIFFERENCE


@pytest.mark.parametrize(("alpha", "effect"), [(0, 2), (1, 2), (0.05, -1)])
def test_bad_significance_settings_are_refused(alpha, effect):
    sample = processes(200, noise=0.05)
    with pytest.raises(ValueError, match=r"alpha|minimum effect"):
        stats.compare(sample, sample, alpha=alpha, min_effect_pct=effect)
