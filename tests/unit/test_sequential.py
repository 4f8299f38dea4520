"""The group-sequential design over the paired interval: known constants, its error rate, when it
stops, and the p-value Holm reads."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from data.make_paired_results import paired_run
from scipy import stats as sps

from mgbench.analysis import multiplicity, paired, sequential
from mgbench.analysis.cells import CellKey
from mgbench.analysis.claim import SEED_QUESTION, Claim, Outcome, Verdict
from mgbench.analysis.comparisons import PairedComparison, paired_comparisons, paired_verdict
from mgbench.analysis.sequential import SequentialDesign, StopDecision, stop_decision
from mgbench.records.record import Record

CLAIM = Claim("inplace", "wholebatch", (5.0, 12.0))
QUESTION = SEED_QUESTION
MIN_EFFECT = 2.0
SPENDINGS = tuple(sequential.SPENDING_FUNCTIONS)


def _log(pct: float) -> float:
    return paired.log_from_pct(pct)


def _groups(means_pct, rounds=8, sd=0.01, seed=0):
    """Processes whose trimmed means are exactly ``means_pct`` (symmetric rounds about them)."""
    rng = np.random.default_rng(seed)
    half = np.abs(rng.normal(0, sd, rounds // 2))
    offsets = np.concatenate([half, -half])
    return [_log(m) + offsets for m in means_pct]


# -- the design -----------------------------------------------------------------------------------


@pytest.mark.parametrize("spending", SPENDINGS)
def test_two_processes_are_the_fixed_design(spending):
    design = SequentialDesign(2, 0.05, spending)
    assert design.looks == 1
    assert design.look_alpha(2) == 0.05
    assert design.critical_value(2) == pytest.approx(sps.t.isf(0.025, 1), rel=1e-12)
    groups = [np.random.default_rng(s).normal(0.03, 0.02, 8) for s in range(2)]
    assert paired.estimate(groups, design.look_alpha(2)) == paired.estimate(groups, 0.05)


@pytest.mark.parametrize("spending", SPENDINGS)
def test_the_look_level_gives_exactly_the_adjusted_interval(spending):
    design = SequentialDesign(6, 0.05, spending)
    rng = np.random.default_rng(4)
    groups = [rng.normal(0.05, 0.03, 8) + rng.normal(0, 0.01) for _ in range(6)]
    for k in range(2, 7):
        estimate = paired.estimate(groups[:k], design.look_alpha(k))
        means = np.log1p(np.array(estimate.per_process_pct) / 100)
        half = design.critical_value(k) * means.std(ddof=1) / math.sqrt(k)
        # The upper end (the lower one is -100% to the last digit at the first, widest looks).
        centre = _log(estimate.speedup_pct)
        assert _log(estimate.ci_pct[1]) - centre == pytest.approx(half, rel=1e-9)
        assert estimate.alpha == design.look_alpha(k)


def test_critical_values_fall_as_the_spending_says():
    fixed = [sps.t.isf(0.025, k - 1) for k in range(2, 7)]
    obf, pocock = (SequentialDesign(6, 0.05, s) for s in ("obrien-fleming", "pocock"))
    for design in (obf, pocock):
        values = design.critical_values
        assert len(values) == design.looks == 5
        assert all(a > b for a, b in itertools.pairwise(values))
        # No look is narrower than a fixed design of its size: it spends less than alpha.
        assert all(c > f for c, f in zip(values, fixed, strict=True))
    # O'Brien-Fleming spends little early: its nominal level rises look by look and its last
    # look is close to the fixed design's; Pocock spends more early and pays at the end.
    levels = [obf.look_alpha(k) for k in range(2, 7)]
    assert all(a < b for a, b in itertools.pairwise(levels))
    assert all(pocock.spent_alpha(k) > obf.spent_alpha(k) for k in range(2, 6))
    assert fixed[-1] < obf.critical_value(6) < pocock.critical_value(6)
    assert obf.spent_alpha(6) == pocock.spent_alpha(6) == 0.05


# Lan-DeMets spending with 5 equally spaced looks at normal statistics, two-sided alpha 0.05 (each
# side alpha/2): Reboussin, DeMets, Kim & Lan (2000), the ldbounds package; checked when written
# against scipy.stats.multivariate_normal rectangle probabilities (too slow for a unit test).
PUBLISHED_NORMAL_BOUNDS = {
    "obrien-fleming": (4.8769, 3.3570, 2.6803, 2.2898, 2.0310),
    "pocock": (2.4380, 2.4268, 2.4102, 2.3966, 2.3860),
}


@pytest.mark.parametrize("spending", SPENDINGS)
def test_the_normal_limit_reproduces_the_published_lan_demets_bounds(spending):
    # As df -> infinity the running t is the running z: S_k / sqrt(k) of standard normals. The
    # same spending and crossing machinery then gives the published constants to 2 decimals
    # (4 million paths: a look's Monte Carlo error is under 0.004).
    looks, paths = 5, 4_000_000
    rng = np.random.default_rng(7)
    z = np.empty((paths, looks), np.float32)
    for start in range(0, paths, 1_000_000):
        x = rng.standard_normal((1_000_000, looks))
        z[start : start + 1_000_000] = np.abs(np.cumsum(x, axis=1) / np.sqrt(np.arange(1, 6)))
    spend = sequential.SPENDING_FUNCTIONS[spending]
    spent = [spend(k / looks, 0.05) for k in range(1, looks + 1)]
    found = sequential.critical_values_from_sample(z, spent, float(sps.norm.isf(spent[0] / 2)))
    assert found == pytest.approx(PUBLISHED_NORMAL_BOUNDS[spending], abs=0.01)


def test_the_simulated_pivot_has_the_t_distribution_at_each_look():
    pivot = sequential.pivotal_abs_t(6)
    n = pivot.shape[0]
    se = math.sqrt(0.05 * 0.95 / n)
    for column, k in enumerate(range(2, 7)):
        share = np.mean(pivot[:, column] > sps.t.isf(0.025, k - 1))
        assert abs(share - 0.05) < 4 * se


def _family_miss_rate(design: SequentialDesign, sequences: int, seed: int) -> float:
    """Independent of the design's own simulation: process means of any centre and spread; the
    share of sequences in which some look's interval misses the centre."""
    rng = np.random.default_rng([seed, 99])
    mu, sd = 0.08, 0.025
    means = mu + sd * rng.standard_normal((sequences, design.max_processes))
    missed = np.zeros(sequences, bool)
    for k in range(2, design.max_processes + 1):
        first = means[:, :k]
        half = design.critical_value(k) * first.std(axis=1, ddof=1) / math.sqrt(k)
        missed |= np.abs(first.mean(axis=1) - mu) > half
    return float(missed.mean())


@pytest.mark.parametrize("spending", SPENDINGS)
@pytest.mark.parametrize("max_processes", [3, 6])
def test_the_simulated_family_wise_miss_rate_is_alpha(spending, max_processes):
    design = SequentialDesign(max_processes, 0.05, spending)
    sequences = 200_000
    rate = _family_miss_rate(design, sequences, seed=max_processes)
    # The check's own binomial error and the design's (its critical values come from a
    # simulation of sequential.SEQUENCES paths).
    se = math.sqrt(0.05 * 0.95 * (1 / sequences + 1 / sequential.SEQUENCES))
    assert abs(rate - 0.05) < 3 * se
    # Looking after every process at the fixed level would miss far more often.
    assert _naive_rate(max_processes, sequences) > 0.05 + 10 * se


def _naive_rate(max_processes: int, sequences: int) -> float:
    rng = np.random.default_rng(5)
    means = rng.standard_normal((sequences, max_processes))
    missed = np.zeros(sequences, bool)
    for k in range(2, max_processes + 1):
        first = means[:, :k]
        half = sps.t.isf(0.025, k - 1) * first.std(axis=1, ddof=1) / math.sqrt(k)
        missed |= np.abs(first.mean(axis=1)) > half
    return float(missed.mean())


def test_the_critical_values_are_deterministic_and_cached():
    first = SequentialDesign(5).critical_values
    sequential._critical_values.cache_clear()
    sequential.pivotal_abs_t.cache_clear()
    assert SequentialDesign(5).critical_values == first


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_processes": 1}, "max_processes in 2"),
        ({"max_processes": True}, "max_processes in 2"),
        ({"max_processes": 6.0}, "max_processes in 2"),
        ({"max_processes": 6, "alpha": 0.0}, "alpha must be in"),
        ({"max_processes": 6, "spending": "haybittle"}, "unknown spending function 'haybittle'"),
        ({"max_processes": 6, "futility_power": 1.0}, "futility_power"),
    ],
)
def test_a_bad_design_is_refused_saying_what(options, message):
    with pytest.raises(ValueError, match=message):
        SequentialDesign(**options)


def test_a_look_outside_the_design_is_refused():
    design = SequentialDesign(4)
    for bad in (1, 5):
        with pytest.raises(ValueError, match=r"looks after 2\.\.4 paired processes"):
            design.look_alpha(bad)
    assert design.look_number(4) == 3 == design.looks


# -- conditional power ----------------------------------------------------------------------------


def test_conditional_power_with_one_process_to_come_is_a_normal_integral():
    # With one process to come its sum of squares is 0 and its mean z ~ N(0, 1): the final
    # centre is m + s z / K and the final sum of squares SS_k + (k / K) s^2 z^2, so the chance
    # is a one-dimensional integral over z (the quasi-random draws come within 0.001 of it).
    from scipy import integrate

    means = np.array([_log(x) for x in (8.0, 11.0, 5.5, 9.0, 4.8)])
    k, big_k, critical = 5, 6, 2.9
    power = float(sequential.conditional_power(means, big_k, critical, (5.0, 12.0), MIN_EFFECT))
    m, s = means.mean(), means.std(ddof=1)
    seen = (k - 1) * s**2
    low, high = _log(5.0), _log(12.0)

    def decides(z: float) -> float:
        centre = m + s * z / big_k
        half = critical * math.sqrt((seen + k / big_k * s**2 * z**2) / (big_k - 1) / big_k)
        hit = centre + half < low or centre - half > high or low + half < centre < high - half
        return float(hit) * sps.norm.pdf(z)

    expected, _ = integrate.quad(decides, -8, 8, limit=400, points=np.linspace(-4, 4, 41))
    assert power == pytest.approx(expected, abs=0.005)
    assert 0.2 < power < 0.95  # neither sure nor hopeless: the formula is what is tested


@pytest.mark.parametrize("seen_pct", [(6.0, 6.3), (4.0, 9.0), (7.0, 7.4, 6.1)])
def test_conditional_power_with_a_prior_matches_a_simulated_future(seen_pct):
    # Processes to come drawn at the pooled spread about the current mean; the last look's
    # interval from all six means, as the design computes it: the plug-in of its sd must give
    # the simulated chance of a verdict within a few points (two seen processes that agree
    # closely must not read as hopeless because the prior is wide).
    design = SequentialDesign(6)
    means = np.array([_log(x) for x in seen_pct])
    prior = sequential.PriorSpread(0.03**2, 5, "earlier")
    power = float(
        sequential.conditional_power(
            means, 6, design.critical_value(6), (5.0, 12.0), MIN_EFFECT, prior
        )
    )
    k = means.size
    rng = np.random.default_rng(11)
    spread = float(sequential.pooled_spread(means, prior))
    future = means.mean() + spread * rng.standard_normal((200_000, 6 - k))
    every = np.concatenate([np.broadcast_to(means, (future.shape[0], k)), future], axis=1)
    centre = every.mean(axis=1)
    half = design.critical_value(6) * every.std(axis=1, ddof=1) / math.sqrt(6)
    low, high = _log(5.0), _log(12.0)
    decides = (centre + half < low) | (centre - half > high)
    decides |= (centre - half > low) & (centre + half < high)
    assert power == pytest.approx(decides.mean(), abs=0.01)


def test_conditional_power_at_the_last_look_is_whether_it_decided():
    inside = np.array([_log(x) for x in (8.0, 8.5, 7.5)])
    assert sequential.conditional_power(inside, 3, 4.3, (5.0, 12.0), MIN_EFFECT) == 1.0
    wide = np.array([_log(x) for x in (1.0, 8.5, 15.0)])
    assert sequential.conditional_power(wide, 3, 4.3, (5.0, 12.0), MIN_EFFECT) == 0.0


def test_conditional_power_counts_every_verdict_of_a_question():
    # An estimate just over the minimum effect: "faster" is in reach, "no difference" is not;
    # reading only the nearer edge (+-2%) would call it hopeless.
    means = np.array([_log(x) for x in (2.4, 2.9, 2.2, 2.6)])
    power = sequential.conditional_power(means, 6, 2.86, None, MIN_EFFECT)
    assert power > 0.5


# -- when to stop ---------------------------------------------------------------------------------


def _comparison(design, means_pct, claim=CLAIM, model="ResNet50", alpha=None, sd=0.01):
    groups = _groups(means_pct, sd=sd)
    k = len(groups)
    estimate = paired.estimate(groups, alpha if alpha is not None else design.look_alpha(k))
    verdict = paired_verdict(claim, estimate, MIN_EFFECT) if claim is not None else None
    return PairedComparison(
        key=CellKey(model, 224, 32, 2, "keras3"),
        a=claim.a if claim else "inplace",
        b=claim.b if claim else "inplace",
        cell=None,
        runs=k,
        ok=k,
        statuses=(),
        reasons=(),
        estimate=estimate,
        verdict=verdict,
        claim=claim,
    )


def test_it_stops_when_every_question_is_decided():
    design = SequentialDesign(6)
    far_below = _comparison(design, [0.1, 0.2, 0.0], CLAIM)  # 0% against 5-12%: tight
    same = _comparison(design, [0.05, -0.05, 0.0], QUESTION, model="MobileNetV2")
    assert far_below.verdict.outcome is Outcome.SMALLER
    assert same.verdict.outcome is Outcome.NO_DIFFERENCE
    aa = _comparison(design, [5.0, -40.0, 30.0], None, model="aa")  # no claim: not counted
    decision = stop_decision(design, [far_below, same, aa], 3, MIN_EFFECT)
    assert decision == StopDecision(True, "decided after 3 processes (look 2 of 5)", True, False)


def test_it_goes_on_while_a_question_can_still_be_decided():
    design = SequentialDesign(6)
    decided = _comparison(design, [0.1, 0.2, 0.0], CLAIM)
    open_ = _comparison(design, [8.0, 9.5, 7.0], CLAIM, model="MobileNetV2")
    assert open_.verdict.outcome is Outcome.INCONCLUSIVE
    decision = stop_decision(design, [decided, open_], 3, MIN_EFFECT)
    assert not (decision.stop or decision.decided or decision.futile)
    # Going on, it says what futility judged: the open comparison's chance to decide by K.
    power = sequential.conditional_power(
        np.log1p(np.array([8.0, 9.5, 7.0]) / 100), 6, design.critical_value(6), (5.0, 12.0), 2.0
    )
    assert power >= sequential.FUTILITY_POWER
    assert decision.reason == (
        f"conditional power inplace vs wholebatch {power:.0%} (futile when each undecided one "
        "is under 10%)"
    )
    # Before futility is judged there is nothing to say.
    early = stop_decision(design, [_comparison(design, [8.0, 9.5], CLAIM)], 2, MIN_EFFECT)
    assert early == StopDecision(False, "", False, False)


def test_it_stops_for_futility_only_from_three_processes():
    design = SequentialDesign(6)
    # The estimate sits on the claim's lower edge with a wide spread: no look would decide it,
    # already after 2 processes, but a spread on 1 df is not yet judged.
    edge = [1.0, 9.0, 5.0]
    for k in (2, 3):
        comparison = _comparison(design, edge[:k], CLAIM)
        assert comparison.verdict.outcome is Outcome.INCONCLUSIVE
        power = sequential.conditional_power(
            np.log1p(np.array(edge[:k]) / 100), 6, design.critical_value(6), (5.0, 12.0), 2.0
        )
        assert power < 0.01
        decision = stop_decision(design, [comparison], k, MIN_EFFECT)
        if k < sequential.FUTILITY_FROM_PROCESSES:
            assert not decision.stop
        else:
            assert decision.stop and decision.futile and not decision.decided
            assert decision.reason.startswith("futile after 3 processes (look 2 of 5): ")
            assert "0% conditional power (< 10%)" in decision.reason
    quiet = SequentialDesign(6, futility_power=0.0)
    assert not stop_decision(quiet, [_comparison(quiet, edge, CLAIM)], 3, MIN_EFFECT).stop


def test_a_prior_spread_pools_by_degrees_of_freedom():
    means = np.log1p(np.array([[1.0, 3.0, -2.0], [0.0, 0.5, 1.0]]) / 100)
    prior = sequential.PriorSpread(0.02**2, 4, "earlier")
    pooled = sequential.pooled_spread(means, prior)
    own = means.var(axis=-1, ddof=1)
    assert pooled == pytest.approx(np.sqrt((4 * 0.02**2 + 2 * own) / 6), rel=1e-12)
    assert sequential.pooled_spread(means) == pytest.approx(np.sqrt(own), rel=1e-12)
    # Known answer: prior variance 0.0004 on 4 df, own variance 0.0001 on 2 df -> 0.0003.
    two = np.array([0.0, math.sqrt(2) * 0.01])  # sample variance 0.0001
    assert sequential.pooled_spread(two[None, :3], sequential.PriorSpread(4e-4, 1, "x")) == (
        pytest.approx(math.sqrt((4e-4 + 1e-4) / 2))
    )


@pytest.mark.parametrize(
    ("variance", "df"), [(float("nan"), 2), (-1e-4, 2), (float("inf"), 2), (1e-4, 0), (1e-4, True)]
)
def test_a_bad_prior_spread_is_refused(variance, df):
    with pytest.raises(ValueError, match="prior spread"):
        sequential.PriorSpread(variance, df, "earlier")


def test_futility_is_judged_once_the_pooled_spread_has_two_df(monkeypatch):
    # benchmarks/sequential.py chose from 3 processes alone, from 2 with a prior, at 5% then.
    assert sequential.futility_from(None) == 3
    assert sequential.FUTILITY_FROM_PROCESSES_WITH_PRIOR == 2
    assert sequential.futility_from(sequential.PriorSpread(1e-4, 1, "x")) == 2
    assert sequential.futility_from(sequential.PriorSpread(1e-4, 9, "x")) == 2
    # The pooled spread's df decide when the prior's are few.
    monkeypatch.setattr(sequential, "FUTILITY_FROM_PROCESSES", 5)
    assert sequential.futility_from(sequential.PriorSpread(1e-4, 1, "x")) == 4
    assert sequential.futility_from(sequential.PriorSpread(1e-4, 2, "x")) == 3
    assert sequential.futility_from(sequential.PriorSpread(1e-4, 9, "x")) == 2


def test_a_prior_makes_the_futility_threshold_stricter():
    design = SequentialDesign(6)
    prior = sequential.PriorSpread(1e-4, 2, "x")
    assert sequential.futility_threshold(design, None) == sequential.FUTILITY_POWER == 0.10
    assert sequential.futility_threshold(design, prior) == sequential.FUTILITY_POWER_WITH_PRIOR
    assert sequential.FUTILITY_POWER_WITH_PRIOR == 0.05
    assert sequential.futility_threshold(SequentialDesign(6, futility_power=0.03), prior) == 0.03
    assert sequential.futility_threshold(SequentialDesign(6, futility_power=0.0), prior) == 0.0


def test_a_prior_spread_lets_futility_stop_at_the_first_look_it_allows():
    design = SequentialDesign(6)
    # Two processes that happen to agree, on the claim's lower edge: alone they look tight, and
    # futility waits for 3 processes; an earlier run saw process means spread by 5%.
    comparison = _comparison(design, [5.0, 5.4], CLAIM)
    assert comparison.verdict.outcome is Outcome.INCONCLUSIVE
    assert not stop_decision(design, [comparison], 2, MIN_EFFECT).stop
    prior = sequential.PriorSpread(0.05**2, 5, "results/imagenet/earlier")
    means = np.log1p(np.array([5.0, 5.4]) / 100)
    power = sequential.conditional_power(
        means, 6, design.critical_value(6), (5.0, 12.0), 2.0, prior
    )
    assert power < sequential.FUTILITY_POWER_WITH_PRIOR
    decision = stop_decision(
        design, [comparison], 2, MIN_EFFECT, {("inplace", "wholebatch"): prior}
    )
    assert decision.stop and decision.futile and not decision.decided
    assert decision.reason.startswith("futile after 2 processes (look 1 of 5): ")
    assert "(< 5%, spread pooled with results/imagenet/earlier)" in decision.reason
    # A prior for another pair is not this comparison's.
    other = {("inplace", "concat"): prior}
    assert not stop_decision(design, [comparison], 2, MIN_EFFECT, other).stop
    # A quiet earlier run makes the same two processes hopeful: no stop.
    quiet = sequential.PriorSpread(0.002**2, 5, "quiet")
    power = sequential.conditional_power(
        means, 6, design.critical_value(6), (5.0, 12.0), 2.0, quiet
    )
    assert power > 0.1
    assert not stop_decision(
        design, [comparison], 2, MIN_EFFECT, {("inplace", "wholebatch"): quiet}
    ).stop


def test_one_hopeful_question_keeps_the_run_going_past_a_futile_one():
    design = SequentialDesign(6)
    hopeless = _comparison(design, [5.0, 1.0, 9.0, 5.2], CLAIM)
    hopeful = _comparison(design, [8.0, 10.5, 6.0, 8.4], CLAIM, model="MobileNetV2")
    assert hopeful.verdict.outcome is Outcome.INCONCLUSIVE
    assert not stop_decision(design, [hopeless, hopeful], 4, MIN_EFFECT).stop


def test_the_last_look_stops_whatever_is_left():
    design = SequentialDesign(3)
    open_ = _comparison(design, [5.0, 1.0, 9.0], CLAIM)
    decision = stop_decision(design, [open_], 3, MIN_EFFECT)
    assert decision == StopDecision(
        True, "the most processes, 3, reached: 1 undecided", False, False
    )
    assert not stop_decision(design, [open_], 1, MIN_EFFECT).stop
    with pytest.raises(ValueError, match="the design stops at 3"):
        stop_decision(design, [open_], 4, MIN_EFFECT)


def test_a_comparison_at_the_wrong_level_is_refused():
    design = SequentialDesign(6)
    fixed_level = _comparison(design, [8.0, 9.5, 7.0], CLAIM, alpha=0.05)
    with pytest.raises(ValueError, match=r"at alpha 0.05, not the design's .* after 3 processes"):
        stop_decision(design, [fixed_level], 3, MIN_EFFECT)


def test_futility_never_changes_a_verdict_it_only_stops():
    # Over simulated runs: with futility a run's verdict is the one without it, or inconclusive
    # (it stopped earlier); a decided look always stops as decided, never as futile.
    with_futility, without = SequentialDesign(6), SequentialDesign(6, futility_power=0.0)
    rng = np.random.default_rng(12)
    stopped_futile = 0
    for _ in range(60):
        truth = rng.choice([0.0, 4.0, 5.0, 8.0, 13.0])
        means = [truth + rng.normal(0, 3.0) for _ in range(6)]
        outcomes = []
        for design in (with_futility, without):
            for k in range(2, 7):
                comparison = _comparison(design, means[:k], CLAIM, sd=0.02)
                decision = stop_decision(design, [comparison], k, MIN_EFFECT)
                decided = comparison.verdict.outcome is not Outcome.INCONCLUSIVE
                assert decision.decided == decided and not (decided and decision.futile)
                if decision.stop:
                    stopped_futile += decision.futile
                    outcomes.append(comparison.verdict.outcome)
                    break
        futile_run, plain_run = outcomes
        assert futile_run in (plain_run, Outcome.INCONCLUSIVE)
    assert stopped_futile > 0


def test_a_sequential_cells_comparison_is_at_the_level_of_its_own_processes():
    design = SequentialDesign(6)
    raw = paired_run(3, 4, true_pct=0.0, round_sd=0.01)
    # A fourth process that failed: the comparison still has 3.
    failed = paired_run(4, 4, true_pct=0.0, round_sd=0.01)[3]
    failed.update(status="failed", reason="failed: synthetic", paired=None)
    plain_records = [Record.from_json(r) for r in [*raw, failed]]
    for r in [*raw, failed]:
        r["cell"]["sequential_max"] = 6
    records = [Record.from_json(r) for r in [*raw, failed]]
    (comparison,) = paired_comparisons(records, alpha=design.alpha)
    assert comparison.estimate.processes == 3
    assert comparison.estimate.alpha == design.look_alpha(3)
    (plain,) = paired_comparisons(plain_records, alpha=design.look_alpha(3))
    assert comparison.estimate == plain.estimate and comparison.verdict == plain.verdict
    decision = stop_decision(design, [comparison], 4, MIN_EFFECT)
    assert decision.decided == (comparison.verdict.outcome is not Outcome.INCONCLUSIVE)


# -- the p-value Holm reads -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("means_pct", "claim"),
    [
        ([8.4, 8.6], CLAIM),
        ([0.2, 0.1], CLAIM),
        ([0.1, -0.1], QUESTION),
        ([6.0, 6.3], QUESTION),
    ],
)
def test_with_two_processes_the_p_value_is_the_fixed_designs(means_pct, claim):
    design = SequentialDesign(2)
    estimate = paired.estimate(_groups(means_pct, sd=0.005), design.look_alpha(2))
    verdict = paired_verdict(claim, estimate, MIN_EFFECT)
    assert verdict.outcome is not Outcome.INCONCLUSIVE
    fixed = multiplicity.verdict_p_value(estimate, verdict, claim.range_pct, MIN_EFFECT)
    found = sequential.sequential_p_value(design, estimate, verdict, claim.range_pct, MIN_EFFECT)
    assert found == pytest.approx(fixed, rel=1e-6)


def test_the_p_value_is_below_alpha_exactly_when_a_look_decided():
    design = SequentialDesign(5)
    rng = np.random.default_rng(3)
    seen = set()
    for trial in range(12):
        claim = CLAIM if trial % 2 else QUESTION
        truth = [0.0, 8.0, 4.5, 13.0, 2.5, -3.0][trial % 6]
        means = [truth + rng.normal(0, 1.5) for _ in range(5)]
        looks = [_comparison(design, means[:k], claim) for k in range(2, 6)]
        verdict, estimate = looks[-1].verdict, looks[-1].estimate
        p = sequential.sequential_p_value(design, estimate, verdict, claim.range_pct, MIN_EFFECT)
        if verdict.outcome is Outcome.INCONCLUSIVE:
            assert p == 1.0
            continue
        seen.add(verdict.outcome)
        reached = any(c.verdict.outcome is verdict.outcome for c in looks)
        assert (p < design.alpha) == reached
        # The looks cost: never below the fixed design's p-value at any of them.
        fixed = [
            multiplicity.verdict_p_value(c.estimate, verdict, claim.range_pct, MIN_EFFECT)
            for c in looks
        ]
        assert p >= min(fixed) * (1 - 1e-6)
    assert len(seen) >= 2


def test_the_critical_values_fall_as_alpha_grows_so_the_p_value_is_well_defined():
    # Holm's p-value is the smallest alpha that decides: it needs c_k(alpha) to fall with alpha.
    for spending in SPENDINGS:
        for k in (3, 6):
            critical = sequential._truncated_critical_function(6, spending, k)
            grid = np.log(np.geomspace(1e-4, 0.5, 25))
            values = [critical(a) for a in grid]
            assert all(a >= b for a, b in itertools.pairwise(values)), (spending, k)


def test_an_inconclusive_row_has_p_value_one():
    design = SequentialDesign(6)
    estimate = paired.estimate(_groups([5.0, 1.0, 9.0]), design.look_alpha(3))
    verdict = Verdict(Outcome.INCONCLUSIVE)
    assert sequential.sequential_p_value(design, estimate, verdict, (5.0, 12.0), 2.0) == 1.0


@pytest.mark.parametrize("max_processes", [6, 10, 30])
def test_the_verdicts_read_the_first_looks_tiny_level(max_processes):
    # The first look of O'Brien-Fleming spending has 1 df and a nominal level of 2e-4 (K = 6) or
    # below what a double holds next to 1 (K = 30): what would decide is still said, not raised.
    design = SequentialDesign(max_processes)
    estimate = paired.estimate(_groups([6.0, 9.0]), design.look_alpha(2))
    for verdict in (
        paired.range_verdict(estimate, (5.0, 12.0)),
        paired.change_verdict(estimate, MIN_EFFECT),
    ):
        assert verdict.outcome is Outcome.INCONCLUSIVE
        assert "paired processes" in verdict.detail
