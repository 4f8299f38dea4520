"""benchmarks/coverage.py: its noise shapes, its seeding and its choice rule, on small runs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("coverage_study", ROOT / "benchmarks/coverage.py")
assert _spec and _spec.loader
coverage = importlib.util.module_from_spec(_spec)
sys.modules["coverage_study"] = coverage  # its dataclasses look their module up there
_spec.loader.exec_module(coverage)


@pytest.mark.parametrize("shape", coverage.SHAPES)
def test_every_noise_shape_has_sd_one_and_is_symmetric(shape):
    noise = coverage.standard_noise(shape, (400_000,), np.random.default_rng(1))
    assert noise.std() == pytest.approx(1.0, abs=0.02)
    assert abs(noise.mean()) < 0.01
    assert abs(np.median(noise)) < 0.01


def test_two_regimes_put_a_third_of_rounds_in_the_jumps():
    noise = coverage.standard_noise("two regimes", (200_000,), np.random.default_rng(2))
    far = np.mean(np.abs(noise) > 1.0)
    assert 0.2 < far < 0.4  # 32% of rounds jump +-1.5 sd; the rest sit near 0 (sd 0.53)


def test_a_case_is_reproducible_from_its_seed_alone():
    first = coverage.simulate("t3", 3, 8, 300, seed=5)
    again = coverage.simulate("t3", 3, 8, 300, seed=5)
    other = coverage.simulate("t3", 3, 8, 300, seed=6)
    assert first == again and first != other


def test_the_old_interval_undercovers_where_the_issue_said_and_the_chosen_does_not():
    # Issue 22: 3 processes x 20 rounds, sigma 5%, normal: DL covered 0.882 at tau 2%.
    found = dict(
        ((case.sigma, case.tau), f)
        for case, f in coverage.simulate("normal", 3, 20, 4000, seed=coverage.SEED)
    )[(0.05, 0.02)]
    assert found["mean + DL + Satterthwaite"]["coverage"] < 0.91
    assert found["20% trimmed mean + t over processes"]["coverage"] > 0.93


def test_the_choice_is_the_narrowest_that_always_covers():
    case = coverage.Case("normal", 0.03, 2, 8, 0.0)

    def found(wide, narrow_coverage):
        return {
            "wide": {"coverage": 0.95, "median_half_width_pct": wide},
            "narrow": {"coverage": narrow_coverage, "median_half_width_pct": 1.0},
        }

    assert coverage.choose([(case, found(3.0, 0.95))])["chosen"] == "narrow"
    assert coverage.choose([(case, found(3.0, 0.93)), (case, found(3.0, 0.99))])["chosen"] == (
        "wide"
    )


def test_the_published_study_chose_what_paired_estimate_uses():
    from mgbench.analysis import pooling

    published = json.loads((ROOT / "results/coverage/coverage.json").read_text())
    assert published["datasets_per_case"] >= 10_000
    chosen = published["choice"]["chosen"]
    assert chosen == f"{pooling.CHOSEN_AGGREGATE} + {pooling.CHOSEN_INTERVAL}"
    multi = [c for c in published["cases"] if c["processes"] >= 2]
    assert min(c["candidates"][chosen]["coverage"] for c in multi) >= coverage.REQUIRED_COVERAGE


def test_the_published_tables_regenerate_from_the_published_json(tmp_path):
    coverage.rerender(ROOT / "results/coverage/coverage.json", tmp_path)
    published = (ROOT / "results/coverage/coverage.md").read_text()
    assert (tmp_path / "coverage.md").read_text() == published
