"""``mgbench run --plan``: per-process costs from SYNTHETIC records (made up here, no machine ran
them) and from stated defaults, with known answers; the paired CI half-width against a hand
computation and against the estimator itself; which earlier run is used; the text."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from mgbench.analysis import paired
from mgbench.analysis import plan as planning
from mgbench.analysis.plan import MachineCosts, ModelCosts, Noise
from mgbench.commands import run as run_module
from mgbench.commands.run import run_command
from mgbench.config.suite import load_suite, parse_suite
from mgbench.present.plan import plan_text
from mgbench.records import environment, store
from mgbench.records.record import Record, RunContext

ROOT = Path(__file__).resolve().parents[2]

SUITE = """
[suite]
name = "fake"
strategies = ["single", "inplace", "concat"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 2
timed_steps = 10
repeats = 2
pairs = 3
rounds = 5
block_steps = 4
[[models]]
name = "ResNet50"
image_size = 32
classes = 10
"""

HOST = {"host": "synthetic-host", "cpu": "Synthetic CPU", "mgbench": "0.1.0"}
WORKER_ENV = {"tensorflow": "2.21.0", "keras": "3.15.1", "gpus": []}


def suite(text: str = SUITE):
    return parse_suite(text, "fake.toml")


def cell_of(loaded, cell_id):
    return next(c for c in loaded.cells() if c.cell_id == cell_id)


def isolated_record(
    cell, repeat=0, *, p2fts=10.0, wall=14.0, mode="cpu-simulation", host=HOST, env=None
):
    """SYNTHETIC: first step 4 s, warm-up 2 x 0.5 s, 10 timed steps of 0.2 s (2 s), so 5 s
    before the first step and 2 s after the last one: fixed 7 s."""
    payload = {
        "status": "ok",
        "device_mode": mode,
        "timing": {
            "first_step_s": 4.0,
            "warmup_step_s": [0.5, 0.5],
            "step_s": [0.2] * 10,
            "timed_wall_s": 2.0,
            "images_per_step": cell.global_batch,
            "images_per_s": cell.global_batch / 0.2,
            "process_to_first_timed_step_s": p2fts,
            "phases_s": {"tensorflow_and_devices": 2.0, "build_and_compile": 1.0, "fit": 7.0},
        },
        "environment": {**WORKER_ENV, **(env or {})},
    }
    context = RunContext("fake", "default", "synthetic-run", host)
    return Record.from_payload(
        cell, repeat, payload, context, started_at="2026-01-01T00:00:00+00:00", wall_s=wall
    )


def paired_record(cell, repeat=0, *, wall=20.0, log_ratios=(0.0, 0.0), a_step=0.1):
    """SYNTHETIC: first steps 3 s and 5 s; each round a block of A steps of ``a_step`` and of B
    steps of ``a_step x exp(log ratio)``."""
    rounds = [
        {
            "first": "a" if i % 2 == 0 else "b",
            "a_step_s": [a_step] * cell.block_steps,
            "b_step_s": [a_step * math.exp(r)] * cell.block_steps,
        }
        for i, r in enumerate(log_ratios)
    ]
    payload = {
        "status": "ok",
        "device_mode": "cpu-simulation",
        "paired": {
            "a": cell.strategy,
            "b": cell.versus,
            "block_steps": cell.block_steps,
            "first_step_s": [3.0, 5.0],
            "rounds": rounds,
        },
        "environment": WORKER_ENV,
    }
    context = RunContext("fake", "default", "synthetic-run", HOST)
    return Record.from_payload(
        cell, repeat, payload, context, started_at="2026-01-01T00:00:00+00:00", wall_s=wall
    )


# -- per-process costs ---------------------------------------------------------------------------


def test_an_isolated_process_is_split_into_fixed_first_step_and_steps():
    loaded = suite()
    cell = cell_of(loaded, "ResNet50-32px-b4-inplace-x2")
    (measured,) = planning.measured_cells([isolated_record(cell)]).values()
    # 10 s to the first timed step - 4 s first step - 1 s warm-up = 5 s; 14 - 10 - 2 = 2 s after
    assert (measured.fixed_s, measured.first_step_s, measured.step_s) == pytest.approx(
        (7.0, 4.0, 0.2)
    )
    assert measured.phases_s == {"tensorflow_and_devices": 2.0, "build_and_compile": 1.0, "fit": 7}
    cost = planning.process_cost(cell, "cpu-simulation", {cell.cell_id: measured}, "RUN")
    assert cost.steps == 2 + 10
    assert cost.total_s == pytest.approx(7 + 4 + 12 * 0.2)
    assert cost.source == "measured: RUN (1 process(es))"


def test_medians_over_processes_and_failed_processes_are_ignored():
    cell = cell_of(suite(), "ResNet50-32px-b4-concat-x2")
    records = [
        isolated_record(cell, 0, wall=14.0),
        isolated_record(cell, 1, wall=16.0),
        isolated_record(cell, 2, wall=30.0),
        Record.from_json({**isolated_record(cell, 3).to_json(), "status": "failed"}),
    ]
    (measured,) = planning.measured_cells(records).values()
    assert measured.processes == 3
    assert measured.fixed_s == pytest.approx(5 + 4)  # the median wall, 16 s: 4 s after the last


def test_a_paired_process_takes_its_warmup_at_the_rounds_step_times():
    loaded = suite()
    cell = cell_of(loaded, "ResNet50-32px-b4-inplace-vs-concat-x2")
    record = paired_record(cell, wall=20.0, log_ratios=(math.log(3), math.log(3)), a_step=0.1)
    (measured,) = planning.measured_cells([record]).values()
    # rounds: 2 x 4 steps of 0.1 s (A) and 0.3 s (B) = 3.2 s; warm-up 2 x (0.1 + 0.3) = 0.8 s
    assert measured.first_step_s == pytest.approx(8.0)
    assert measured.step_s == pytest.approx(0.2)
    assert measured.fixed_s == pytest.approx(20 - 8 - 3.2 - 0.8)
    cost = planning.process_cost(cell, "cpu-simulation", {cell.cell_id: measured}, "RUN")
    assert cost.steps == 2 * 2 + 5 * 2 * 4  # the planned cell's warm-up and rounds
    assert cost.total_s == pytest.approx(8.0 + 8.0 + 44 * 0.2)


def test_a_paired_cell_not_measured_is_derived_from_its_isolated_processes():
    loaded = suite()
    pair = cell_of(loaded, "ResNet50-32px-b4-inplace-vs-concat-x2")
    records = [
        isolated_record(cell_of(loaded, "ResNet50-32px-b4-inplace-x2"), wall=14.0),
        isolated_record(cell_of(loaded, "ResNet50-32px-b4-concat-x2"), wall=16.0),
    ]
    cost = planning.process_cost(pair, "cpu-simulation", planning.measured_cells(records), "RUN")
    assert (cost.fixed_s, cost.first_step_s, cost.step_s) == pytest.approx((8.0, 8.0, 0.2))
    assert cost.source == "derived: RUN's isolated inplace and concat processes"


THREE_WAY = SUITE.replace(
    '"single", "inplace", "concat"', '"single", "inplace", "wholebatch", "concat"'
)
THREE_WAY_ID = "ResNet50-32px-b4-inplace-vs-wholebatch-vs-concat-x2"


def kway_record(cell, *, wall=30.0, steps=(0.1, 0.3, 0.2), rounds=2):
    """SYNTHETIC: a process of three, first steps 3, 5 and 4 s; each round a block of every
    strategy's steps at ``steps``."""
    block = cell.block_steps
    orders = (["a", "b", "c"], ["c", "b", "a"])
    payload = {
        "status": "ok",
        "device_mode": "cpu-simulation",
        "paired": {
            "a": cell.strategy,
            "b": cell.versus,
            "others": list(cell.also),
            "block_steps": block,
            "first_step_s": [3.0, 5.0],
            "others_first_step_s": [4.0],
            "rounds": [
                {
                    "first": orders[i % 2][0],
                    "order": orders[i % 2],
                    "a_step_s": [steps[0]] * block,
                    "b_step_s": [steps[1]] * block,
                    "others_step_s": [[steps[2]] * block],
                }
                for i in range(rounds)
            ],
        },
        "environment": WORKER_ENV,
    }
    context = RunContext("fake", "default", "synthetic-run", HOST)
    return Record.from_payload(
        cell, 0, payload, context, started_at="2026-01-01T00:00:00+00:00", wall_s=wall
    )


def test_a_three_way_process_runs_three_blocks_a_round_and_traces_three_steps():
    cell = cell_of(suite(THREE_WAY), THREE_WAY_ID)
    assert planning.steps_after_first(cell) == 3 * 2 + 5 * 3 * 4
    (measured,) = planning.measured_cells([kway_record(cell)]).values()
    # rounds: 2 x 4 steps of 0.1 + 0.3 + 0.2 s = 4.8 s; warm-up 2 x 0.6 s; first steps 12 s
    assert measured.first_step_s == pytest.approx(12.0)
    assert measured.step_s == pytest.approx(0.2)
    assert measured.fixed_s == pytest.approx(30 - 12 - 4.8 - 1.2)


def test_a_three_way_cell_not_measured_is_derived_from_its_three_isolated_processes():
    loaded = suite(THREE_WAY)
    walls = {"inplace": 14.0, "wholebatch": 15.0, "concat": 16.0}
    records = [
        isolated_record(cell_of(loaded, f"ResNet50-32px-b4-{name}-x2"), wall=wall)
        for name, wall in walls.items()
    ]
    cell = cell_of(loaded, THREE_WAY_ID)
    cost = planning.process_cost(cell, "cpu-simulation", planning.measured_cells(records), "RUN")
    assert (cost.fixed_s, cost.first_step_s, cost.step_s) == pytest.approx((8.0, 12.0, 0.2))
    assert cost.source == "derived: RUN's isolated inplace, wholebatch and concat processes"
    assert cost.steps == 66


def test_the_plan_counts_a_three_way_process_once_and_its_three_comparisons():
    text = plan_text(planning.plan_run(suite(THREE_WAY), "virtual-gpu"))
    assert "Processes: 8 isolated (4 cell(s)) + 3 paired (3 comparison(s)) = 11." in text
    assert f"| {THREE_WAY_ID} | 3 " in text


@pytest.fixture
def simple_defaults(monkeypatch):
    """Round numbers in place of the stated defaults, so the answers can be checked by hand."""
    machine = MachineCosts(
        start_s=5,
        exit_s=1,
        first_step_extra_s=2,
        step_overhead_s=0.01,
        mirrored_step_factor=1.5,
        basis="test",
    )
    model = ModelCosts(
        image_ms=1.0,
        reference_px=100,
        build_s=2,
        trace_s_per_replica=3,
        audit_s_per_replica=0.5,
        basis="test",
    )
    for mode in planning.DEVICE_MODES:
        monkeypatch.setitem(planning.MACHINE_DEFAULTS, mode, machine)
    monkeypatch.setitem(planning.MODEL_DEFAULTS, ("ResNet50", "gpu"), model)


def test_defaults_on_virtual_gpus_share_one_chip_and_real_gpus_do_not(simple_defaults):
    text = SUITE.replace("image_size = 32", "image_size = 200")  # 4x the reference pixels
    cell = cell_of(suite(text), "ResNet50-200px-b4-inplace-x2")
    virtual = planning.default_cost(cell, "virtual-gpu")
    step = 8 * 4 * 0.001 + 0.01  # 2 x 4 images, 4 ms each at 200px
    assert virtual.step_s == pytest.approx(step)
    assert virtual.first_step_s == pytest.approx(2 * 3 + 2 + step)
    assert virtual.fixed_s == pytest.approx(5 + 2 + 2 * 0.5 + 1)
    assert virtual.steps == 12
    assert virtual.source == "default: ResNet50 on virtual-gpu"
    real = planning.default_cost(cell, "gpu")
    assert real.step_s == pytest.approx(4 * 4 * 0.001 + 0.01)  # one replica's images
    mirrored = dataclasses.replace(cell, strategy="mirrored")
    assert planning.default_cost(mirrored, "gpu").step_s == pytest.approx(1.5 * real.step_s)


def test_default_paired_process_builds_one_template_and_traces_both(simple_defaults):
    cell = cell_of(suite(), "ResNet50-32px-b4-inplace-vs-concat-x2")
    cost = planning.default_cost(cell, "gpu")
    step = 4 * 0.001 * (32 / 100) ** 2 + 0.01
    assert cost.fixed_s == pytest.approx(5 + 1.5 * 2 + 1)  # no audit in a paired process
    assert cost.first_step_s == pytest.approx(2 * (2 * 3 + 2 + step))
    assert cost.steps == 2 * 2 + 5 * 2 * 4


def test_default_three_way_process_builds_one_template_and_traces_three(simple_defaults):
    cell = cell_of(suite(THREE_WAY), THREE_WAY_ID)
    two = planning.default_cost(cell_of(suite(), "ResNet50-32px-b4-inplace-vs-concat-x2"), "gpu")
    cost = planning.default_cost(cell, "gpu")
    assert cost.fixed_s == pytest.approx(5 + 1.75 * 2 + 1)  # a quarter build a wrapper more
    assert cost.first_step_s == pytest.approx(two.first_step_s * 3 / 2)
    assert cost.steps == 3 * 2 + 5 * 3 * 4


def test_a_model_without_defaults_is_costed_as_resnet50_and_says_so():
    costs, label = planning.model_defaults("VGG16", "gpu")
    assert costs == planning.MODEL_DEFAULTS[("ResNet50", "gpu")]
    assert "VGG16 costed as ResNet50" in label
    with pytest.raises(ValueError, match="unknown device mode 'tpu'"):
        planning.model_defaults("ResNet50", "tpu")


# -- the run -------------------------------------------------------------------------------------


def test_plan_counts_processes_and_says_per_cell_where_costs_came_from():
    loaded = suite()
    inplace = cell_of(loaded, "ResNet50-32px-b4-inplace-x2")
    earlier = planning.EarlierRun("results/fake/old", (isolated_record(inplace),))
    found = planning.plan_run(loaded, "cpu-simulation", earlier=earlier)
    assert found.isolated_processes == 3 * 2 and found.paired_processes == 3
    sources = {c.cell.strategy + str(c.cell.versus): c.cost.source for c in found.cells}
    assert sources["inplaceNone"] == "measured: results/fake/old (1 process(es))"
    assert sources["singleNone"] == "default: ResNet50 on cpu-simulation"
    assert found.models_on_defaults == ("ResNet50",)
    assert found.total_s == pytest.approx(sum(c.processes * c.cost.total_s for c in found.cells))
    assert found.process_s(inplace) == pytest.approx(13.4)
    assert found.process_s(inplace, timeline=True) is None  # timeline = false


def test_deadline_leaves_out_the_processes_after_the_first_that_would_end_late():
    loaded = suite()
    found = planning.plan_run(loaded, "cpu-simulation")
    seconds = [found.process_s(cell_of(loaded, cell_id)) for cell_id, _ in found.order]
    assert found.left_out_by(sum(seconds) + 1) == ()
    cut = sum(seconds[:4]) + seconds[4] / 2  # the fifth would end late
    assert found.left_out_by(cut) == found.order[4:]


def test_timeline_processes_come_after_the_measured_ones():
    loaded = suite(SUITE.replace("block_steps = 4", "block_steps = 4\ntimeline = true"))
    found = planning.plan_run(loaded, "cpu-simulation")
    assert [c.cell.cell_id for c in found.timelines] == [
        c.cell_id for c in loaded.cells() if not c.paired
    ]
    single = found.timelines[0]
    isolated = found.process_s(single.cell)
    assert isolated is not None
    base = next(c.cost for c in found.cells if c.cell == single.cell)
    warmup = 2 * base.step_s + 5 * base.step_s * planning.PROFILER_STEP_SLOWDOWN
    assert single.cost.total_s == pytest.approx(
        base.fixed_s + planning.TIMELINE_TRACE_WRITE_S + base.first_step_s + warmup
    )
    measured_only = sum(c.total_s for c in found.cells)
    assert found.left_out_by(measured_only + 0.5) == tuple(
        (c.cell.cell_id, None) for c in found.timelines
    )


# -- the paired CI to expect ---------------------------------------------------------------------


def test_half_width_against_a_hand_computation():
    noise = Noise(within_sd_log=0.02, tau_log=0.01, source="test")
    df, half = planning.expected_half_width(noise, processes=3, rounds=10, alpha=0.05)
    # s^2/R = 0.0004/10 = 4e-5; tau^2 = 1e-4; var(mu) = (4e-5 + 1e-4)/3; t over 3 process means
    assert df == 2
    assert half == pytest.approx(4.302653 * math.sqrt(1.4e-4 / 3), rel=1e-6)
    # one process: the t-interval over its rounds, tau unseen; a 20% trimmed mean of 10 rounds
    # keeps 6, so 5 df
    df, half = planning.expected_half_width(noise, processes=1, rounds=10, alpha=0.05)
    assert df == 5
    assert half == pytest.approx(2.570582 * 0.02 / math.sqrt(10), rel=1e-6)
    assert planning.CiForecast(None, 1, 10, noise, 0.05, df, half).half_width_pct == (
        pytest.approx(math.sinh(half) * 100)
    )


def test_half_width_matches_the_estimators_own_interval_for_equal_processes():
    pattern = np.array([0.03, -0.01, 0.02, -0.04, 0.04, 0.01, -0.02, -0.03])  # symmetric about 0
    groups = [pattern + offset for offset in (-0.02, 0.0, 0.02)]  # process means -2%, 0, +2%
    found = paired.estimate(groups, alpha=0.05)
    assert found.tau2 > 0
    noise = Noise(math.sqrt(found.within_var), math.sqrt(found.tau2), "test")
    df, half = planning.expected_half_width(noise, processes=3, rounds=8, alpha=0.05)
    assert df == pytest.approx(found.df)
    assert math.sinh(half) * 100 == pytest.approx(found.half_width_pct)


def test_noise_comes_from_the_earlier_runs_paired_records():
    loaded = suite()
    cell = cell_of(loaded, "ResNet50-32px-b4-inplace-vs-concat-x2")
    ratios = [(0.05, -0.03, 0.02, 0.0, -0.01), (0.04, 0.01, -0.02, 0.03, 0.06)]
    records = [paired_record(cell, i, log_ratios=r) for i, r in enumerate(ratios)]
    (noise,) = planning.measured_noise(records, "RUN").values()
    expected = paired.estimate([list(r) for r in ratios], alpha=0.05)
    assert noise.within_sd_log == pytest.approx(math.sqrt(expected.within_var))
    assert noise.tau_log == pytest.approx(math.sqrt(expected.tau2))
    assert noise.source == "measured: RUN (2 process(es) x 5 rounds)"
    found = planning.plan_run(
        loaded, "cpu-simulation", earlier=planning.EarlierRun("RUN", tuple(records))
    )
    (ci,) = found.ci
    assert ci.noise == noise and (ci.processes, ci.rounds) == (3, 5)


def test_a_single_process_noise_takes_tau_from_the_default():
    loaded = suite()
    cell = cell_of(loaded, "ResNet50-32px-b4-inplace-vs-concat-x2")
    record = paired_record(cell, log_ratios=(0.05, -0.03, 0.02))
    earlier = planning.EarlierRun("RUN", (record,))
    (ci,) = planning.plan_run(loaded, "cpu-simulation", earlier=earlier).ci
    assert ci.noise.tau_log == planning.default_noise("cpu-simulation").tau_log
    assert "tau unseen there" in ci.noise.source


# -- which earlier run, and the command ----------------------------------------------------------


def test_machine_differences_name_what_differs():
    cell = cell_of(suite(), "ResNet50-32px-b4-inplace-x2")
    record = isolated_record(cell)
    here = planning.MachineHere("synthetic-host", "Synthetic CPU", "cpu-simulation", None, "2.21.0")
    assert planning.machine_differences([record], here) == []
    elsewhere = dataclasses.replace(here, host="other", device_mode="virtual-gpu")
    assert planning.machine_differences([record], elsewhere) == [
        "host synthetic-host (here other)",
        "device mode cpu-simulation (here virtual-gpu)",
    ]
    with_gpus = dataclasses.replace(here, gpu_names=frozenset({"NVIDIA H200"}))
    assert planning.machine_differences([record], with_gpus) == ["GPUs none (here NVIDIA H200)"]


def write_run(folder: Path, records) -> None:
    folder.mkdir(parents=True)
    for record in records:
        store.append_record(folder / store.RESULTS_FILE, record)


def test_plan_uses_the_newest_run_of_the_suite_made_on_this_machine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite_file = tmp_path / "fake.toml"
    suite_file.write_text(SUITE, encoding="utf-8")
    inplace = cell_of(suite(), "ResNet50-32px-b4-inplace-x2")
    here = environment.host_environment()
    ours = {"host": here["host"], "cpu": here["cpu"], "mgbench": here["mgbench"]}
    versions = {
        "tensorflow": environment.installed_version("tensorflow", "tensorflow-cpu", "tf-nightly"),
        "keras": environment.installed_version("keras"),
    }
    monkeypatch.setattr(run_module, "_gpu_names", lambda: None)  # NVML: not compared
    runs = tmp_path / "results" / "fake"
    for name, host in (("20260101-000000-a", ours), ("20260102-000000-b", ours)):
        write_run(runs / name, [isolated_record(inplace, host=host, env=versions)])
    elsewhere = {**ours, "host": "another-host"}
    write_run(runs / "20260103-000000-c", [isolated_record(inplace, host=elsewhere)])
    lines: list[str] = []
    assert run_command(str(suite_file), plan=True, profile="cpu", emit=lines.append) == 0
    (text,) = lines
    newest_here = Path("results/fake/20260102-000000-b")
    assert f"Per-phase costs: measured by {newest_here} where it ran the cell" in text
    assert "nothing was run" in text
    assert sorted(p.name for p in runs.iterdir()) == [  # no run folder was made
        "20260101-000000-a",
        "20260102-000000-b",
        "20260103-000000-c",
    ]
    # --plan-from a run of another machine is used, and says how that machine differs
    lines.clear()
    other = "results/fake/20260103-000000-c"
    run_command(str(suite_file), plan=True, profile="cpu", plan_from=other, emit=lines.append)
    assert f"Note: {other} was recorded on another machine: host another-host" in lines[0]
    assert f"Per-phase costs: measured by {other} where it ran the cell" in lines[0]


def test_plan_text_lists_cells_processes_time_deadline_assumptions_and_ci():
    found = planning.plan_run(suite(), "virtual-gpu")
    text = plan_text(found, deadline_min=0.5)
    assert "Plan for suite fake (default profile) on virtual GPUs" in text
    assert "Per-phase costs: stated defaults for every cell (no earlier run used)." in text
    assert "| ResNet50-32px-b4-inplace-vs-concat-x2 | 3 " in text
    assert "Processes: 6 isolated (3 cell(s)) + 3 paired (1 comparison(s)) = 9." in text
    assert "Estimated wall time: " in text
    assert "With --deadline 0.5: " in text and "would be left out" in text
    assert "Defaults on virtual-gpu [1]: process start 6 s" in text
    assert "| ResNet50 | 1.5 " in text
    assert "Paired CI half-width the booked rounds should reach (95%" in text


def test_gpu_quick_fits_eight_minutes_on_four_virtual_gpus_and_two_on_this_cpu():
    path = ROOT / "suites" / "gpu-quick.toml"
    on_gpu = planning.plan_run(load_suite(path), "virtual-gpu")
    assert on_gpu.total_s <= 8 * 60
    assert on_gpu.left_out_by(8 * 60) == ()
    on_cpu = planning.plan_run(load_suite(path, cpu_only=True), "cpu-simulation")
    assert on_cpu.total_s <= 2.5 * 60


def test_run_command_refuses_a_plan_source_without_a_plan_and_a_deadline_of_zero(tmp_path):
    suite_file = tmp_path / "fake.toml"
    suite_file.write_text(SUITE, encoding="utf-8")
    with pytest.raises(ValueError, match="--plan-from: only with --plan or --deadline"):
        run_command(str(suite_file), plan_from="results/fake/x", emit=lambda _: None)
    with pytest.raises(ValueError, match="--deadline: expected minutes > 0, got 0"):
        run_command(str(suite_file), deadline_min=0, emit=lambda _: None)


def test_device_mode_is_known_before_any_worker_starts():
    assert run_module.device_mode(gpus=0, virtual_gpus=0) == "cpu-simulation"
    assert run_module.device_mode(gpus=1, virtual_gpus=4) == "virtual-gpu"
    assert run_module.device_mode(gpus=4, virtual_gpus=0) == "gpu"


def test_pairs_to_decide_is_the_fewest_with_the_power_statsmodels_gives():
    from statsmodels.stats.power import TTestPower

    noise = Noise(within_sd_log=0.03, tau_log=0.01, source="test")
    needed = planning.pairs_to_decide(noise, rounds=8, alpha=0.05)
    sd = math.sqrt(0.03**2 / 8 + 0.01**2)
    effect = math.log1p(planning.DECIDE_DISTANCE_PCT / 100) / sd

    def power(processes):
        return TTestPower().power(effect, processes, 0.025, alternative="larger")

    assert needed == 7
    assert power(needed) >= paired.POWER > power(needed - 1)
    # tau alone (rounds without noise) sets a floor rounds cannot lower
    assert planning.pairs_to_decide(Noise(0.0, 0.01, "test"), rounds=8, alpha=0.05) == 5
    # past the cap: None
    assert planning.pairs_to_decide(Noise(0.03, 0.2, "test"), rounds=8, alpha=0.05) is None


def test_plan_says_what_each_paired_cell_can_decide():
    path = ROOT / "suites" / "gpu-quick.toml"
    one = plan_text(planning.plan_run(load_suite(path), "virtual-gpu"))
    assert (
        "ResNet50-224px-b96-inplace-vs-wholebatch-vs-concat-x4: one process: no verdict "
        "(inconclusive by construction); a decisive answer needs about 7 paired processes of 8 "
        "rounds (~12m11s of paired processes for this cell); no number of rounds brings that "
        "under 5." in one
    )
    assert "Deciding every paired cell would take about " in one
    seven = planning.plan_run(load_suite(path), "virtual-gpu")
    seven = dataclasses.replace(
        seven,
        ci=tuple(dataclasses.replace(ci, processes=7) for ci in seven.ci),
    )
    text = plan_text(seven)
    assert "7 paired processes: decides with 80% power." in text
    assert "Deciding every paired cell" not in text
