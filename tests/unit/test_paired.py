"""The paired estimator and the verdict against a claimed range: known answers and simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.stats import mstats

from mgbench.analysis import paired
from mgbench.analysis.claim import Outcome
from mgbench.analysis.paired import PairedEstimate

CLAIM = (5.0, 12.0)


def test_a_round_is_the_log_ratio_of_block_medians():
    # A's median step 0.10 s, B's 0.12 s: A is faster, log(0.12 / 0.10).
    value = paired.round_log_ratio([0.10, 0.09, 0.30], [0.12, 0.11, 0.13])
    assert value == pytest.approx(math.log(1.2))
    assert paired.pct_from_log(value) == pytest.approx(20.0)


def test_one_process_gives_the_t_interval_over_its_rounds():
    rounds = [0.01, 0.03, 0.02, 0.05, 0.04, 0.02, 0.06, 0.03]
    result = paired.estimate([rounds], alpha=0.05)
    # The chosen aggregate, a 20% trimmed mean: 1 round cut from each end of 8, Yuen's variance.
    centre = sps.trim_mean(rounds, 0.2)
    winsorized = mstats.winsorize(np.array(rounds), limits=(1 / 8, 1 / 8)).var(ddof=1)
    low, high = sps.t.interval(0.95, 5, loc=centre, scale=math.sqrt(7 * winsorized / (6 * 5)))
    assert result.speedup_pct == pytest.approx(math.expm1(centre) * 100)
    assert result.ci_pct == pytest.approx((math.expm1(low) * 100, math.expm1(high) * 100))
    assert result.tau2 is None and result.processes == 1 and result.rounds == 8
    assert result.df == 5


def test_processes_give_the_t_interval_over_their_trimmed_means():
    rng = np.random.default_rng(2)
    groups = [rng.normal(shift, 0.02, 10) for shift in (0.01, 0.03, 0.02, 0.04)]
    result = paired.estimate(groups, alpha=0.05)
    centres = [sps.trim_mean(g, 0.2) for g in groups]
    low, high = sps.ttest_1samp(centres, 0).confidence_interval(0.95)
    assert result.speedup_pct == pytest.approx(math.expm1(np.mean(centres)) * 100)
    assert result.ci_pct == pytest.approx((math.expm1(low) * 100, math.expm1(high) * 100))
    assert result.df == 3 and result.processes == 4 and result.rounds == 40
    assert result.per_process_pct == pytest.approx([math.expm1(c) * 100 for c in centres])
    assert "trimmed mean" in result.method and "t over processes" in result.method


def test_disagreeing_processes_widen_the_interval_and_report_their_variance():
    rng = np.random.default_rng(3)
    noise = [rng.normal(0, 0.01, 20) for _ in range(3)]
    agree = paired.estimate([n + 0.02 for n in noise], alpha=0.05)
    disagree = paired.estimate(
        [n + shift for n, shift in zip(noise, (-0.03, 0.02, 0.07), strict=True)], alpha=0.05
    )
    assert disagree.tau2 > 0 and disagree.between_process_share > 0.5
    assert disagree.df < 5  # falls toward processes - 1
    assert disagree.half_width_pct > 4 * agree.half_width_pct


def _coverage(true_pct: float, processes: int, tau: float, reps: int = 400) -> float:
    rng = np.random.default_rng(11)
    mu = paired.log_from_pct(true_pct)
    hits = 0
    for _ in range(reps):
        groups = [mu + rng.normal(0, tau) + rng.normal(0, 0.05, 20) for _ in range(processes)]
        low, high = paired.estimate(groups, alpha=0.05).ci_pct
        hits += low <= true_pct <= high
    return hits / reps


def test_simulated_coverage_without_a_process_effect_is_nominal():
    assert 0.92 <= _coverage(0.0, processes=3, tau=0.0) <= 0.98
    assert 0.92 <= _coverage(8.0, processes=5, tau=0.0) <= 0.98


def test_simulated_coverage_with_a_process_effect_is_nominal_too():
    # The interval reads the process means' own scatter on k - 1 df (the study in
    # benchmarks/coverage.py): no undercoverage when processes disagree.
    assert _coverage(0.0, processes=3, tau=0.01) >= 0.92
    assert _coverage(0.0, processes=10, tau=0.02) >= 0.92


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="no paired rounds"):
        paired.estimate([], alpha=0.05)
    with pytest.raises(ValueError, match="at least 2 rounds"):
        paired.estimate([[0.1]], alpha=0.05)
    with pytest.raises(ValueError, match="alpha"):
        paired.estimate([[0.1, 0.2]], alpha=1.5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_log_ratio_that_is_not_a_finite_number_is_refused(bad):
    with pytest.raises(ValueError, match=rf"paired process 2's round log ratios include {bad}"):
        paired.estimate([[0.01, 0.02, 0.03], [0.01, bad, 0.03]], alpha=0.05)


def test_a_process_without_spread_does_not_narrow_the_interval():
    # The case: a process whose rounds were all equal among noisy ones gave a CI
    # [8.327, 8.330]% that supported the claim. The interval reads only the processes' centres,
    # so the quiet process counts like a noisy one with the same centre.
    rng = np.random.default_rng(7)
    noisy = [0.08 + rng.normal(0, 0.03, 20) for _ in range(3)]
    spread = rng.normal(0, 0.03, 10)
    quiet = np.full(20, 0.08)
    with_quiet = paired.estimate([*noisy, quiet], alpha=0.05)
    with_noise = paired.estimate([*noisy, 0.08 + np.concatenate([spread, -spread])], 0.05)
    assert with_quiet.ci_pct == pytest.approx(with_noise.ci_pct)
    assert with_quiet.half_width_pct > 1.0


def test_rounds_without_any_spread_decide_nothing():
    flat = paired.estimate([[0.08] * 6] * 3, alpha=0.05)
    assert flat.half_width_pct == 0
    for verdict in (paired.range_verdict(flat, CLAIM), paired.change_verdict(flat, 2.0)):
        assert verdict.outcome is Outcome.INCONCLUSIVE
        assert verdict.detail == paired.NO_SPREAD_REASON


def test_one_process_is_inconclusive_however_narrow_its_interval():
    rounds = [0.080, 0.082, 0.079, 0.081, 0.080, 0.083, 0.078, 0.081]  # ~8.3%, tight
    one = paired.estimate([rounds], alpha=0.05)
    assert one.ci_pct[0] > 5 and one.ci_pct[1] < 12  # would support the claim, were tau seen
    for verdict in (paired.range_verdict(one, CLAIM), paired.change_verdict(one, 2.0)):
        assert verdict.outcome is Outcome.INCONCLUSIVE
        assert verdict.text == (
            "inconclusive (one process: the between-process spread cannot be seen; "
            "run ≥ 2 paired processes)"
        )
        assert verdict.more_rounds is None and verdict.more_pairs is None


def estimate_with(ci_pct, speedup_pct=None, *, tau2=0.0, processes=3, rounds=60) -> PairedEstimate:
    centre = speedup_pct if speedup_pct is not None else sum(ci_pct) / 2
    return PairedEstimate(
        speedup_pct=centre,
        ci_pct=ci_pct,
        alpha=0.05,
        processes=processes,
        rounds=rounds,
        per_process_pct=(centre,) * processes,
        tau2=tau2,
        within_var=1e-4,
        df=rounds - processes,
        method="test",
    )


@pytest.mark.parametrize(
    ("ci", "outcome", "detail"),
    [
        ((6.0, 10.0), Outcome.SUPPORTS, "CI inside 5-12%"),
        ((-2.0, 2.5), Outcome.SMALLER, "no detectable difference"),
        ((-6.0, -1.0), Outcome.SMALLER, "slower"),
        ((1.0, 4.0), Outcome.SMALLER, "faster, by less than claimed"),
        ((13.0, 20.0), Outcome.LARGER, ""),
    ],
)
def test_decisive_verdicts(ci, outcome, detail):
    verdict = paired.range_verdict(estimate_with(ci), CLAIM)
    assert verdict.outcome is outcome and verdict.detail == detail
    assert verdict.more_rounds is None and verdict.more_pairs is None


def test_an_interval_straddling_an_edge_says_how_many_more_rounds_decide():
    # Estimate 2%, half-width 4% (in log units ~3.9%); the lower edge is 3% away: the half-width
    # must shrink by ~4/3, so the rounds grow by ~(4/3)^2.
    verdict = paired.range_verdict(estimate_with((-2.0, 6.0), 2.0), CLAIM)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    centre, edge = paired.log_from_pct(2.0), paired.log_from_pct(5.0)
    half = (paired.log_from_pct(6.0) - paired.log_from_pct(-2.0)) / 2
    assert verdict.more_rounds == math.ceil(60 * (half / (edge - centre)) ** 2) - 60
    assert verdict.more_pairs is None
    assert f"about {verdict.more_rounds} more rounds would decide" in verdict.text


def test_when_processes_disagree_more_pairs_not_rounds_are_asked_for():
    verdict = paired.range_verdict(estimate_with((-2.0, 6.0), 2.0, tau2=1.0), CLAIM)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.more_rounds is None and verdict.more_pairs >= 1
    assert "more paired process(es)" in verdict.text


def test_an_estimate_on_the_edge_cannot_be_decided():
    verdict = paired.range_verdict(estimate_with((1.0, 9.0), 5.0), CLAIM)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.more_rounds is None and verdict.more_pairs is None
    assert "no sample size decides it" in verdict.text
