"""Link-cost prediction: a step's transfer audit (bytes per source, destination and role) on a
hardware spec's links, as seconds of copying per step, and one strategy's implied speed-up
over another (the claim's two, by default) for a compute time per step. Pure: no framework, no
I/O.

Two stated assumptions bound the copy time of a step:

* ``serial``: every copy runs after the previous one, each at the slowest link on its path; a
  GPU-to-GPU copy staged through host memory pays both hops.
* ``parallel``: copies that do not wait for one another run at once. A step's copies fall in
  phases that do wait (:data:`PHASES`: the inputs; slices of a batch that was first copied to a
  GPU; replica outputs; gradients; anything else), one phase after another. Inside a phase each
  link carries all its bytes at its bandwidth, GPUs behind one shared uplink split it, a copy
  staged through host memory loads both its hops (streamed), and the phase lasts as long as its
  busiest link.

Neither lets copies overlap compute: a step takes compute + copy time. Strategy A's speed-up
over B at compute time ``c`` is ``(c + t_B) / (c + t_A) - 1``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mgbench.analysis.cells import CellKey
from mgbench.analysis.claim import DEFAULT_CLAIM
from mgbench.config.hardware_specs import ComputeReference, HardwareSpec
from mgbench.records.record import Record
from mgbench.transfers import Transfer

ASSUMPTIONS = ("serial", "parallel")
LINK_CLASSES = ("host->GPU", "GPU->GPU", "GPU->host")
PHASES = ("inputs", "slices", "outputs", "gradients", "other")
_PHASE_OF_ROLE = {
    "batch": "inputs",
    "weights": "inputs",
    "labels": "inputs",
    "slices": "inputs",  # "slices" when they leave a device that first received the batch
    "outputs": "outputs",
    "gradients": "gradients",
}
# 1-2-5 steps from 1 ms to 5 s: compute times per step from tiny models to the claim's.
DEFAULT_SWEEP_S = tuple(m * 10.0**e for e in range(-3, 1) for m in (1, 2, 5))
GB = 1e9
# A reference of another image size stands in (time per image scaled by pixels) only this close:
# 224 <-> 299 px, not a 32 px toy from a 224 px benchmark.
MAX_PIXEL_SCALING = 2.0
_DEVICE = re.compile(r"(CPU|GPU):(\d+)$", re.IGNORECASE)


class LinkCostError(ValueError):
    """Rows cannot be costed on a spec (a device it does not have); one line."""


@dataclass(frozen=True)
class PhaseCost:
    """One phase of the parallel estimate: its time and the link that set it."""

    phase: str
    seconds: float
    busiest_link: str


@dataclass(frozen=True)
class StrategyCost:
    """One strategy's copies on one spec."""

    strategy: str
    bytes_by_class: dict[str, int]  # LINK_CLASSES -> bytes per step
    serial_s: float
    parallel_s: float
    phases: tuple[PhaseCost, ...]  # the parallel estimate, phase by phase

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_by_class.values())

    def seconds(self, assumption: str) -> float:
        if assumption not in ASSUMPTIONS:
            raise ValueError(f"assumption must be one of {', '.join(ASSUMPTIONS)}")
        return self.serial_s if assumption == "serial" else self.parallel_s


@dataclass(frozen=True)
class ComputeEstimate:
    """A step time for a workload from a spec's published throughput.

    ``step_s`` is the whole measured step; when the reference measured a multi-GPU split
    (``includes_copies_of``), that split's copies are inside it and :func:`predict` takes them
    out to leave the compute term. ``sharing``: replicas that share one chip's compute (virtual
    GPUs), so the step's compute is theirs together; ``pixels_from``: the reference's image size
    when it ran another one (time per image scaled by pixels); ``claimed_speedup_pct``: the
    reference's own before/after change, where it has one for exactly this workload.
    """

    step_s: float
    reference: ComputeReference
    batch_per_replica: int
    sharing: int
    claimed_speedup_pct: float | None
    pixels_from: int | None = None

    @property
    def includes_copies_of(self) -> str | None:
        return self.reference.includes_copies_of

    @property
    def scaled(self) -> bool:
        """True when the reference ran another batch size (time per image taken as constant)."""
        return self.batch_per_replica != self.reference.batch_per_gpu


@dataclass(frozen=True)
class Prediction:
    """Strategy ``a`` against ``b`` on one spec.

    ``compute_by``: the compute time per step under each assumption (None: unknown, or the
    reference's copies alone exceed its step); ``removed``: the copy time per assumption taken
    out of the reference's step (its split's own copies; empty when nothing was taken out);
    ``crossings_s``: the compute times at which the speed-up crosses each threshold.
    """

    spec: str
    a: StrategyCost
    b: StrategyCost
    compute_by: dict[str, float | None]
    compute: ComputeEstimate | None = None  # where compute_by came from, when from the spec
    removed: dict[str, float] = field(default_factory=dict)
    thresholds_pct: tuple[float, ...] = DEFAULT_CLAIM.claimed_range
    crossings_s: dict[str, dict[float, float | None]] = field(default_factory=dict)

    @property
    def claimed_speedup_pct(self) -> float | None:
        """The reference's own measured gain, when it is about this pair: the split its step
        measured is ``b`` (PR #10230: in-place against the whole-batch split it replaced)."""
        compute = self.compute
        if compute is None or compute.includes_copies_of != self.b.strategy:
            return None
        return compute.claimed_speedup_pct

    @property
    def compute_s(self) -> float | None:
        """The one compute time every assumption shares; None when unknown or they differ."""
        values = set(self.compute_by.values())
        return values.pop() if len(values) == 1 else None

    def saved_s(self, assumption: str) -> float:
        return self.b.seconds(assumption) - self.a.seconds(assumption)

    def speedup_pct(self, assumption: str, compute_s: float | None = None) -> float | None:
        """The predicted speed-up of ``a`` at ``compute_s`` (default: the prediction's own
        compute time under ``assumption``)."""
        c = self.compute_by.get(assumption) if compute_s is None else compute_s
        if c is None:
            return None
        return speedup_pct(c, self.a.seconds(assumption), self.b.seconds(assumption))

    def max_speedup_pct(self, assumption: str) -> float | None:
        """The speed-up with no compute at all: the most copying alone can give."""
        return speedup_pct(0.0, self.a.seconds(assumption), self.b.seconds(assumption))


@dataclass(frozen=True)
class SweepPoint:
    compute_s: float
    speedup_pct: dict[str, float | None]  # assumption -> predicted speed-up
    labels: tuple[str, ...] = ()  # why this point is in the sweep beyond the grid


@dataclass(frozen=True)
class WorkloadTransfers:
    """One workload's ``on_gpus`` rows per strategy, from the first ok record that has them."""

    key: CellKey
    rows: dict[str, tuple[Transfer, ...]]

    def has(self, pair: Sequence[str]) -> bool:
        """True when both strategies of ``pair`` have rows."""
        return all(s in self.rows for s in pair)


# -- the model -------------------------------------------------------------------------------


def _device(name: str, spec: HardwareSpec) -> int | None:
    """GPU index of a short device name, or None for the host."""
    found = _DEVICE.search(name)
    if found is None:
        raise LinkCostError(f"{name!r}: not a host (CPU:k) or GPU (GPU:i) device name")
    if found.group(1).upper() == "CPU":
        return None
    index = int(found.group(2))
    if index >= spec.gpus:
        raise LinkCostError(
            f"{name} is beyond {spec.name}'s {spec.gpus} GPUs (GPU:0..GPU:{spec.gpus - 1})"
        )
    return index


def _hops(src: int | None, dst: int | None, spec: HardwareSpec) -> list[dict[str, float]]:
    """The hops of one copy, each the links it crosses with their bandwidths (bytes/s); a hop
    runs at its slowest link. Empty when source and destination are the same place."""
    if src == dst:
        return []
    if src is None or dst is None:
        gpu = dst if src is None else src
        assert gpu is not None
        return [_host_hop(gpu, down=src is None, spec=spec)]
    direct = spec.peer.nvlink_gb_s_between(src, dst)
    if direct is not None:
        return [{f"NVLink GPU:{src}->GPU:{dst}": direct * GB}]
    via, rate = spec.peer.via, (spec.peer.gb_s or 0.0) * GB
    if via == "switch":
        return [{f"NVSwitch port GPU:{src} out": rate, f"NVSwitch port GPU:{dst} in": rate}]
    if via == "chip":
        return [{"on-chip memory copy": rate}]
    if via == "host":
        return [
            _host_hop(src, down=False, spec=spec),
            _host_hop(dst, down=True, spec=spec),
        ]
    # PCIe peer-to-peer: out of one GPU's link, into the other's; through the uplinks only when
    # the two are not behind the same one.
    hop = {
        f"GPU:{src} link out": spec.d2h_gb_s * GB,
        f"GPU:{dst} link in": spec.h2d_gb_s * GB,
    }
    up, down = spec.uplink_of(src), spec.uplink_of(dst)
    if up is None or down is None or up.name != down.name:
        if up is not None:
            hop[f"{up.name} up"] = up.d2h_gb_s * GB
        if down is not None:
            hop[f"{down.name} down"] = down.h2d_gb_s * GB
    if rate:
        hop[f"PCIe P2P GPU:{src}->GPU:{dst}"] = rate
    return [hop]


def _host_hop(gpu: int, *, down: bool, spec: HardwareSpec) -> dict[str, float]:
    uplink = spec.uplink_of(gpu)
    if down:
        hop = {f"GPU:{gpu} link in": spec.h2d_gb_s * GB}
        if uplink is not None:
            hop[f"{uplink.name} down"] = uplink.h2d_gb_s * GB
    else:
        hop = {f"GPU:{gpu} link out": spec.d2h_gb_s * GB}
        if uplink is not None:
            hop[f"{uplink.name} up"] = uplink.d2h_gb_s * GB
    return hop


def _link_class(src: int | None, dst: int | None) -> str:
    if src is None:
        return "host->GPU"
    return "GPU->host" if dst is None else "GPU->GPU"


def strategy_cost(rows: Iterable[Transfer], spec: HardwareSpec, strategy: str = "") -> StrategyCost:
    """A strategy's copy time per step on ``spec``, under both assumptions."""
    parsed = [(row, _device(row.src, spec), _device(row.dst, spec)) for row in rows]
    # Slices that leave a GPU which first received the batch wait for it (the concat split).
    batch_landed = {dst for row, _, dst in parsed if row.role == "batch" and dst is not None}
    by_class = dict.fromkeys(LINK_CLASSES, 0)
    serial = 0.0
    loads: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rates: dict[str, float] = {}
    for row, src, dst in parsed:
        hops = _hops(src, dst, spec)
        if not hops or row.bytes == 0:
            continue
        by_class[_link_class(src, dst)] += row.bytes
        phase = _PHASE_OF_ROLE.get(row.role, "other")
        if row.role == "slices" and src is not None and src in batch_landed:
            phase = "slices"
        for hop in hops:
            serial += row.bytes / min(hop.values())
            for link, rate in hop.items():
                loads[phase][link] += row.bytes
                rates[link] = rate
    phases = []
    for phase in PHASES:
        if phase not in loads:
            continue
        link, seconds = max(
            ((link, load / rates[link]) for link, load in loads[phase].items()),
            key=lambda item: item[1],
        )
        phases.append(PhaseCost(phase, seconds, link))
    return StrategyCost(
        strategy=strategy,
        bytes_by_class=by_class,
        serial_s=serial,
        parallel_s=sum(p.seconds for p in phases),
        phases=tuple(phases),
    )


def speedup_pct(compute_s: float, a_s: float, b_s: float) -> float:
    """A's speed-up over B in %, from their copy times, when a step is compute plus copies (no
    overlap)."""
    if compute_s < 0:
        raise ValueError(f"compute time must be >= 0, got {compute_s}")
    if compute_s + a_s == 0:
        return 0.0
    return ((compute_s + b_s) / (compute_s + a_s) - 1) * 100


def crossing_compute_s(a_s: float, b_s: float, target_pct: float) -> float | None:
    """The compute time per step at which the speed-up equals ``target_pct`` (> 0); below it the
    speed-up is larger. None when no compute time >= 0 gives that much."""
    if target_pct <= 0:
        raise ValueError(f"target must be > 0%, got {target_pct}")
    s = target_pct / 100
    # (c + b) / (c + a) = 1 + s  <=>  c = (b - (1 + s) a) / s
    c = (b_s - (1 + s) * a_s) / s
    if c < 0 or math.isclose(b_s, a_s):
        return None
    return c


def reference_compute(
    spec: HardwareSpec,
    model: str,
    image_size: int,
    batch_per_replica: int,
    replicas: int,
) -> ComputeEstimate | None:
    """The step time a spec's published throughput implies for a workload: the reference for
    this model and image size (the one of the same batch and GPU count first), time per image
    taken as constant across batch sizes; failing that, the same model's reference of the
    nearest image size within :data:`MAX_PIXEL_SCALING` x, time per image scaled by pixels (an
    estimate: convolutions cost in proportion to pixels); None otherwise."""
    candidates = spec.references_for(model, image_size)
    pixels_from = None
    if not candidates:
        same_model = [
            r
            for r in spec.references
            if r.model == model and _near(r.image_size / image_size, MAX_PIXEL_SCALING)
        ]
        if not same_model:
            return None
        nearest = min(same_model, key=lambda r: abs(r.image_size - image_size)).image_size
        candidates = tuple(r for r in same_model if r.image_size == nearest)
        pixels_from = nearest
    reference = min(
        candidates,
        key=lambda r: (r.batch_per_gpu != batch_per_replica, r.gpus != replicas),
    )
    sharing = min(replicas, spec.gpus_per_chip)
    seconds = batch_per_replica * sharing / reference.img_s_per_gpu
    if pixels_from is not None:
        seconds *= (image_size / pixels_from) ** 2
    claimed = None
    exact = reference.batch_per_gpu == batch_per_replica and reference.gpus == replicas
    if reference.after_img_s is not None and exact and pixels_from is None:
        claimed = (reference.after_img_s / reference.img_s - 1) * 100
    return ComputeEstimate(seconds, reference, batch_per_replica, sharing, claimed, pixels_from)


def _near(ratio: float, factor: float) -> bool:
    return 1 / factor <= ratio <= factor


def predict(
    rows_by_strategy: Mapping[str, Sequence[Transfer]],
    spec: HardwareSpec,
    *,
    compute_s: float | None = None,
    compute: ComputeEstimate | None = None,
    pair: tuple[str, str],
    thresholds_pct: Sequence[float] = DEFAULT_CLAIM.claimed_range,
) -> Prediction:
    """``pair[0]`` against ``pair[1]`` on ``spec`` at ``compute_s``, or at the compute term of
    ``compute`` when no ``compute_s`` is given (a ``compute_s`` drops ``compute``).

    The compute term of a reference that measured a split's step (``includes_copies_of``) is
    that step less the split's own predicted copies, under each assumption, when
    ``rows_by_strategy`` has that split's rows; else the whole step (which then overstates
    compute, and the predicted speed-up errs low)."""
    missing = [s for s in pair if s not in rows_by_strategy]
    if missing:
        raise LinkCostError(f"no transfer rows for {' and '.join(missing)}")
    a = strategy_cost(rows_by_strategy[pair[0]], spec, pair[0])
    b = strategy_cost(rows_by_strategy[pair[1]], spec, pair[1])
    if compute_s is not None and compute_s < 0:
        raise LinkCostError(f"compute time must be >= 0, got {compute_s}")
    removed: dict[str, float] = {}
    if compute_s is not None:
        compute = None
        compute_by: dict[str, float | None] = dict.fromkeys(ASSUMPTIONS, compute_s)
    elif compute is not None:
        compute_by, removed = compute_terms(compute, rows_by_strategy, spec)
    else:
        compute_by = dict.fromkeys(ASSUMPTIONS)
    crossings = {
        assumption: {
            t: crossing_compute_s(a.seconds(assumption), b.seconds(assumption), t)
            for t in thresholds_pct
        }
        for assumption in ASSUMPTIONS
    }
    return Prediction(
        spec=spec.name,
        a=a,
        b=b,
        compute_by=compute_by,
        compute=compute,
        removed=removed,
        thresholds_pct=tuple(thresholds_pct),
        crossings_s=crossings,
    )


def compute_terms(
    compute: ComputeEstimate,
    rows_by_strategy: Mapping[str, Sequence[Transfer]],
    spec: HardwareSpec,
) -> tuple[dict[str, float | None], dict[str, float]]:
    """The compute term under each assumption, and the copy time taken out of the step: the
    reference's step less its own split's copies where that split's rows are given (None where
    the copies alone exceed the step), the whole step otherwise."""
    split = compute.includes_copies_of
    if split is None or split not in rows_by_strategy:
        return dict.fromkeys(ASSUMPTIONS, compute.step_s), {}
    cost = strategy_cost(rows_by_strategy[split], spec, split)
    removed = {each: cost.seconds(each) for each in ASSUMPTIONS}
    terms: dict[str, float | None] = {}
    for each, copies in removed.items():
        term = compute.step_s - copies
        terms[each] = term if term > 0 else None
    return terms, removed


def sweep(
    prediction: Prediction, compute_times_s: Sequence[float] | None = None
) -> tuple[SweepPoint, ...]:
    """The predicted speed-up over compute times: ``compute_times_s``, or the default 1-2-5 grid
    with the prediction's own compute time and the threshold crossings added (and labelled)."""
    labels: dict[float, list[str]] = defaultdict(list)
    if compute_times_s is None:
        points = set(DEFAULT_SWEEP_S)
        if prediction.compute_s is not None:
            labels[prediction.compute_s].append("compute used")
        else:
            for assumption, c in prediction.compute_by.items():
                if c is not None:
                    labels[c].append(f"compute used ({assumption})")
        for assumption, crossings in prediction.crossings_s.items():
            for target, c in crossings.items():
                if c is not None:
                    labels[c].append(f"{target:g}% ({assumption})")
        points |= set(labels)
    else:
        points = set(compute_times_s)
    return tuple(
        SweepPoint(
            compute_s=c,
            speedup_pct={a: prediction.speedup_pct(a, c) for a in ASSUMPTIONS},
            labels=tuple(labels.get(c, ())),
        )
        for c in sorted(points)
    )


# -- from records ----------------------------------------------------------------------------


def workload_transfers(records: Iterable[Record]) -> list[WorkloadTransfers]:
    """Each workload's ``on_gpus`` rows per strategy, in order of first appearance.

    The rows are deterministic for a cell, so the first successful isolated record that carries
    an audit stands for its strategy; paired processes trace no placement and carry none.
    """
    found: dict[CellKey, dict[str, tuple[Transfer, ...]]] = {}
    for record in records:
        cell = record.cell
        if not record.ok or cell.paired or record.transfers is None:
            continue
        found.setdefault(CellKey.of(cell), {}).setdefault(cell.strategy, record.transfers.on_gpus)
    return [WorkloadTransfers(key, rows) for key, rows in found.items()]
