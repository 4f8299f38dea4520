"""benchmarks/sequential.py: its vectorised looks, its reading of wrong verdicts, its seeding, and
the published study."""

from __future__ import annotations

import importlib.util
import json
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
    with_futility, without = (
        study.run_design(study.Design("x", "obrien-fleming", power), means, case)
        for power in (sequential.FUTILITY_POWER, 0.0)
    )
    changed = with_futility.verdict != without.verdict
    assert changed.any() and np.all(with_futility.verdict[changed] == 0)
    assert np.all(with_futility.processes <= without.processes)
    assert not np.any(
        study.wrong(with_futility.verdict, case) & ~study.wrong(without.verdict, case)
    )


def test_the_choice_prefers_deciding_then_fewer_processes():
    case = study.Case(6, None, 0.0, "normal", 0.03, 0.0)

    def found(obf_decided, pocock_decided):
        base = {"wrong": 0.01, "wrong_se": 0.002, "wrong_among_decided": 0.02}
        return {
            design.name: {**base, "decided": 0.5, "processes": 6.0}
            for design in study.DESIGNS + study.FUTILITY_VARIANTS
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
    for case in published["cases"]:
        for name, found in case["designs"].items():
            assert found["wrong"] <= published["alpha"] + 2 * found["wrong_se"], (case, name)


@pytest.mark.skipif(not PUBLISHED.exists(), reason="the study is not published yet")
def test_the_published_tables_regenerate_from_the_published_json(tmp_path):
    study.rerender(PUBLISHED, tmp_path)
    published = (PUBLISHED.parent / "sequential.md").read_text()
    assert (tmp_path / "sequential.md").read_text() == published
