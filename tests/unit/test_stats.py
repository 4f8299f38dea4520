"""Statistics on synthetic samples with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mgbench.analysis import stats
from mgbench.analysis.claim import Outcome


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


def test_identical_samples_are_no_difference():
    sample = processes(200, noise=0.05)
    result = stats.compare(sample, sample)
    assert result.change_pct == 0
    assert result.ci_pct[0] <= 0 <= result.ci_pct[1]
    assert result.p_value == 1.0
    assert stats.change_verdict(result).outcome is Outcome.NO_DIFFERENCE
    verdict = stats.range_verdict(result, (5, 12))
    assert verdict.text == "contradicts: smaller than claimed (no detectable difference)"


def test_an_8_percent_speedup_with_low_noise_supports_the_claim():
    result = stats.compare(processes(216, noise=0.01, seed=1), processes(200, noise=0.01, seed=2))
    assert result.change_pct == pytest.approx(8.0, abs=0.3)
    assert 7.0 < result.ci_pct[0] < result.ci_pct[1] < 9.0
    assert result.p_value == pytest.approx(2 / 252)  # 5 vs 5 processes: the smallest possible
    assert stats.range_verdict(result, (5, 12)).text == "supports the claim (CI inside 5-12%)"
    assert stats.change_verdict(result).outcome is Outcome.FASTER


def test_a_20_percent_speedup_is_larger_than_claimed():
    result = stats.compare(processes(240, noise=0.02, seed=1), processes(200, noise=0.02, seed=2))
    assert result.change_pct == pytest.approx(20.0, abs=0.5)
    assert stats.range_verdict(result, (5, 12)).outcome is Outcome.LARGER


def test_a_3_percent_speedup_is_smaller_than_claimed():
    result = stats.compare(processes(206, noise=0.01, seed=1), processes(200, noise=0.01, seed=2))
    verdict = stats.range_verdict(result, (5, 12))
    assert verdict.text == "contradicts: smaller than claimed (faster, by less than claimed)"


def test_a_5_percent_slowdown_is_slower():
    result = stats.compare(processes(190, noise=0.02, seed=1), processes(200, noise=0.02, seed=2))
    assert result.change_pct == pytest.approx(-5.0, abs=0.5)
    assert result.ci_pct[1] < 0
    assert stats.range_verdict(result, (5, 12)).text == "contradicts: smaller than claimed (slower)"
    assert stats.change_verdict(result).outcome is Outcome.SLOWER


def test_a_significant_change_inside_the_minimum_effect_is_no_difference():
    result = stats.compare(
        processes(201, noise=0.005, seed=1), processes(200, noise=0.005, seed=2), min_effect_pct=2
    )
    assert result.significant and not result.detected
    assert result.ci_pct[0] > -2 and result.ci_pct[1] < 2
    verdict = stats.change_verdict(result)
    assert verdict.outcome is Outcome.NO_DIFFERENCE and "CI inside ±2%" in verdict.detail


def test_a_wide_ci_over_the_minimum_effect_is_inconclusive_with_enough_processes():
    result = stats.compare(
        processes(204, noise=0.15, n_processes=6, seed=1),
        processes(200, noise=0.15, n_processes=6, seed=2),
        min_effect_pct=2,
    )
    assert result.can_decide and not result.detected
    verdict = stats.change_verdict(result)
    assert verdict.outcome is Outcome.INCONCLUSIVE and "too wide" in verdict.detail
    assert verdict.processes_needed is not None and verdict.processes_needed > 6


def test_noise_hides_a_real_shift():
    result = stats.compare(
        processes(216, noise=0.6, n_processes=2, steps=5, seed=1),
        processes(200, noise=0.6, n_processes=2, steps=5, seed=2),
    )
    assert result.ci_pct[0] < 0 < result.ci_pct[1]
    assert stats.range_verdict(result, (5, 12)).outcome is Outcome.INCONCLUSIVE


def test_the_process_is_the_unit_of_significance():
    """Two processes a side can never be significant, however many steps they hold: a clear
    +20% is inconclusive, and says how many processes a side would decide."""
    result = stats.compare(
        processes(240, noise=0.01, n_processes=2, steps=500, seed=1),
        processes(200, noise=0.01, n_processes=2, steps=500, seed=2),
    )
    assert result.change_pct == pytest.approx(20, abs=0.5)
    assert result.p_value == pytest.approx(1 / 3)
    verdict = stats.change_verdict(result)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    # Below 5 a side the CI measures the steps' noise only: no count of processes is estimated.
    assert verdict.processes_needed is None
    assert "cannot go below p = 0.33" in verdict.text
    assert "run at least 5 processes a side" in verdict.text and "about" not in verdict.text
    assert stats.range_verdict(result, (5, 12)).outcome is Outcome.INCONCLUSIVE


@pytest.mark.parametrize(
    ("n1", "n2", "smallest"), [(2, 2, 1 / 3), (3, 3, 0.1), (4, 4, 2 / 70), (5, 5, 2 / 252)]
)
def test_the_smallest_u_p_value_known_answers(n1, n2, smallest):
    assert stats.smallest_u_p_value(n1, n2) == pytest.approx(smallest)


@pytest.mark.parametrize(("alpha", "needed"), [(0.05, 4), (0.01, 5), (0.001, 7)])
def test_processes_a_side_to_reach_alpha(alpha, needed):
    assert stats.processes_to_reach(alpha) == needed


def test_four_processes_a_side_reach_alpha_005_but_not_a_bootstrap():
    result = stats.compare(
        processes(240, noise=0.01, n_processes=4, seed=1),
        processes(200, noise=0.01, n_processes=4, seed=2),
    )
    assert result.p_value < 0.05 and not result.can_decide
    assert "fewer than 5 a side" in stats.change_verdict(result).detail


def test_the_ci_level_follows_alpha():
    a, b = processes(210, noise=0.05, seed=1), processes(200, noise=0.05, seed=2)
    wide, narrow = stats.compare(a, b, alpha=0.01), stats.compare(a, b, alpha=0.2)
    assert wide.ci_pct[0] < narrow.ci_pct[0] < narrow.ci_pct[1] < wide.ci_pct[1]
    assert wide.confidence_label == "99%" and narrow.confidence_label == "80%"


@pytest.mark.parametrize(("alpha", "effect"), [(0, 2), (1, 2), (0.05, -1)])
def test_bad_significance_settings_are_refused(alpha, effect):
    sample = processes(200, noise=0.05)
    with pytest.raises(ValueError, match=r"alpha|minimum effect"):
        stats.compare(sample, sample, alpha=alpha, min_effect_pct=effect)


def test_an_absurd_number_of_processes_is_not_printed_as_a_plan():
    assert stats.processes_needed_text(8) == "about 8 processes a side would decide"
    assert stats.processes_needed_text(44354).startswith("more than 1,000 processes a side")


@pytest.mark.parametrize(
    ("alpha", "resamples"), [(0.05, 2000), (0.1, 2000), (0.01, 10000), (0.001, 100000)]
)
def test_bootstrap_resamples_keep_50_beyond_each_end_of_the_interval(alpha, resamples):
    assert stats.resamples_for(alpha) == resamples
    assert resamples * alpha / 2 >= stats.MIN_TAIL_RESAMPLES


def test_a_99_percent_comparison_draws_10000_resamples():
    sample = processes(200, noise=0.05)
    default = stats.compare(sample, sample[::-1], alpha=0.01)
    assert default == stats.compare(sample, sample[::-1], alpha=0.01, resamples=10000)
    assert default != stats.compare(sample, sample[::-1], alpha=0.01, resamples=2000)


def _bootstrap_by_loop(samples, rng, resamples):
    """The bootstrap as first written, one resample at a time: the vectorised one must draw
    exactly what it drew, or every published interval would move."""
    chosen = rng.integers(0, len(samples), size=(resamples, len(samples)))
    rates = np.empty(resamples)
    for b in range(resamples):
        values = []
        for index in chosen[b]:
            steps = np.asarray(samples[index].step_s)
            picked = steps[rng.integers(0, steps.size, size=steps.size)]
            values.append(samples[index].images_per_step * steps.size / picked.sum())
        rates[b] = np.mean(values)
    return rates


@pytest.mark.parametrize(("n_processes", "steps"), [(5, 30), (1, 7), (3, 50)])
def test_the_vectorised_bootstrap_draws_what_the_loop_drew(n_processes, steps):
    sample = processes(200, noise=0.1, n_processes=n_processes, steps=steps, seed=4)
    fast = stats.bootstrap_throughputs(sample, np.random.default_rng(9), 2500)
    slow = _bootstrap_by_loop(sample, np.random.default_rng(9), 2500)
    np.testing.assert_array_equal(fast, slow)


def test_holm_known_answers():
    # Sorted 0.01, 0.02, 0.03, 0.5 times 4, 3, 2, 1, made monotone: 0.04, 0.06, 0.06, 0.5.
    adjusted = stats.holm_adjusted([0.03, 0.01, 0.5, 0.02])
    assert adjusted == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert stats.holm_adjusted([]) == []
    assert stats.holm_adjusted([0.4, 0.9]) == pytest.approx([0.8, 0.9])


def test_one_process_a_side_prints_no_count_of_processes_that_would_decide():
    """A 1-against-1 bootstrap resamples steps only; the published report once read "about 441
    processes a side would decide" from one. Below 5 a side no count is printed at all."""
    for n in (1, 2, 4):
        result = stats.compare(
            processes(190, noise=0.2, n_processes=n, seed=1),
            processes(200, noise=0.2, n_processes=n, seed=2),
        )
        for verdict in (stats.change_verdict(result), stats.range_verdict(result, (5, 12))):
            assert verdict.outcome is Outcome.INCONCLUSIVE
            assert verdict.processes_needed is None
            assert "about" not in verdict.text and "more than" not in verdict.text
            assert "run at least 5 processes a side" in verdict.text
