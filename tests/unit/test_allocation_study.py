"""benchmarks/allocation.py: its noise shapes, its vectorised half-width against
``paired.estimate``, and its seeding, on small inputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from mgbench.analysis import paired

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "allocation_study", ROOT / "benchmarks/allocation.py"
)
assert _spec and _spec.loader
study = importlib.util.module_from_spec(_spec)
sys.modules["allocation_study"] = study  # its dataclasses look their module up there
_spec.loader.exec_module(study)


@pytest.mark.parametrize("shape", study.SHAPES)
def test_every_noise_shape_has_sd_one(shape):
    noise = study.standard_noise(shape, (400_000,), np.random.default_rng(1))
    assert noise.std() == pytest.approx(1.0, abs=0.03)


def test_the_vectorised_half_width_is_paired_estimates():
    rounds = np.random.default_rng(2).normal(0.0, 0.1, size=(20, 3, 9))
    found = study.half_widths_pct(rounds)
    exact = [paired.estimate(list(each), study.ALPHA).half_width_pct for each in rounds]
    np.testing.assert_allclose(found, exact, rtol=1e-12)


def test_a_case_is_reproducible_from_its_seed_alone():
    case = study.Case(10, "measured", "cell", "a vs b", 10.0, 2.0, 3, 8, 9.0, 12.0, 11.0)
    noise = study.Noise(0.1, 0.02, "synthetic")
    first = study.simulate(case, noise, "t3", 0.1, 200, [5, 1, 1])
    again = study.simulate(case, noise, "t3", 0.1, 200, [5, 1, 1])
    other = study.simulate(case, noise, "t3", 0.1, 200, [6, 1, 1])
    assert first == again and first != other
