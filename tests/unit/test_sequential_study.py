"""benchmarks/sequential.py: its vectorised looks, its reading of wrong verdicts, its seeding, and
the published study."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from mgbench.analysis import sequential
from mgbench.analysis.claim import Outcome

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "sequential_study", ROOT / "benchmarks/sequential.py"
)
assert _spec and _spec.loader
study = importlib.util.module_from_spec(_spec)
sys.modules["sequential_study"] = study  # its dataclasses look their module up there
_spec.loader.exec_module(study)

PUBLISHED = ROOT / "results/sequential/sequential.json"


def test_the_vectorised_looks_are_paired_estimate_and_its_verdicts():
    assert study.validate(sequences=3) == 3 * 5 * 7 * 3 * len(study.SHAPES)


@pytest.mark.parametrize(
    ("range_pct", "truth", "wrong_outcomes"),
    [
        ((5.0, 12.0), 0.0, {Outcome.SUPPORTS, Outcome.LARGER}),
        ((5.0, 12.0), 8.0, {Outcome.SMALLER, Outcome.LARGER}),
        ((5.0, 12.0), 13.0, {Outcome.SUPPORTS, Outcome.SMALLER}),
        (None, 0.0, {Outcome.FASTER, Outcome.SLOWER}),
        (None, 3.0, {Outcome.SLOWER, Outcome.NO_DIFFERENCE}),
        (None, -3.0, {Outcome.FASTER, Outcome.NO_DIFFERENCE}),
    ],
)
def test_a_verdict_is_wrong_when_what_it_says_about_the_truth_is_false(
    range_pct, truth, wrong_outcomes
):
    case = study.Case(6, range_pct, truth, "normal", 0.03, 0.0)
    codes = np.arange(len(study.CODES))
    found = {study.CODES[c] for c in codes[study.wrong(codes, case)]}
    assert found == wrong_outcomes


def test_a_case_is_reproducible_from_its_seed_alone():
    case = study.Case(3, (5.0, 12.0), 4.0, "t3", 0.07, 0.01)
    first = study.simulate_case(case, study.draw("t3", 3, 500, seed=5))
    again = study.simulate_case(case, study.draw("t3", 3, 500, seed=5))
    other = study.simulate_case(case, study.draw("t3", 3, 500, seed=6))
    assert first == again and first != other


def test_futility_only_leaves_verdicts_inconclusive():
    case = study.Case(6, (5.0, 12.0), 4.0, "normal", 0.03, 0.01)
    means = study.process_means(case, study.draw("normal", 6, 4000, seed=1))
    powers = study.Powers(means, case, {})
    with_futility, without = (
        study.run_design(study.Design("x", "obrien-fleming", power), means, case, powers)
        for power in (sequential.FUTILITY_POWER, 0.0)
    )
    changed = with_futility.verdict != without.verdict
    assert changed.any() and np.all(with_futility.verdict[changed] == 0)
    assert np.all(with_futility.processes <= without.processes)
    assert not np.any(
        study.wrong(with_futility.verdict, case) & ~study.wrong(without.verdict, case)
    )


def test_the_vectorised_power_with_a_prior_is_conditional_power_with_a_prior_spread():
    assert study.validate_prior(sequences=2) == 2 * 4 * 21 * len(study.PRIOR_PROCESSES) * 2


def test_each_rows_pooled_sd_is_the_modules_pooled_spread():
    means = np.log1p(np.array([[1.0, 3.0, -2.0], [0.0, 0.5, 1.0]]) / 100)
    prior = np.array([0.02**2, 0.001**2])
    pooled = study.pooled_sd(means, prior, 4)
    for row, variance, out in zip(means, prior, pooled, strict=True):
        expected = sequential.pooled_spread(row, sequential.PriorSpread(float(variance), 4, "x"))
        assert out == pytest.approx(float(expected), rel=1e-12)
    # Known answer: own variance 0.0001 on 2 df, prior 0.0004 on 1 df -> sd sqrt(0.0002).
    two = np.array([[0.0, 0.01, 0.02]])
    assert study.pooled_sd(two, np.array([4e-4]), 1) == pytest.approx(math.sqrt(2e-4), rel=1e-12)


def test_an_earlier_run_is_its_own_stream_and_changes_no_design_without_a_prior():
    case = study.Case(6, (5.0, 12.0), 4.0, "t3", 0.07, 0.01)
    data = study.draw("t3", 6, 2000, seed=5)
    earlier = [study.draw_prior("t3", 6, p0, 2000, seed=5) for p0 in study.PRIOR_PROCESSES]
    assert not np.allclose(earlier[0].process_effect, data.process_effect[:, :3])
    again = study.draw_prior("t3", 6, 3, 2000, seed=5)
    assert np.array_equal(again.noise_trimmed, earlier[0].noise_trimmed)
    alone, with_prior = study.simulate_case(case, data), study.simulate_case(case, data, earlier)
    assert with_prior.items() >= alone.items()
    assert set(with_prior) - set(alone) == {d.name for d in study.PRIOR_VARIANTS}


def test_futility_with_a_prior_only_leaves_verdicts_inconclusive():
    case = study.Case(6, None, 0.0, "normal", 0.07, 0.028)
    data = study.draw("normal", 6, 4000, seed=1)
    means = study.process_means(case, data)
    variance = study.prior_variance_log(case, study.draw_prior("normal", 6, 3, 4000, seed=1))
    powers = study.Powers(means, case, {3: variance})
    without = study.run_design(study.Design("x", "obrien-fleming", 0.0), means, case, powers)
    with_prior = study.run_design(study.prior_design(2, 3, 1.0), means, case, powers)
    changed = with_prior.verdict != without.verdict
    assert changed.any() and np.all(with_prior.verdict[changed] == 0)
    assert np.all(with_prior.processes <= without.processes)
    assert (with_prior.processes == 2).any()  # a prior of 2 df lets futility stop at the first look
    with pytest.raises(ValueError, match="earlier runs' variances"):
        study.run_design(study.prior_design(2, 3, 1.0), means, case, study.Powers(means, case, {}))


def test_the_choice_prefers_deciding_then_fewer_processes():
    case = study.Case(6, None, 0.0, "normal", 0.03, 0.0)

    def found(obf_decided, pocock_decided):
        base = {"wrong": 0.01, "wrong_se": 0.002, "wrong_among_decided": 0.02}
        return {
            design.name: {**base, "decided": 0.5, "processes": 6.0}
            for design in study.DESIGNS + study.FUTILITY_VARIANTS + study.PRIOR_VARIANTS
        } | {
            "O'Brien-Fleming": {**base, "decided": obf_decided, "processes": 5.0},
            "Pocock": {**base, "decided": pocock_decided, "processes": 4.0},
        }

    assert study.summarise([(case, found(0.60, 0.50))])["chosen_spending"] == "obrien-fleming"
    assert study.summarise([(case, found(0.60, 0.595))])["chosen_spending"] == "pocock"


@pytest.mark.skipif(not PUBLISHED.exists(), reason="the study is not published yet")
def test_the_published_study_keeps_the_error_rate_and_chose_what_the_design_uses():
    published = json.loads(PUBLISHED.read_text())
    assert published["sequences_per_case"] >= 10_000
    assert published["summary"]["chosen_spending"] == sequential.CHOSEN_SPENDING
    chosen = published["summary"]["chosen_futility"]
    assert chosen["futility_power"] == published["futility_power"] == sequential.FUTILITY_POWER
    assert chosen["futility_from"] == sequential.FUTILITY_FROM_PROCESSES
    with_prior = published["summary"]["chosen_prior_futility"]
    assert with_prior["futility_from"] == sequential.FUTILITY_FROM_PROCESSES_WITH_PRIOR
    assert published["futility_from_processes_with_prior"] == with_prior["futility_from"]
    assert with_prior["futility_power"] == sequential.FUTILITY_POWER_WITH_PRIOR
    assert published["futility_power_with_prior"] == with_prior["futility_power"]
    assert with_prior["within_limits"]
    for case in published["cases"] + published["cpu_cases"]:
        for name, found in case["designs"].items():
            assert found["wrong"] <= published["alpha"] + 2 * found["wrong_se"], (case, name)


@pytest.mark.skipif(not PUBLISHED.exists(), reason="the study is not published yet")
def test_the_published_tables_regenerate_from_the_published_json(tmp_path):
    study.rerender(PUBLISHED, tmp_path)
    published = (PUBLISHED.parent / "sequential.md").read_text()
    assert (tmp_path / "sequential.md").read_text() == published
