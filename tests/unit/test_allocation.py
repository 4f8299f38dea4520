"""Allocation by variance component (``mgbench.analysis.allocation``): the expected half-width
against a simulation and known constants, the classic optimum, the tau = 0 and sigma = 0 edge
cases, the searches against brute force on small grids, the deadline's split, the suite carrying
an allocation, and ``mgbench run --plan/--deadline`` saying and using it. Costs and noise are
SYNTHETIC (made up here)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from mgbench.analysis import allocation as al
from mgbench.analysis.allocation import Bounds, NotEnoughTime, PairedCosts
from mgbench.analysis.plan import Noise
from mgbench.commands import run as run_module
from mgbench.commands.run import run_command
from mgbench.config.suite import SuiteError, parse_suite
from mgbench.execution.executors import WorkerResult
from mgbench.records import store

ALPHA = 0.05

SUITE = """
[suite]
name = "fake"
strategies = ["single", "inplace", "concat"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 2
timed_steps = 10
repeats = 1
pairs = 3
rounds = 8
block_steps = 4
[[models]]
name = "ResNet50"
image_size = 32
classes = 10
[[models]]
name = "MobileNetV2"
image_size = 32
classes = 10
"""
RESNET_PAIR = "ResNet50-32px-b4-inplace-vs-concat-x2"
MOBILENET_PAIR = "MobileNetV2-32px-b4-inplace-vs-concat-x2"


def noise(sd: float, tau: float) -> Noise:
    return Noise(sd, tau, "synthetic")


# -- the expected half-width -------------------------------------------------------------------


def test_c4_is_the_mean_of_the_sample_sd_of_normal_values():
    assert al.c4(2) == pytest.approx(math.sqrt(2 / math.pi))
    assert al.c4(3) == pytest.approx(math.sqrt(math.pi) / 2)
    assert al.c4(10) == pytest.approx(0.9726592741, abs=1e-9)  # the control-chart table's


@pytest.mark.parametrize(("processes", "rounds"), [(2, 8), (3, 20), (6, 5)])
def test_the_expected_half_width_matches_a_simulation_within_its_error(processes, rounds):
    sd, tau = 0.08, 0.03
    rng = np.random.default_rng([23, processes, rounds])
    centres = rng.normal(0.0, math.sqrt(sd**2 / rounds + tau**2), size=(200_000, processes))
    half = sps.t.ppf(1 - ALPHA / 2, processes - 1) * centres.std(axis=1, ddof=1)
    half /= math.sqrt(processes)
    predicted = float(al.expected_half_width(noise(sd, tau), processes, rounds, ALPHA))
    error = half.std() / math.sqrt(half.size)
    assert abs(half.mean() - predicted) < 4 * error
    # the median: within 1% (its Monte Carlo error here is ~0.3%)
    median = al.median_half_width(noise(sd, tau), processes, rounds, ALPHA)
    assert np.median(half) == pytest.approx(median, rel=0.01)


def test_the_expected_half_width_by_hand():
    # P = 3, R = 8: t(0.975, 2) = 4.302653, c4(3) = 0.886227; var = 0.01 / 8 + 0.0004
    expected = 4.302653 * 0.886227 * math.sqrt((0.01 / 8 + 0.0004) / 3)
    assert float(al.expected_half_width(noise(0.1, 0.02), 3, 8, ALPHA)) == pytest.approx(
        expected, rel=1e-6
    )


# -- the classic optimum and the edge cases ------------------------------------------------------


def test_per_minute_rounds_are_the_classic_optimum():
    costs = PairedCosts(fixed_s=50.0, round_s=2.0)
    one = noise(0.1, 0.02)  # R* = sqrt(50 x 0.01 / (2 x 0.0004)) = 25
    assert al.classic_rounds(one, costs) == pytest.approx(25.0)
    chosen = al.allocate_per_minute([one], costs, processes=3, alpha=ALPHA)
    assert (chosen.rounds, chosen.processes) == (25, 3)
    # R* = sqrt(40 x 0.0144 / (1 x 0.0009)) = 25.3: the integer next to it
    other = al.allocate_per_minute([noise(0.12, 0.03)], PairedCosts(40.0, 1.0), 4, ALPHA)
    assert other.rounds == 25


def test_the_t_aware_search_takes_fewer_rounds_than_the_classic_optimum_until_p_is_large():
    costs, both = PairedCosts(fixed_s=50.0, round_s=2.0), [noise(0.1, 0.02)]  # R* = 25
    found = {
        budget: (a.processes, a.rounds)
        for budget in (300, 1000, 2000, 8000)
        for a in [al.allocate_within(both, costs, budget, ALPHA)]
    }
    # few processes: t falls fast, so processes are worth more than R* says; many: R*
    assert found == {300: (4, 12), 1000: (11, 20), 2000: (20, 25), 8000: (80, 25)}


def test_tau_zero_takes_every_round_the_budget_allows_in_few_processes():
    costs = PairedCosts(fixed_s=20.0, round_s=1.0)
    only_rounds = [noise(0.1, 0.0)]
    assert math.isinf(al.classic_rounds(only_rounds[0], costs))
    assert al.allocate_per_minute(only_rounds, costs, 3, ALPHA).rounds == al.MAX_ROUNDS
    chosen = al.allocate_within(only_rounds, costs, budget_s=600.0, alpha=ALPHA)
    # E[H] ~ t(P-1) c4(P) / sqrt(P R(P)), P R(P) = 600 - 20 P: each process costs 20 s of rounds,
    # and t's fall pays for it up to P = 8 (R = 55); every second goes to rounds.
    assert (chosen.processes, chosen.rounds) == (8, 55)
    assert chosen.total_s == pytest.approx(600.0)


def test_sigma_zero_takes_the_fewest_rounds_in_every_process_that_fits():
    costs = PairedCosts(fixed_s=20.0, round_s=1.0)
    only_processes = [noise(0.0, 0.03)]
    assert al.classic_rounds(only_processes[0], costs) == 0.0
    assert al.allocate_per_minute(only_processes, costs, 3, ALPHA).rounds == al.MIN_ROUNDS
    chosen = al.allocate_within(only_processes, costs, budget_s=600.0, alpha=ALPHA)
    assert (chosen.processes, chosen.rounds) == (600 // 25, al.MIN_ROUNDS)


def test_a_third_process_wins_over_two_as_soon_as_it_is_affordable():
    costs = PairedCosts(fixed_s=50.0, round_s=2.0)
    both = [noise(0.1, 0.02)]
    # 3 x (50 + 5 x 2) = 180 s: three processes of 5 rounds beat two of 20
    assert al.allocate_within(both, costs, 180.0, ALPHA).processes == 3
    assert al.allocate_within(both, costs, 179.0, ALPHA).processes == 2


# -- the searches against brute force ------------------------------------------------------------

SMALL = Bounds(min_rounds=5, max_rounds=30, min_processes=2, max_processes=12)
CASES = [
    ([noise(0.1, 0.02)], PairedCosts(50.0, 2.0), 400.0),
    ([noise(0.1, 0.0)], PairedCosts(10.0, 1.0), 150.0),
    ([noise(0.0, 0.05)], PairedCosts(30.0, 3.0), 500.0),
    ([noise(0.15, 0.03), noise(0.09, 0.04)], PairedCosts(39.0, 0.8), 333.0),
    ([noise(0.3, 0.001)], PairedCosts(5.0, 0.5), 1000.0),
]


def _grid(noises, costs):
    cells = list(
        itertools.product(
            range(SMALL.min_processes, SMALL.max_processes + 1),
            range(SMALL.min_rounds, SMALL.max_rounds + 1),
        )
    )
    return [
        (
            p,
            r,
            float(al.widest_half_width(noises, p, r, ALPHA)),
            p * (costs.fixed_s + r * costs.round_s),
        )
        for p, r in cells
    ]


@pytest.mark.parametrize(("noises", "costs", "budget"), CASES)
def test_the_search_within_a_budget_matches_brute_force(noises, costs, budget):
    fits = [g for g in _grid(noises, costs) if g[3] <= budget + 1e-9]
    best = min(fits, key=lambda g: (round(g[2], 12), g[3]))
    chosen = al.allocate_within(noises, costs, budget, ALPHA, SMALL)
    assert (chosen.processes, chosen.rounds) == best[:2]
    assert chosen.half_width_log == pytest.approx(best[2])


@pytest.mark.parametrize(("noises", "costs", "budget"), CASES)
def test_the_cheapest_allocation_reaching_a_width_matches_brute_force(noises, costs, budget):
    grid = _grid(noises, costs)
    for target in np.quantile([g[2] for g in grid], [0.05, 0.3, 0.7]):
        reaching = [g for g in grid if g[2] <= target]
        best = min(reaching, key=lambda g: g[3])
        chosen = al.cheapest_reaching(noises, costs, float(target), ALPHA, SMALL)
        assert chosen is not None
        assert chosen.total_s == pytest.approx(best[3])
        assert chosen.half_width_log <= target
    assert al.cheapest_reaching(noises, costs, 1e-6, ALPHA, SMALL) is None


def test_per_minute_matches_brute_force_over_rounds():
    noises, costs = CASES[3][:2]
    per_minute = [
        (r, float(al.widest_half_width(noises, 3, r, ALPHA)) ** 2 * 3 * costs.process_s(r))
        for r in range(SMALL.min_rounds, SMALL.max_rounds + 1)
    ]
    assert (
        al.allocate_per_minute(noises, costs, 3, ALPHA, SMALL).rounds
        == min(per_minute, key=lambda x: x[1])[0]
    )


# -- a deadline shared among cells -------------------------------------------------------------


def test_one_cell_gets_the_whole_budget_and_twins_share_it_evenly():
    noises, costs = [noise(0.1, 0.02)], PairedCosts(50.0, 2.0)
    alone = al.split_deadline({"a": (noises, costs)}, 600.0, ALPHA)
    assert alone["a"] == al.allocate_within(noises, costs, 600.0, ALPHA)
    twins = al.split_deadline({"a": (noises, costs), "b": (noises, costs)}, 1200.0, ALPHA)
    assert twins["a"] == twins["b"] == alone["a"]


def test_the_split_narrows_the_widest_interval_beyond_an_even_split():
    cells = {
        "noisy": ([noise(0.15, 0.03)], PairedCosts(39.0, 0.8)),
        "quiet": ([noise(0.05, 0.01)], PairedCosts(53.0, 2.9)),
    }
    budget = 900.0
    split = al.split_deadline(cells, budget, ALPHA)
    assert sum(a.total_s for a in split.values()) <= budget + 1e-6
    even = {k: al.allocate_within(n, c, budget / 2, ALPHA) for k, (n, c) in cells.items()}
    widest = max(a.half_width_log for a in split.values())
    assert widest < max(a.half_width_log for a in even.values())


def test_a_budget_too_short_for_two_processes_says_what_it_needs():
    cells = {"a": ([noise(0.1, 0.02)], PairedCosts(50.0, 2.0))}
    with pytest.raises(NotEnoughTime, match=r"do not fit 2 paired processes of 5 rounds"):
        al.split_deadline(cells, 100.0, ALPHA)
    with pytest.raises(NotEnoughTime, match=r"\(120 s\)"):
        al.allocate_within(cells["a"][0], cells["a"][1], 119.0, ALPHA)


def test_costs_and_bounds_refuse_nonsense():
    with pytest.raises(ValueError, match="round_s > 0"):
        PairedCosts(10.0, 0.0)
    with pytest.raises(ValueError, match="rounds bounds"):
        Bounds(min_rounds=1)
    with pytest.raises(ValueError, match="processes >= 2"):
        al.expected_half_width(noise(0.1, 0.0), 1, 8, ALPHA)


# -- the suite carries an allocation -----------------------------------------------------------


def test_a_suite_with_an_allocation_runs_those_rounds_and_processes():
    suite = parse_suite(SUITE, "fake.toml")
    allocated = suite.with_allocation({RESNET_PAIR: (13, 4), MOBILENET_PAIR: (30, 2)})
    cells = {c.cell_id: c for c in allocated.cells()}
    assert cells[RESNET_PAIR].rounds == 13 and cells[MOBILENET_PAIR].rounds == 30
    assert allocated.repeats_of(cells[RESNET_PAIR]) == 4
    runs = [(c.cell_id, r) for c, r in allocated.runs()]
    assert sum(1 for cell_id, _ in runs if cell_id == RESNET_PAIR) == 4
    assert sum(1 for cell_id, _ in runs if cell_id == MOBILENET_PAIR) == 2
    assert allocated.to_dict()["allocated"] == ((MOBILENET_PAIR, 30, 2), (RESNET_PAIR, 13, 4))
    # without one, the order and suite.json stay as they were
    assert "allocated" not in suite.to_dict()
    assert suite.with_allocation({}).runs() == suite.runs()
    with pytest.raises(SuiteError, match="'ResNet50-32px-b4-inplace-x2' is not a paired cell"):
        suite.with_allocation({"ResNet50-32px-b4-inplace-x2": (8, 3)})


# -- mgbench run --plan / --deadline -----------------------------------------------------------


def _fake_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no earlier run under results/: stated default costs
    monkeypatch.setattr(run_module.hardware, "gpu_count", lambda: 0)
    suite_file = tmp_path / "fake.toml"
    suite_file.write_text(SUITE, encoding="utf-8")
    return suite_file


def test_plan_prints_the_allocation_beside_the_suites_setting(tmp_path, monkeypatch):
    suite_file = _fake_folder(tmp_path, monkeypatch)
    lines: list[str] = []
    assert run_command(str(suite_file), plan=True, emit=lines.append) == 0
    text = lines[0]
    assert "Allocation by variance component" in text
    assert "No --deadline: at the suite's paired processes" in text
    section = text.split("Allocation by variance component")[1]
    row = next(line for line in section.splitlines() if line.startswith(f"| {RESNET_PAIR} "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6] == "3 x 8"  # the suite's setting, beside the allocation...
    assert cells[9].startswith("3 x ") and cells[10].startswith("±")  # ...at the suite's pairs
    lines.clear()
    run_command(str(suite_file), plan=True, deadline_min=30, emit=lines.append)
    assert "With --deadline 30: the isolated and timeline processes take" in lines[0]
    assert "Running with --deadline uses this allocation" in lines[0]


def test_a_deadline_too_short_for_two_processes_is_said_by_plan_and_refused_by_run(
    tmp_path, monkeypatch
):
    suite_file = _fake_folder(tmp_path, monkeypatch)
    lines: list[str] = []
    run_command(str(suite_file), plan=True, deadline_min=1, emit=lines.append)
    assert "--deadline 1: too short for an interval" in lines[0]
    assert "give at least" in lines[0]
    with pytest.raises(NotEnoughTime, match=r"--deadline 1: too short .* give at least [\d.]+ min"):
        run_command(str(suite_file), deadline_min=1, emit=lambda _: None)
    assert not (tmp_path / "results").exists()  # refused before any folder was made


def _paired_payload(cell):
    rounds = [
        {
            "first": "ab"[i % 2],
            "a_step_s": [0.1] * cell.block_steps,
            "b_step_s": [0.11] * cell.block_steps,
        }
        for i in range(cell.rounds)
    ]
    return {
        "status": "ok",
        "device_mode": "cpu-simulation",
        "paired": {
            "a": cell.strategy,
            "b": cell.versus,
            "block_steps": cell.block_steps,
            "first_step_s": [3.0, 5.0],
            "rounds": rounds,
        },
        "environment": {"tensorflow": "2.21.0"},
    }


def test_a_deadline_run_measures_the_allocation_and_records_it(tmp_path, monkeypatch):
    suite_file = _fake_folder(tmp_path, monkeypatch)
    spawned = []

    def spawn(cell, options, log_path):
        spawned.append(cell)
        if cell.paired:
            return WorkerResult(_paired_payload(cell), wall_s=1.0)
        return WorkerResult({"status": "skipped", "reason": "synthetic"}, wall_s=1.0)

    monkeypatch.setattr(run_module.executors, "make_spawner", lambda *a, **k: spawn)
    lines: list[str] = []
    output = tmp_path / "run"
    run_command(str(suite_file), deadline_min=30, output=str(output), emit=lines.append)
    said = next(line for line in lines if line.startswith("allocation: "))
    resolved = json.loads((output / "suite.json").read_text(encoding="utf-8"))
    allocated = {cell_id: (r, p) for cell_id, r, p in resolved["suite"]["allocated"]}
    assert set(allocated) == {RESNET_PAIR, MOBILENET_PAIR}
    for cell_id, (rounds, processes) in allocated.items():
        assert f"{cell_id} {processes} x {rounds} rounds" in said
        measured = [c for c in spawned if c.cell_id == cell_id]
        assert len(measured) == processes and {c.rounds for c in measured} == {rounds}
        listed = next(
            c for c in resolved["cells"] if c.get("versus") and cell_id.startswith(c["model"])
        )
        assert listed["rounds"] == rounds
    records = store.read_records(output / "results.jsonl")
    assert {r.cell.rounds for r in records if r.cell_id == RESNET_PAIR} == {
        allocated[RESNET_PAIR][0]
    }
    # --resume measures what the run started with, whatever the deadline now
    assert run_module.recorded_allocation(output) == allocated
    before = len(spawned)
    run_command(str(suite_file), resume=True, output=str(output), emit=lines.append)
    assert len(spawned) == before  # everything was recorded; nothing refused as different cells
