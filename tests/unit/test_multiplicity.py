"""Holm across the rows of one claim's table: known answers against statsmodels and scipy."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from mgbench.analysis import multiplicity, paired
from mgbench.analysis.claim import Outcome
from mgbench.present import prose

CLAIM = (5.0, 12.0)


@pytest.mark.parametrize("seed", range(20))
def test_holm_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.2, rng.integers(1, 12))
    p[: len(p) // 3] = p[0]  # ties
    if seed % 4 == 0:
        p[-1] = 1.0
    expected = multipletests(p, alpha=0.05, method="holm")
    assert multiplicity.holm(p) == pytest.approx(list(expected[1]))
    assert multiplicity.family_holds(p, 0.05) == list(expected[0])


def test_holm_refuses_what_is_not_a_p_value():
    for bad in ([0.1, 1.5], [float("nan")], [-0.1]):
        with pytest.raises(ValueError, match="p-values"):
            multiplicity.holm(bad)


def _simulated(seed, effect_pct, processes=4, rounds=10, tau=0.01, sd=0.03):
    rng = np.random.default_rng(seed)
    data = (
        math.log1p(effect_pct / 100)
        + rng.normal(0, tau, (processes, 1))
        + rng.normal(0, sd, (processes, rounds))
    )
    return paired.estimate(data, alpha=0.05)


def test_the_p_value_decides_exactly_when_the_interval_does():
    # Over estimates that support, contradict either way, or straddle: p < alpha iff decided.
    seen = set()
    for seed in range(300):
        est = _simulated(seed, [0.0, 3.0, 6.0, 8.5, 11.0, 14.0][seed % 6])
        for verdict, range_pct in (
            (paired.range_verdict(est, CLAIM), CLAIM),
            (paired.change_verdict(est, 2.0), None),
        ):
            p = multiplicity.verdict_p_value(est, verdict, range_pct, 2.0)
            decided = verdict.outcome is not Outcome.INCONCLUSIVE
            assert (p < 0.05) == decided, (seed, verdict.text, p)
            seen.add(verdict.outcome)
    assert {Outcome.SUPPORTS, Outcome.SMALLER, Outcome.LARGER, Outcome.INCONCLUSIVE} <= seen
    assert {Outcome.FASTER, Outcome.NO_DIFFERENCE} <= seen


def test_the_p_values_are_scipys_one_sample_t_tests_over_the_process_means():
    est = _simulated(3, 8.5, processes=5, tau=0.005, sd=0.02)
    verdict = paired.range_verdict(est, CLAIM)
    assert verdict.outcome is Outcome.SUPPORTS
    means = [paired.log_from_pct(x) for x in est.per_process_pct]
    low, high = (paired.log_from_pct(x) for x in CLAIM)
    above_low = sps.ttest_1samp(means, low, alternative="greater").pvalue
    below_high = sps.ttest_1samp(means, high, alternative="less").pvalue
    assert multiplicity.verdict_p_value(est, verdict, CLAIM, 2.0) == pytest.approx(
        2 * max(above_low, below_high)
    )
    faster = _simulated(4, 8.5, processes=5, tau=0.005, sd=0.02)
    verdict = paired.change_verdict(faster, 2.0)
    assert verdict.outcome is Outcome.FASTER
    means = [paired.log_from_pct(x) for x in faster.per_process_pct]
    assert multiplicity.verdict_p_value(faster, verdict, None, 2.0) == pytest.approx(
        sps.ttest_1samp(means, 0.0).pvalue
    )


def test_one_process_has_no_test():
    one = paired.estimate([[0.08, 0.081, 0.079, 0.082, 0.08, 0.083]], alpha=0.05)
    verdict = paired.range_verdict(one, CLAIM)
    assert multiplicity.verdict_p_value(one, verdict, CLAIM, 2.0) == 1.0


def _row(label, est, verdict):
    return SimpleNamespace(
        key=SimpleNamespace(label=label), estimate=est, verdict=verdict, sequential=None
    )


def test_the_note_under_the_table_gives_the_family_wise_reading():
    claim = SimpleNamespace(range_pct=CLAIM)
    rows, p_values = [], []
    for seed in range(400):
        est = _simulated(seed, 8.5, processes=3, tau=0.005, sd=0.03)
        verdict = paired.range_verdict(est, CLAIM)
        p = multiplicity.verdict_p_value(est, verdict, CLAIM, 2.0)
        # Rows that support marginally: one clearly (p < 0.01), the others narrowly.
        if verdict.outcome is Outcome.SUPPORTS and (p < 0.01 if not rows else p > 0.02):
            rows.append(_row(f"M{len(rows)}", est, verdict))
            p_values.append(p)
        if len(rows) == 4:
            break
    assert len(rows) == 4
    holds = multiplicity.family_holds(p_values, 0.05)
    note = prose.family_note(rows, claim, 0.05, 2.0)
    assert note.startswith("Across the 4 rows, one question (Holm-adjusted at alpha 0.05): ")
    assert holds[0] and not all(holds)
    assert f"{sum(holds)} of the 4 decided verdicts hold (M0 supports the claim" in note
    lost = [r.key.label for r, held in zip(rows, holds, strict=True) if not held]
    assert f"; inconclusive read together: {', '.join(lost)}." in note
    assert note.endswith(
        "Each row's CI and verdict are marginal (95% for that row alone; unadjusted, up to 19% "
        "that some row's interval misses)."
    )
    assert prose.family_note(rows[:1], claim, 0.05, 2.0) is None
    undecided = paired.estimate([[0.0, 0.08, 0.02, 0.1], [0.12, 0.03, 0.09, 0.0]], alpha=0.05)
    verdict = paired.range_verdict(undecided, CLAIM)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    both = [_row("A", undecided, verdict), _row("B", undecided, verdict)]
    assert "(Holm-adjusted at alpha 0.05): no row decides on its own, so none can read " in (
        prose.family_note(both, claim, 0.05, 2.0)
    )
