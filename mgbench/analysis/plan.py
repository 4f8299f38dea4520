"""A run's cost before it runs: processes, per-phase costs, wall time and the paired CI to expect.

``mgbench run SUITE --plan`` prints this estimate without running anything, and ``--deadline``
uses the same per-process estimates to decide whether the next process still fits.

One process costs ``fixed + first step + steps x step``:

- *fixed*: everything that is not a training step: the interpreter, TensorFlow and the devices
  starting, building and compiling the model, the placement and transfer audit, writing the
  record and exiting;
- *first step*: tracing the training step (its graph holds one copy of the model per replica)
  and running it once (on a GPU, cuDNN's autotuning and the first allocations too); a paired
  process traces each of its k strategies (k = 2, or more in a process holding several pairs);
- *steps*: every later step: ``warmup + timed`` for an isolated process, ``k x warmup +
  rounds x k x block_steps`` for a paired one (a round runs a block of each strategy), at the
  steady step time (a paired process: the mean of its strategies').

The costs come, per cell, from an earlier run on this machine when it measured that cell
(records keep ``process_to_first_timed_step_s``, the first, warm-up and timed steps and the
process's wall time; a paired record keeps its rounds), from the same run's isolated processes of
each of its strategies for a paired cell it did not measure, or else from stated defaults per
model and device mode (:data:`MACHINE_DEFAULTS`, :data:`MODEL_DEFAULTS`). Each cell says which.

The CI half-width a paired comparison should reach follows :func:`mgbench.analysis.paired.
estimate` for processes of equal size: with within-process variance ``s^2`` of one round's log
ratio (as the per-process aggregate sees it) and between-process variance ``tau^2``, ``P``
processes of ``R`` rounds give ``var(mu) = (s^2 / R + tau^2) / P`` on ``P - 1`` degrees of
freedom (one process: ``s^2 / R`` on the aggregate's df, ``tau`` unseen, and no verdict). The
same model gives the paired processes a decisive answer needs (:func:`pairs_to_decide`: 80%
power for a true speed-up 2% from the nearest edge a verdict reads). Pure functions: no I/O.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from mgbench.analysis import paired, pooling
from mgbench.analysis.claim import DEFAULT_MIN_EFFECT_PCT
from mgbench.analysis.sequential import FIRST_LOOK_PROCESSES
from mgbench.config.suite import Cell, Suite
from mgbench.records.record import Record
from mgbench.vocabulary import DeviceMode, Strategy

DEVICE_MODES = (DeviceMode.CPU_SIMULATION, DeviceMode.VIRTUAL_GPU, DeviceMode.GPU)
# A profiled process (``profile = true``) runs its steps under TF's profiler, which records every
# op: assumed this much slower per step, plus writing the trace.
PROFILER_STEP_SLOWDOWN = 2.0
# A paired process builds one template and wraps it k times: costed as 1 + k/4 builds, which is
# the 1.5 builds of a process of two the defaults have always assumed.
WRAPPER_BUILD_SHARE = 0.25
TIMELINE_TRACE_WRITE_S = 5.0


@dataclass(frozen=True)
class MachineCosts:
    """Default per-process costs of a device mode that do not depend on the model."""

    start_s: float  # process start until the model is built: interpreter, TF, devices, NVML
    exit_s: float  # after the last step: memory peaks, the record, the process exiting
    first_step_extra_s: float  # the first step beyond tracing: cuDNN autotuning, allocations
    step_overhead_s: float  # per step, beyond the images: Keras's dispatch, the host's batch
    mirrored_step_factor: float  # MirroredStrategy's step against the wrappers' (its all-reduce)
    basis: str  # where the numbers come from


@dataclass(frozen=True)
class ModelCosts:
    """Default costs of one model on one device mode."""

    image_ms: float  # one training image (forward, backward, update) at ``reference_px``
    reference_px: int  # per-image cost scales with the pixel count from here
    build_s: float  # building and compiling one strategy over the model
    trace_s_per_replica: float  # tracing the train step, per copy of the model in its graph
    audit_s_per_replica: float  # the placement and transfer audit of the traced step
    basis: str


_CPU_RUN = "results/imagenet/20261130-131954-vm (2-core VM, ResNet50/MobileNetV2 32px b8 x2)"
_GPU_BASIS = (
    "assumed, not yet measured (no TensorFlow run on a GPU so far): one H200-class GPU, fp32 with "
    "TF32 matmuls, Keras fit without XLA"
)

# Defaults per device mode. The CPU figures are that run's medians; the GPU ones are stated
# assumptions, to be replaced by a run's own records (``--plan-from``) once one exists.
MACHINE_DEFAULTS: dict[str, MachineCosts] = {
    # Mirrored's steps there: ResNet50 0.24 s against in-place's 0.13 s, MobileNetV2 0.078 s
    # against 0.048 s.
    DeviceMode.CPU_SIMULATION: MachineCosts(
        start_s=3.0,
        exit_s=2.5,
        first_step_extra_s=0.0,
        step_overhead_s=0.0,
        mirrored_step_factor=1.8,
        basis=_CPU_RUN,
    ),
    # TF import with the CUDA libraries ~3.5 s, the CUDA context and the devices ~2 s (virtual
    # GPUs reserve their memory limit up front), NVML ~0.1 s; exit frees the context. Mirrored's
    # all-reduce of ResNet50's ~100 MB of gradients adds ~20% to a step.
    DeviceMode.VIRTUAL_GPU: MachineCosts(
        start_s=6.0,
        exit_s=2.5,
        first_step_extra_s=3.0,
        step_overhead_s=0.010,
        mirrored_step_factor=1.2,
        basis=_GPU_BASIS,
    ),
    DeviceMode.GPU: MachineCosts(
        start_s=6.0,
        exit_s=2.5,
        first_step_extra_s=3.0,
        step_overhead_s=0.015,
        mirrored_step_factor=1.2,
        basis=_GPU_BASIS,
    ),
}

_GPU_TRACE = "tracing is host work: ~25% faster than the 2-core VM's per replica"
MODEL_DEFAULTS: dict[tuple[str, str], ModelCosts] = {
    ("ResNet50", DeviceMode.CPU_SIMULATION): ModelCosts(7.5, 32, 0.7, 4.0, 0.5, _CPU_RUN),
    ("MobileNetV2", DeviceMode.CPU_SIMULATION): ModelCosts(2.5, 32, 0.4, 3.5, 0.4, _CPU_RUN),
    # Not in that run: ResNet50's cost per pixel x 0.8 (InceptionV3 has ~0.8x its FLOPs per
    # pixel), tracing ~1.8x (311 layers against 177).
    ("InceptionV3", DeviceMode.CPU_SIMULATION): ModelCosts(
        32.0, 75, 1.2, 7.0, 0.9, "scaled from ResNet50's: FLOPs per pixel x0.8, layers x1.8"
    ),
    # ~670 images/s at 224px on one GPU (ResNet50's ~12 GFLOP per training image at ~8 TFLOP/s
    # achieved), InceptionV3 ~450 images/s at 299px (~17 GFLOP per image).
    ("ResNet50", DeviceMode.GPU): ModelCosts(
        1.5, 224, 2.0, 3.0, 0.4, f"{_GPU_BASIS}; {_GPU_TRACE}"
    ),
    ("InceptionV3", DeviceMode.GPU): ModelCosts(
        2.2, 299, 3.0, 5.5, 0.7, f"{_GPU_BASIS}; {_GPU_TRACE}"
    ),
}
FALLBACK_MODEL = "ResNet50"  # a model without defaults is costed as ResNet50 (and says so)

# Noise of one paired round's log ratio (within a process) and between processes.
NOISE_DEFAULTS: dict[str, tuple[float, float, str]] = {
    # The published run: ResNet50 sd 6.3% (tau 0), MobileNetV2 sd 14.1% (tau 2.6%).
    DeviceMode.CPU_SIMULATION: (0.10, 0.015, f"default for the CPU: {_CPU_RUN}"),
    # GPU step times are steadier than a shared CPU's; virtual GPUs share one chip's queues.
    DeviceMode.VIRTUAL_GPU: (0.03, 0.01, "default for virtual GPUs (assumed)"),
    DeviceMode.GPU: (0.02, 0.01, "default for GPUs (assumed)"),
}


def _check_mode(device_mode: str) -> None:
    if device_mode not in DEVICE_MODES:
        raise ValueError(f"unknown device mode {device_mode!r}; one of {', '.join(DEVICE_MODES)}")


# -- per-process costs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessCost:
    """One process of a cell: ``fixed_s + first_step_s + steps x step_s``."""

    fixed_s: float
    first_step_s: float
    step_s: float
    steps: int
    source: str  # "measured: ...", "derived: ..." or "default: ..."

    @property
    def total_s(self) -> float:
        return self.fixed_s + self.first_step_s + self.steps * self.step_s


@dataclass(frozen=True)
class MeasuredCell:
    """A cell's per-process costs in an earlier run: medians over its ok processes."""

    cell_id: str
    processes: int
    fixed_s: float
    first_step_s: float
    step_s: float
    phases_s: Mapping[str, float] = field(default_factory=dict)  # as recorded


def steps_after_first(cell: Cell) -> int:
    """A process's steps after its first one(s), at the steady step time."""
    if cell.paired:
        assert cell.rounds is not None and cell.block_steps is not None
        k = len(cell.paired_strategies)
        return k * cell.warmup_steps + cell.rounds * k * cell.block_steps
    return cell.warmup_steps + cell.timed_steps


def _isolated_sample(record: Record) -> tuple[float, float, float] | None:
    """(fixed, first step, steady step) of one isolated process, or None when the record lacks
    what splits its wall time."""
    timing = record.timing
    if timing is None or timing.process_to_first_timed_step_s is None or record.wall_s is None:
        return None
    before_timed = timing.first_step_s + sum(timing.warmup_step_s or ())
    before_first = timing.process_to_first_timed_step_s - before_timed
    after_last = record.wall_s - timing.process_to_first_timed_step_s - timing.timed_wall_s
    steady = statistics.median(timing.step_s) if timing.step_s else 0.0
    return max(0.0, before_first) + max(0.0, after_last), timing.first_step_s, steady


def _paired_sample(record: Record) -> tuple[float, float, float] | None:
    """(fixed, every strategy's first step, mean steady step) of one paired process. Its
    warm-up steps as recorded; in records older than them, at the rounds' median step times."""
    timing = record.paired
    if timing is None or not timing.rounds or record.wall_s is None:
        return None
    k = len(timing.strategies)
    steps = [[t for r in timing.rounds for t in r.blocks[label]] for label in range(k)]
    medians = [statistics.median(each) for each in steps]
    first = sum(timing.first_steps_s)
    if timing.warmup_step_s is not None:
        warmup = sum(sum(each) for each in timing.warmup_step_s)
    else:
        warmup = record.cell.warmup_steps * sum(medians)
    fixed = record.wall_s - first
    for each in steps:
        fixed -= sum(each)
    fixed -= warmup
    return max(0.0, fixed), first, sum(medians) / k


def measured_cells(records: Iterable[Record]) -> dict[str, MeasuredCell]:
    """Each cell's median per-process costs over the ok processes of an earlier run."""
    samples: dict[str, list[tuple[float, float, float]]] = {}
    phases: dict[str, list[Mapping[str, float]]] = {}
    for record in records:
        if not record.ok:
            continue
        sample = _paired_sample(record) if record.cell.paired else _isolated_sample(record)
        if sample is None:
            continue
        samples.setdefault(record.cell_id, []).append(sample)
        if record.phases_s:  # an isolated process's, or a paired one's
            phases.setdefault(record.cell_id, []).append(record.phases_s)
    out = {}
    for cell_id, found in samples.items():
        recorded = phases.get(cell_id, [])
        names = dict.fromkeys(name for p in recorded for name in p)
        out[cell_id] = MeasuredCell(
            cell_id=cell_id,
            processes=len(found),
            fixed_s=statistics.median(s[0] for s in found),
            first_step_s=statistics.median(s[1] for s in found),
            step_s=statistics.median(s[2] for s in found),
            phases_s={
                name: statistics.median(p[name] for p in recorded if name in p) for name in names
            },
        )
    return out


def _scaled_image_s(costs: ModelCosts, image_size: int) -> float:
    return costs.image_ms / 1000 * (image_size / costs.reference_px) ** 2


def model_defaults(model: str, device_mode: str) -> tuple[ModelCosts, str]:
    """The default costs of ``model`` (GPU modes share one table) and the label that says so."""
    _check_mode(device_mode)
    kind = DeviceMode.CPU_SIMULATION if device_mode == DeviceMode.CPU_SIMULATION else DeviceMode.GPU
    if (model, kind) in MODEL_DEFAULTS:
        return MODEL_DEFAULTS[(model, kind)], f"default: {model} on {device_mode}"
    return (
        MODEL_DEFAULTS[(FALLBACK_MODEL, kind)],
        f"default: {model} costed as {FALLBACK_MODEL} on {device_mode} (no defaults for it)",
    )


def default_cost(cell: Cell, device_mode: str) -> ProcessCost:
    """A process of ``cell`` from the stated defaults. Replicas share one device in CPU
    simulation and on virtual GPUs (a step's images all go through it); on real GPUs each
    replica has its own, so a step takes one replica's images."""
    machine = MACHINE_DEFAULTS[device_mode]
    costs, label = model_defaults(cell.model, device_mode)
    images = cell.batch_per_replica if device_mode == DeviceMode.GPU else cell.global_batch
    step = images * _scaled_image_s(costs, cell.image_size) + machine.step_overhead_s
    if cell.strategy in (Strategy.MIRRORED, Strategy.MULTIWORKER):  # tf.distribute's steps, both
        step *= machine.mirrored_step_factor
    first = cell.replicas * costs.trace_s_per_replica + machine.first_step_extra_s + step
    if cell.paired:  # one template and k wrappers built; k graphs traced; no audit
        k = len(cell.paired_strategies)
        fixed = machine.start_s + (1 + WRAPPER_BUILD_SHARE * k) * costs.build_s + machine.exit_s
        first *= k
    else:
        audit = cell.replicas * costs.audit_s_per_replica if cell.placement else 0.0
        fixed = machine.start_s + costs.build_s + audit + machine.exit_s
    return ProcessCost(fixed, first, step, steps_after_first(cell), label)


def _isolated_twin(cell: Cell, strategy: str) -> str:
    return dataclasses.replace(
        cell, strategy=strategy, versus=None, rounds=None, block_steps=None, also=()
    ).cell_id


def process_cost(
    cell: Cell, device_mode: str, measured: Mapping[str, MeasuredCell], label: str
) -> ProcessCost:
    """One process of ``cell``: measured in the earlier run ``label`` when it ran this cell;
    for a paired cell it did not run, derived from its isolated processes of each strategy
    (fixed costs and steps averaged, first steps added); else the defaults."""
    steps = steps_after_first(cell)
    found = measured.get(cell.cell_id)
    if found is not None:
        return ProcessCost(
            found.fixed_s,
            found.first_step_s,
            found.step_s,
            steps,
            f"measured: {label} ({found.processes} process(es))",
        )
    if cell.paired:
        held = cell.paired_strategies
        twins = [measured.get(_isolated_twin(cell, strategy)) for strategy in held]
        found_all = [t for t in twins if t is not None]
        if len(found_all) == len(held):
            names = f"{', '.join(held[:-1])} and {held[-1]}"
            return ProcessCost(
                sum(t.fixed_s for t in found_all) / len(held),
                sum(t.first_step_s for t in found_all),
                sum(t.step_s for t in found_all) / len(held),
                steps,
                f"derived: {label}'s isolated {names} processes",
            )
    return default_cost(cell, device_mode)


def timeline_cost(cell: Cell, isolated: ProcessCost, timeline_steps: int) -> ProcessCost:
    """A timeline process (``timeline = true``): warm-up, then ``timeline_steps`` steps under TF's
    profiler, each assumed :data:`PROFILER_STEP_SLOWDOWN` times slower, and the trace written."""
    warmup = max(cell.warmup_steps, 1)
    profiled_steps_s = PROFILER_STEP_SLOWDOWN * timeline_steps * isolated.step_s
    return ProcessCost(
        isolated.fixed_s + TIMELINE_TRACE_WRITE_S,
        isolated.first_step_s,
        (warmup * isolated.step_s + profiled_steps_s) / (warmup + timeline_steps),
        warmup + timeline_steps,
        f"{isolated.source}; profiled steps x{PROFILER_STEP_SLOWDOWN:g}, trace writing "
        f"{TIMELINE_TRACE_WRITE_S:g} s",
    )


# -- the paired CI to expect -----------------------------------------------------------------------


@dataclass(frozen=True)
class Noise:
    """The spread of one paired round's log ratio within a process (sd) and of the processes'
    true log ratios (tau); ``tau_log`` is None when the source had one process only."""

    within_sd_log: float
    tau_log: float | None
    source: str


def default_noise(device_mode: str) -> Noise:
    _check_mode(device_mode)
    sd, tau, source = NOISE_DEFAULTS[device_mode]
    return Noise(sd, tau, source)


def measured_noise(records: Iterable[Record], label: str) -> dict[str, Noise]:
    """Each paired cell's noise in an earlier run (:func:`mgbench.analysis.paired.estimate`'s
    pooled within-process variance and tau^2), by cell id."""
    rounds: dict[str, list[list[float]]] = {}
    for record in records:
        if record.ok and record.paired is not None and len(record.paired.rounds) >= 2:
            rounds.setdefault(record.cell_id, []).append(
                [paired.round_log_ratio(r.a_step_s, r.b_step_s) for r in record.paired.rounds]
            )
    out = {}
    for cell_id, groups in rounds.items():
        found = paired.estimate(groups, alpha=0.05)
        tau = None if found.tau2 is None else math.sqrt(found.tau2)
        out[cell_id] = Noise(
            math.sqrt(found.within_var),
            tau,
            f"measured: {label} ({found.processes} process(es) x {found.rounds // found.processes}"
            " rounds)",
        )
    return out


@dataclass(frozen=True)
class CiForecast:
    """The paired CI half-width ``processes`` processes of ``rounds`` rounds should reach."""

    cell: Cell
    processes: int
    rounds: int
    noise: Noise
    alpha: float
    df: float
    half_width_log: float
    # Fewest paired processes of these rounds that decide (:func:`pairs_to_decide`); None: more
    # than :data:`mgbench.analysis.paired.MAX_MORE_PAIRS`.
    pairs_needed: int | None = None

    @property
    def decides(self) -> bool:
        """Whether the booked processes reach :func:`pairs_to_decide`'s count (never with one)."""
        return (
            self.processes >= 2
            and self.pairs_needed is not None
            and self.processes >= self.pairs_needed
        )

    @property
    def half_width_pct(self) -> float:
        """Half the CI's width in percent at a true difference of 0: ``sinh(h) x 100`` (the
        report's half-width, ``(e^h - e^-h) / 2``, for an estimate of 0)."""
        return math.sinh(self.half_width_log) * 100


def expected_half_width(
    noise: Noise, processes: int, rounds: int, alpha: float
) -> tuple[float, float]:
    """(df, CI half-width as a log ratio) for ``processes`` equal processes of ``rounds`` rounds,
    as :func:`mgbench.analysis.paired.estimate` computes them. A ``tau`` not seen counts as 0."""
    if processes < 1 or rounds < 2:
        raise ValueError(f"need processes >= 1 and rounds >= 2, got {processes} and {rounds}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    mean_var = noise.within_sd_log**2 / rounds
    if processes == 1:
        df, var_mu = pooling.aggregate_df(rounds), mean_var
    else:
        # The chosen interval reads the process centres' scatter, which holds both parts.
        df, var_mu = float(processes - 1), (mean_var + (noise.tau_log or 0.0) ** 2) / processes
    return df, float(sps.t.ppf(1 - alpha / 2, df)) * math.sqrt(var_mu)


# A "decisive answer" in the plan: a true speed-up this far from the nearest edge a verdict reads
# (0 and +-the minimum effect for a question, the claim's ends for a claim) is decided with
# paired.POWER. The minimum effect is the report's own smallest difference worth a verdict.
DECIDE_DISTANCE_PCT = DEFAULT_MIN_EFFECT_PCT


def pairs_to_decide(
    noise: Noise, rounds: int, alpha: float, distance_pct: float = DECIDE_DISTANCE_PCT
) -> int | None:
    """The fewest paired processes (at least 2: one process gives no verdict) of ``rounds``
    rounds whose interval clears an edge ``distance_pct`` from the true speed-up with
    :data:`~mgbench.analysis.paired.POWER` at ``alpha``, under ``noise`` (the model of
    :func:`mgbench.analysis.paired.samples_to_clear`: one process's centre varies by
    ``s^2 / R + tau^2``, a t over P centres on ``P - 1`` df; a ``tau`` not seen counts as 0).
    None past :data:`~mgbench.analysis.paired.MAX_MORE_PAIRS`."""
    if distance_pct <= 0:
        raise ValueError(f"the distance to decide must be > 0%, got {distance_pct}")
    candidates = np.arange(2, paired.MAX_MORE_PAIRS + 2)
    chance = paired.clear_probability(
        math.log1p(distance_pct / 100),
        noise.within_sd_log**2 / rounds + (noise.tau_log or 0.0) ** 2,
        candidates,
        alpha,
    )
    enough = np.flatnonzero(chance >= paired.POWER)
    return int(candidates[enough[0]]) if enough.size else None


def forecast(cell: Cell, processes: int, noise: Noise, alpha: float) -> CiForecast:
    assert cell.rounds is not None
    df, half = expected_half_width(noise, processes, cell.rounds, alpha)
    needed = pairs_to_decide(noise, cell.rounds, alpha)
    return CiForecast(cell, processes, cell.rounds, noise, alpha, df, half, needed)


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarlierRun:
    """The run whose records give the costs: its folder (as shown) and its records."""

    label: str
    records: tuple[Record, ...]
    timeline_walls_s: Mapping[str, float] = field(default_factory=dict)  # profiled cell -> wall
    notes: tuple[str, ...] = ()  # e.g. how its machine differs from this one


@dataclass(frozen=True)
class CellPlan:
    cell: Cell
    processes: int
    cost: ProcessCost
    phases_s: Mapping[str, float] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return self.processes * self.cost.total_s


@dataclass(frozen=True)
class RunPlan:
    suite: str
    profile: str
    device_mode: str
    cells: tuple[CellPlan, ...]
    timelines: tuple[CellPlan, ...]  # one process per cell under the profiler (timeline = true)
    order: tuple[tuple[str, int], ...]  # (cell id, repeat) in the launcher's order
    ci: tuple[CiForecast, ...]
    earlier: str | None  # the earlier run the costs came from, or None: defaults only
    notes: tuple[str, ...]

    @property
    def isolated_processes(self) -> int:
        return sum(c.processes for c in self.cells if not c.cell.paired)

    @property
    def paired_processes(self) -> int:
        return sum(c.processes for c in self.cells if c.cell.paired)

    @property
    def total_s(self) -> float:
        return sum(c.total_s for c in self.cells) + sum(c.total_s for c in self.timelines)

    @property
    def shortest_until_decided_s(self) -> float:
        """The least the run can take until decided: each paired cell run until decided stops
        at its first look, after :data:`FIRST_LOOK_PROCESSES` processes, and everything else
        runs as planned. No stopping rule that looks from that process on can save more, so
        ``shortest_until_decided_s / total_s`` bounds what stopping saves whatever the data
        (with 3 processes a cell, 2/3 of the paired time at the very least)."""
        saved = sum(
            (c.processes - min(c.processes, FIRST_LOOK_PROCESSES)) * c.cost.total_s
            for c in self.cells
            if c.cell.sequential_max
        )
        return self.total_s - saved

    @property
    def models_on_defaults(self) -> tuple[str, ...]:
        everything = (*self.cells, *self.timelines)
        return tuple(
            dict.fromkeys(c.cell.model for c in everything if c.cost.source.startswith("default"))
        )

    def process_s(self, cell: Cell, timeline: bool = False) -> float | None:
        """One process of ``cell`` (its timeline process with ``timeline``), or None when the
        plan does not hold it."""
        for each in self.timelines if timeline else self.cells:
            if each.cell.cell_id == cell.cell_id:
                return each.cost.total_s
        return None

    def left_out_by(self, deadline_s: float) -> tuple[tuple[str, int | None], ...]:
        """The processes ``--deadline`` would leave out if every one took its estimate: the
        launcher stops at the first that would end after ``deadline_s``; timeline processes
        (repeat None) come after the measured ones."""
        by_id = {c.cell.cell_id: c.cost.total_s for c in self.cells}
        queue: list[tuple[str, int | None, float]] = [
            (cell_id, repeat, by_id[cell_id]) for cell_id, repeat in self.order
        ]
        queue += [(c.cell.cell_id, None, c.cost.total_s) for c in self.timelines]
        elapsed = 0.0
        for index, (_, _, seconds) in enumerate(queue):
            if elapsed + seconds > deadline_s:
                return tuple((cell_id, repeat) for cell_id, repeat, _ in queue[index:])
            elapsed += seconds
        return ()


def plan_run(
    suite: Suite,
    device_mode: str,
    *,
    earlier: EarlierRun | None = None,
    alpha: float = 0.05,
) -> RunPlan:
    """The suite's processes, each costed (from ``earlier`` where it measured the cell, else
    the defaults), and the CI each paired comparison should reach."""
    _check_mode(device_mode)
    records = earlier.records if earlier else ()
    label = earlier.label if earlier else ""
    measured = measured_cells(records)
    noises = measured_noise(records, label)
    cells = []
    for cell in suite.cells():
        found = measured.get(cell.cell_id)
        cells.append(
            CellPlan(
                cell,
                suite.repeats_of(cell),
                process_cost(cell, device_mode, measured, label),
                found.phases_s if found else {},
            )
        )
    by_id = {c.cell.cell_id: c for c in cells}
    timelines = []
    for cell in suite.timeline_cells():
        isolated = by_id[cell.cell_id].cost
        wall = earlier.timeline_walls_s.get(cell.cell_id) if earlier else None
        cost = (
            ProcessCost(wall, 0.0, 0.0, 0, f"measured: {label} (its timeline process)")
            if wall is not None
            else timeline_cost(cell, isolated, suite.settings.timeline_steps)
        )
        timelines.append(CellPlan(cell, 1, cost))
    ci = tuple(
        forecast(c.cell, c.processes, _noise_for(c.cell, noises, device_mode), alpha)
        for c in cells
        if c.cell.paired
    )
    return RunPlan(
        suite=suite.name,
        profile=suite.profile,
        device_mode=device_mode,
        cells=tuple(cells),
        timelines=tuple(timelines),
        order=tuple((cell.cell_id, repeat) for cell, repeat in suite.runs()),
        ci=ci,
        earlier=earlier.label if earlier else None,
        notes=earlier.notes if earlier else (),
    )


def _noise_for(cell: Cell, noises: Mapping[str, Noise], device_mode: str) -> Noise:
    """The cell's own measured noise; else the median over the earlier run's paired cells (the
    same machine); else the default. A tau the source could not see is taken from the default."""
    fallback = default_noise(device_mode)
    found = noises.get(cell.cell_id)
    if found is None and noises:
        others = list(noises.values())
        taus = [n.tau_log for n in others if n.tau_log is not None]
        found = Noise(
            statistics.median(n.within_sd_log for n in others),
            statistics.median(taus) if taus else None,
            f"median of {len(others)} other paired cell(s): {others[0].source.split(' (')[0]}",
        )
    if found is None:
        return fallback
    if found.tau_log is None:
        return Noise(
            found.within_sd_log,
            fallback.tau_log,
            f"{found.source}; tau unseen there, {fallback.source}",
        )
    return found


# -- which earlier run -------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineHere:
    """What is known of this machine without starting TensorFlow; None: unknown, not compared."""

    host: str | None
    cpu: str | None
    device_mode: str
    gpu_names: frozenset[str] | None = None
    tensorflow: str | None = None
    keras: str | None = None


def machine_differences(records: Sequence[Record], here: MachineHere) -> list[str]:
    """How the machine of ``records`` (their ok ones) differs from this one; empty: the same
    (``mgbench.records.environment.machine_identity``'s fields, where both sides know them)."""
    differences: list[str] = []
    ok = [r for r in records if r.ok]
    if not ok:
        return ["no successful record"]

    def compare(name: str, ours: object, recorded: set[object]) -> None:
        theirs = {value for value in recorded if value is not None}
        if ours is not None and theirs and theirs != {ours}:
            shown = ", ".join(sorted(str(t) for t in theirs))
            differences.append(f"{name} {shown} (here {ours})")

    compare("host", here.host, {r.environment.host for r in ok})
    compare("cpu", here.cpu, {r.environment.cpu for r in ok})
    compare("device mode", here.device_mode, {r.device_mode for r in ok})
    compare("tensorflow", here.tensorflow, {r.environment.tensorflow for r in ok})
    compare("keras", here.keras, {r.environment.keras for r in ok if r.backend != "tf_keras"})
    if here.gpu_names is not None:
        theirs = {name for r in ok for name in r.environment.gpu_names() if name}
        if theirs != set(here.gpu_names):
            differences.append(
                f"GPUs {', '.join(sorted(theirs)) or 'none'} "
                f"(here {', '.join(sorted(here.gpu_names)) or 'none'})"
            )
    return differences
