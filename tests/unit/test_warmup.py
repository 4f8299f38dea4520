"""The warm-up rule against synthetic paired records with a known start-up: round 0 slower, or
recorded warm-up steps slower, by known amounts."""

from __future__ import annotations

import numpy as np
import pytest
from data.make_paired_results import kway_record

from mgbench.analysis.warmup import steps_needed, warmup_check
from mgbench.records.record import Record

STEP_S = 0.1


def process(repeat: int, *, round0_slower: float = 1.0, warmup: list[float] | None = None):
    """A three-way process (steps ~0.1 s, round noise 0) whose round 0 is ``round0_slower``
    times slower, with warm-up steps of ``warmup`` times the steady step when given."""
    data = kway_record(
        repeat, np.random.default_rng(repeat), slower_pct=(0.0, 0.0, 0.0), round_sd=0.0, rounds=6
    )
    first = data["paired"]["rounds"][0]
    for key in ("a_step_s", "b_step_s"):
        first[key] = [t * round0_slower for t in first[key]]
    first["others_step_s"] = [[t * round0_slower for t in b] for b in first["others_step_s"]]
    if warmup is not None:
        data["paired"]["warmup_step_s"] = [[STEP_S * w for w in warmup]] * 3
    return Record.from_json(data)


def test_a_slower_round_zero_means_the_warmup_is_too_short_to_cut():
    check = warmup_check([process(i, round0_slower=1.05) for i in range(8)])
    assert check.processes == 8 and check.warmup_steps == 2
    assert check.round0_excess_pct == pytest.approx(5.0, abs=0.3)
    # all 8 processes slower: the one-sided signed-rank test's smallest p, 1 / 2^8
    assert check.round0_p_value == pytest.approx(1 / 256)
    assert steps_needed(check) is None


def test_a_steady_round_zero_keeps_the_warmup_when_its_steps_are_unrecorded():
    check = warmup_check([process(i) for i in range(5)])
    assert abs(check.round0_excess_pct) < 0.3
    assert check.warmup_excess_pct == () and check.warmup_processes == 0
    assert steps_needed(check) == 2


@pytest.mark.parametrize(
    ("warmup", "needed"),
    [([1.5, 1.0], 1), ([1.0, 1.0], 0), ([1.5, 1.2], 2), ([1.0, 1.2], 2)],
)
def test_the_warmup_needed_is_the_fewest_steps_after_which_the_pace_is_steady(warmup, needed):
    check = warmup_check([process(i, warmup=warmup) for i in range(5)])
    assert check.warmup_processes == 5
    assert check.warmup_excess_pct == pytest.approx([100 * (w - 1) for w in warmup], abs=0.3)
    assert steps_needed(check) == needed


def test_processes_with_different_warmups_are_checked_apart():
    other = kway_record(9, np.random.default_rng(9), warmup_steps=3)
    with pytest.raises(ValueError, match=r"different warm-ups \(\[2, 3\]\)"):
        warmup_check([process(0), Record.from_json(other)])
    with pytest.raises(ValueError, match="no ok paired process"):
        warmup_check([])
