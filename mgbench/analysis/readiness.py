"""``mgbench doctor``'s verdicts, as data: each check's status and why, and the comparison of a
step's predicted placement with the placement it ran with. Pure: the probes' data in, checks out.

Placement is compared role by role, not op by op: for each stage of the step (slicing, forward,
merge, loss, backward, gradient aggregation, updates) the set of devices its ops were predicted
to run on against the set they ran on, over the ops that ran under their traced names (Grappler
fuses and folds the rest). Constants and shape ops are left out: TF's placer moves them by its
own heuristics (``mgbench.placement`` rule 4), and they carry no step's work. A wrapper's slicing
must also run where its split cuts the batch (:func:`expected_slice_devices`), so a trace that
predicts the wrong split correctly still fails.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mgbench.execution.probes import NvmlGpu, NvmlSnapshot, TfGpu, TfInspection
from mgbench.placement import METADATA_TYPES, PlacedOp
from mgbench.vocabulary import DeviceMode, Strategy

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
STATUSES = (OK, WARN, FAIL, SKIP)

# The stages compared, in step order (mgbench.placement.ROLES without reads and "other").
COMPARED_ROLES = ("slice", "forward", "merge", "loss", "backward", "grad_aggregate", "update")
# Placed by TF's heuristics rather than by the wrappers: left out of the comparison.
HEURISTIC_TYPES = frozenset({"Const", "HostConst", *METADATA_TYPES})
HEURISTIC_RULES = frozenset({"with_input", "with_consumer"})
XLA_NODE_TYPES = frozenset({"_XlaCompile", "_XlaRun", "XlaLaunch", "_XlaMerge"})
# A mirrored step's own work, found by op type (its ops have no mgbench roles).
UPDATE_TYPE_RE = re.compile(r"^(AssignSubVariableOp|ResourceApply\w+)$")
COMPUTE_TYPE_RE = re.compile(r"Conv2D|MatMul")
MOVED_EXAMPLES = 3


@dataclass(frozen=True)
class ObservedOp:
    """One node of the executed (partitioned) graph: its name in the traced step, type, device."""

    name: str
    type: str
    device: str


@dataclass(frozen=True)
class RoleComparison:
    role: str
    predicted_devices: tuple[str, ...]
    observed_devices: tuple[str, ...]
    predicted_ops: int  # comparable ops the prediction has in this role
    matched_ops: int  # of those, ops that ran under their traced name
    moved: tuple[str, ...] = ()  # a few ops that ran off their predicted device

    @property
    def agrees(self) -> bool:
        return self.matched_ops > 0 and self.predicted_devices == self.observed_devices


@dataclass(frozen=True)
class PlacementComparison:
    roles: tuple[RoleComparison, ...]
    executed_ops: int  # nodes of the executed graph (partitioning's own left out)
    matched_ops: int  # comparable predicted ops found among them by name
    heuristic_ops: int  # constants and shape ops left to TF's placer, not compared

    @property
    def agrees(self) -> bool:
        return all(role.agrees for role in self.roles)

    def role(self, name: str) -> RoleComparison:
        return next(r for r in self.roles if r.role == name)


def _comparable(op: PlacedOp) -> bool:
    return op.type not in HEURISTIC_TYPES and op.placed_by not in HEURISTIC_RULES


def compare_placement(
    predicted: Iterable[PlacedOp],
    observed: Iterable[ObservedOp],
    roles: Sequence[str] = COMPARED_ROLES,
) -> PlacementComparison:
    """Per role, the devices its ops were predicted on against those they ran on; a role with
    no predicted op is left out, one whose ops all vanished (fused, folded) does not agree."""
    executed: dict[str, list[ObservedOp]] = defaultdict(list)
    observed_count = 0
    for node in observed:
        executed[node.name].append(node)
        observed_count += 1
    predicted_list = list(predicted)
    comparable = [op for op in predicted_list if op.role in roles and _comparable(op)]
    heuristic = sum(1 for op in predicted_list if op.role in roles and not _comparable(op))
    by_role: dict[str, list[PlacedOp]] = defaultdict(list)
    for op in comparable:
        by_role[op.role].append(op)
    comparisons = []
    matched_total = 0
    for role in roles:
        ops = by_role.get(role, [])
        if not ops:
            continue
        predicted_devices: set[str] = set()
        observed_devices: set[str] = set()
        moved: list[str] = []
        matched = 0
        for op in ops:
            nodes = [n for n in executed.get(op.name, ()) if n.type not in HEURISTIC_TYPES]
            if not nodes:
                continue
            matched += 1
            predicted_devices.add(op.device)
            for node in nodes:
                observed_devices.add(node.device)
                if node.device != op.device and len(moved) < MOVED_EXAMPLES:
                    moved.append(
                        f"{op.name} ({op.type}): predicted {op.device}, ran on {node.device}"
                    )
        matched_total += matched
        comparisons.append(
            RoleComparison(
                role=role,
                predicted_devices=tuple(sorted(predicted_devices)),
                observed_devices=tuple(sorted(observed_devices)),
                predicted_ops=len(ops),
                matched_ops=matched,
                moved=tuple(moved),
            )
        )
    return PlacementComparison(
        roles=tuple(comparisons),
        executed_ops=observed_count,
        matched_ops=matched_total,
        heuristic_ops=heuristic,
    )


@dataclass(frozen=True)
class MirroredObservation:
    """Where a MirroredStrategy step's variable updates and heavy compute ran (no prediction:
    its placement is tf.distribute's); both should be exactly the replicas."""

    replica_devices: tuple[str, ...]
    update_devices: tuple[str, ...]
    compute_devices: tuple[str, ...]

    @property
    def agrees(self) -> bool:
        replicas = tuple(sorted(self.replica_devices))
        return self.update_devices == replicas and self.compute_devices == replicas


def observe_mirrored(
    observed: Iterable[ObservedOp], replica_devices: Sequence[str]
) -> MirroredObservation:
    nodes = list(observed)
    return MirroredObservation(
        replica_devices=tuple(replica_devices),
        update_devices=tuple(sorted({n.device for n in nodes if UPDATE_TYPE_RE.match(n.type)})),
        compute_devices=tuple(sorted({n.device for n in nodes if COMPUTE_TYPE_RE.search(n.type)})),
    )


# -- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of the doctor's verdict: ``ok``, ``warn`` (works, with a caveat), ``fail`` or
    ``skip`` (cannot apply on this machine: ``summary`` says why); details below it."""

    name: str
    status: str
    summary: str
    details: tuple[str, ...] = ()
    placement: PlacementComparison | None = None
    mirrored: MirroredObservation | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.name!r}: status must be one of {STATUSES}")


def exit_code(checks: Iterable[Check]) -> int:
    """0 when every check that could run passed (warnings and skips included), 1 on a failure."""
    return 1 if any(check.status == FAIL for check in checks) else 0


MIB = 2**20


def _mib(value: int) -> str:
    return f"{value / MIB:,.0f} MiB"


def tensorflow_checks(tf: TfInspection, *, nvml_gpus: int) -> list[Check]:
    """The build, the GPUs TF sees and its allocator statistics; ``nvml_gpus`` is how many GPUs
    the driver reports (0 without NVML), so a TF that misses them fails."""
    build = f"TensorFlow {tf.version}; built with CUDA {tf.cuda_build or '-'}, cuDNN " + (
        tf.cudnn_build or "-"
    )
    checks = []
    if nvml_gpus and not tf.built_with_cuda:
        checks.append(
            Check(
                "TensorFlow build",
                FAIL,
                f"{build}: this TensorFlow has no CUDA, but the driver reports {nvml_gpus} GPU(s)",
                ("install the GPU build: pip install -e '.[gpu]'",),
            )
        )
    else:
        checks.append(Check("TensorFlow build", OK, build))
    gpus = tf.physical_gpus
    if not gpus:
        if nvml_gpus:
            checks.append(
                Check(
                    "GPUs (TensorFlow)",
                    FAIL,
                    f"the driver reports {nvml_gpus} GPU(s) but TensorFlow sees none",
                    (
                        "its CUDA libraries are missing or do not match the driver "
                        "(pip install -e '.[gpu]'; run with --verbose to see TF's log)",
                    ),
                )
            )
        else:
            checks.append(
                Check(
                    "GPUs (TensorFlow)",
                    SKIP,
                    f"no GPU visible to TensorFlow ({tf.cpu_devices} CPU device(s)): runs "
                    "simulate replicas as logical CPUs",
                )
            )
        checks.append(
            Check(
                "TF allocator statistics (get_memory_info)",
                SKIP,
                "no GPU: TF allocator statistics exist only for GPUs",
            )
        )
        return checks
    checks.append(
        Check(
            "GPUs (TensorFlow)",
            OK,
            f"{len(gpus)} physical, {len(tf.logical_gpus)} logical",
            tuple(_gpu_line(gpu) for gpu in gpus),
        )
    )
    checks.append(_memory_check(tf))
    return checks


def _gpu_line(gpu: TfGpu) -> str:
    capability = f" (compute {gpu.compute_capability})" if gpu.compute_capability else ""
    return f"{gpu.device}: {gpu.model or '?'}{capability}"


def _memory_check(tf: TfInspection) -> Check:
    name = "TF allocator statistics (get_memory_info)"
    bad = []
    lines = []
    for probe in tf.memory:
        if probe.peak_bytes is None:
            bad.append(probe.device)
            lines.append(f"{probe.device}: {probe.error}")
            continue
        lines.append(
            f"{probe.device}: peak {_mib(probe.peak_bytes)} after a {_mib(probe.expected_bytes)} "
            "allocation"
        )
        if probe.peak_bytes < probe.expected_bytes:
            bad.append(probe.device)
    if not tf.memory:
        return Check(name, FAIL, "no logical GPU answered", ())
    if bad:
        return Check(
            name,
            FAIL,
            f"the peak misses a known allocation on {', '.join(bad)}: TF peaks would be wrong",
            tuple(lines),
        )
    return Check(
        name, OK, f"peaks show a known allocation on {len(tf.memory)} GPU(s)", tuple(lines)
    )


def nvml_checks(
    snapshot: NvmlSnapshot | None, reason: str | None, tf_gpus: Sequence[TfGpu]
) -> list[Check]:
    """The driver and GPUs NVML reports, the TF GPU -> NVML index mapping (by UUID) and whether
    NVML lists this process."""
    if snapshot is None:
        why = reason or "NVML unavailable"
        return [
            Check("NVML", SKIP, why),
            Check("TF GPU -> NVML index", SKIP, "no NVML"),
            Check("NVML sees this process", SKIP, "no NVML"),
        ]
    gpu_lines = tuple(
        f"NVML {g.index}: {g.name}, {_mib(g.memory_used_bytes)} / {_mib(g.memory_total_bytes)} "
        f"used, {g.uuid}"
        for g in snapshot.gpus
    )
    checks = [
        Check("NVML", OK, f"driver {snapshot.driver}, {len(snapshot.gpus)} GPU(s)", gpu_lines)
    ]
    if not tf_gpus:
        checks.append(Check("TF GPU -> NVML index", SKIP, "TensorFlow sees no GPU to map"))
        checks.append(Check("NVML sees this process", SKIP, "this process has no GPU context"))
        return checks
    mapping = _mapping_check(snapshot, tf_gpus)
    checks.append(mapping)
    if mapping.status == FAIL or snapshot.visible_indices is None:
        checks.append(Check("NVML sees this process", SKIP, "the TF GPU -> NVML mapping failed"))
    else:
        checks.append(_process_check(snapshot, snapshot.visible_indices[: len(tf_gpus)]))
    return checks


def _same_chip(tf_model: str | None, nvml_name: str) -> bool:
    """The names agree, or one holds the other (a MIG slice: "NVIDIA A100 ... MIG 1g.10gb")."""
    if not tf_model:
        return True  # TF did not say: nothing to contradict
    tf_name, nvml = tf_model.strip().lower(), nvml_name.strip().lower()
    return tf_name in nvml or nvml in tf_name


def _mapping_check(snapshot: NvmlSnapshot, tf_gpus: Sequence[TfGpu]) -> Check:
    name = "TF GPU -> NVML index"
    visible = snapshot.cuda_visible_devices
    context = f"CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else "all GPUs visible"
    if snapshot.visible_indices is None:
        return Check(name, FAIL, f"{context}: {snapshot.mapping_error}")
    indices = snapshot.visible_indices
    if len(indices) != len(tf_gpus):
        return Check(
            name,
            FAIL,
            f"{context} makes {len(indices)} GPU(s) visible, but TensorFlow sees {len(tf_gpus)}",
        )
    by_index = {g.index: g for g in snapshot.gpus}
    lines, wrong = [], []
    for gpu, index in zip(tf_gpus, indices, strict=True):
        nvml_gpu = by_index[index]
        lines.append(f"{gpu.device} -> NVML {index} ({nvml_gpu.name}, {nvml_gpu.uuid})")
        if not _same_chip(gpu.model, nvml_gpu.name):
            wrong.append(f"{gpu.device} is a {gpu.model!r} but NVML {index} a {nvml_gpu.name!r}")
    order = snapshot.cuda_device_order
    if wrong:
        return Check(
            name,
            FAIL,
            "; ".join(wrong),
            (*lines, f"CUDA_DEVICE_ORDER={order!r}: mgbench needs PCI_BUS_ID"),
        )
    if order not in (None, "PCI_BUS_ID"):
        return Check(
            name,
            WARN,
            f"CUDA_DEVICE_ORDER={order!r}: CUDA may number GPUs unlike NVML; mgbench's runs "
            "set PCI_BUS_ID",
            tuple(lines),
        )
    return Check(name, OK, f"{context}: matched by UUID", tuple(lines))


def _process_line(gpu: NvmlGpu, pid: int) -> str:
    if gpu.process_bytes is not None:
        return f"NVML {gpu.index}: {_mib(gpu.process_bytes)} for pid {pid}"
    if gpu.process_listed:
        return f"NVML {gpu.index}: pid {pid} listed without a memory figure"
    return f"NVML {gpu.index}: pid {pid} not listed ({gpu.other_processes} other process(es))"


def _process_check(snapshot: NvmlSnapshot, indices: Sequence[int]) -> Check:
    name = "NVML sees this process"
    gpus = [next(g for g in snapshot.gpus if g.index == i) for i in indices]
    lines = tuple(_process_line(gpu, snapshot.pid) for gpu in gpus)
    hidden = [gpu for gpu in gpus if not gpu.process_listed]
    unfigured = [gpu for gpu in gpus if gpu.process_listed and gpu.process_bytes is None]
    if hidden:
        where = ", ".join(str(gpu.index) for gpu in hidden)
        why = (
            "it lists other processes, so a container's PID namespace hides this one"
            if any(gpu.other_processes for gpu in hidden)
            else "it lists no process there (a container's PID namespace, or no context yet)"
        )
        return Check(
            name,
            WARN,
            f"NVML does not list pid {snapshot.pid} on NVML {where}: {why}; per-process GPU "
            "memory is recorded as null with that reason (device-wide figures still work)",
            lines,
        )
    if unfigured:
        where = ", ".join(str(gpu.index) for gpu in unfigured)
        return Check(
            name,
            WARN,
            f"NVML lists pid {snapshot.pid} on NVML {where} without a memory figure (no "
            "permission, or MIG): per-process GPU memory is recorded as null",
            lines,
        )
    return Check(name, OK, f"pid {snapshot.pid} listed on {len(indices)} GPU(s)", lines)


def _tail_lines(error_tail: str, lines: int = 8) -> tuple[str, ...]:
    return tuple(error_tail.splitlines()[-lines:])


def virtual_gpu_check(
    payload: Mapping[str, Any] | None, error: str | None, error_tail: str = ""
) -> Check:
    """What the child that split the first GPU found (``payload``), or why it failed."""
    name = "virtual GPUs (child process)"
    if payload is None:
        return Check(name, FAIL, error or "the child wrote no result", _tail_lines(error_tail))
    asked = int(payload["asked"])
    logical = list(payload["logical_gpus"])
    limits = list(payload["memory_limits_mb"])
    ran_on = list(payload["ran_on"])
    details = (
        f"logical GPUs: {', '.join(logical)}; limits {limits} MiB; a tensor ran on "
        f"{', '.join(ran_on)}",
        f"a split after TF started: {payload['late_split_refused'] or 'NOT refused'}",
    )
    expected = [f"GPU:{i}" for i in range(asked)]
    problems = []
    if logical != expected:
        problems.append(f"logical GPUs {logical}, expected {expected}")
    if limits != [payload["memory_mb"]] * asked:
        problems.append(f"memory limits {limits} MiB, expected {payload['memory_mb']} each")
    if ran_on != expected:
        problems.append(f"tensors ran on {ran_on}, expected {expected}")
    if not payload["late_split_refused"]:
        problems.append("a split after TensorFlow started was not refused")
    if problems:
        return Check(name, FAIL, "; ".join(problems), details)
    return Check(
        name, OK, f"first GPU split in {asked} x {payload['memory_mb']} MiB, each usable", details
    )


def _observed(nodes: Iterable[Sequence[str]]) -> list[ObservedOp]:
    return [ObservedOp(str(name), str(kind), str(device)) for name, kind, device in nodes]


def _predicted(rows: Iterable[Sequence[str]]) -> list[PlacedOp]:
    return [PlacedOp(*map(str, row)) for row in rows]


def expected_slice_devices(
    strategy: str, *, host: str, default_device: str, replica_devices: Sequence[str]
) -> tuple[str, ...] | None:
    """Where a wrapper's split must cut the batch, whatever its trace predicted: the in-place
    split on the host (where the batch lives), the whole-batch split on every replica, the concat
    split on the default device; None for a strategy that does not split a batch."""
    by_split: dict[str, tuple[str, ...]] = {
        Strategy.INPLACE: (host,),
        Strategy.WHOLEBATCH: tuple(replica_devices),
        Strategy.CONCAT: (default_device,),
    }
    expected = by_split.get(strategy)
    return tuple(sorted(set(expected))) if expected is not None else None


MODE_LABELS = {
    DeviceMode.CPU_SIMULATION: "simulated CPU replicas",
    DeviceMode.VIRTUAL_GPU: "virtual GPUs on one chip",
    DeviceMode.GPU: "GPUs",
}


def _placement_check(
    name: str,
    where: str,
    result: Mapping[str, Any],
    observed: list[ObservedOp],
    payload: Mapping[str, Any],
) -> Check:
    """A traced strategy's check: every role where predicted, and a split's slicing where that
    split cuts the batch (a prediction that agrees with a wrong split still fails)."""
    comparison = compare_placement(_predicted(result["predicted"]), observed)
    differing = [r.role for r in comparison.roles if not r.agrees]
    verdict = (
        f"every role as predicted ({len(comparison.roles)} roles)"
        if not differing
        else f"roles off their predicted devices: {', '.join(differing)}"
    )
    expected = expected_slice_devices(
        result["strategy"],
        host=payload["host"],
        default_device=payload["default_device"],
        replica_devices=result["replica_devices"],
    )
    sliced = next((r.observed_devices for r in comparison.roles if r.role == "slice"), ())
    wrong_split = expected is not None and sliced != expected
    if wrong_split:
        verdict += (
            f"; slicing ran on {', '.join(sliced) or 'no device'}, but the {result['strategy']} "
            f"split cuts the batch on {', '.join(expected or ())}"
        )
    return Check(
        name,
        OK if comparison.agrees and not wrong_split else FAIL,
        f"{where}; {verdict}; {comparison.matched_ops} ops ran under their traced "
        f"names, {comparison.heuristic_ops} constants/shape ops left to TF's placer",
        tuple(m for r in comparison.roles for m in r.moved),
        placement=comparison,
    )


def placement_checks(
    payload: Mapping[str, Any] | None, error: str | None, error_tail: str = ""
) -> list[Check]:
    """Per strategy: its one step's predicted placement against the one it ran with (mirrored:
    where it ran only); then XLA off everywhere."""
    if payload is None:
        return [
            Check(
                "placement (child process)",
                FAIL,
                error or "the child wrote no result",
                _tail_lines(error_tail),
            )
        ]
    mode = MODE_LABELS.get(payload["mode"], payload["mode"])
    checks = []
    jit_on, xla_nodes = [], 0
    for result in payload["strategies"]:
        strategy = result["strategy"]
        name = f"placement: {strategy}"
        if result.get("error"):
            tail = _tail_lines(result.get("error_tail", ""), lines=5)
            checks.append(Check(name, FAIL, f"one step failed: {result['error']}", tail))
            continue
        observed = _observed(result["observed"])
        replicas = tuple(result["replica_devices"])
        where = f"{len(replicas)} replica(s) {', '.join(replicas)} ({mode})"
        if result["jit_compile"]:
            jit_on.append(strategy)
        xla_nodes += sum(1 for node in observed if node.type in XLA_NODE_TYPES)
        if result.get("predicted") is None:
            mirrored = observe_mirrored(observed, replicas)
            status = OK if mirrored.agrees else FAIL
            checks.append(
                Check(
                    name,
                    status,
                    f"{where}; observed only ({result.get('predicted_reason')}): updates on "
                    f"{', '.join(mirrored.update_devices) or '-'}, compute on "
                    f"{', '.join(mirrored.compute_devices) or '-'}",
                    mirrored=mirrored,
                )
            )
            continue
        checks.append(_placement_check(name, where, result, observed, payload))
    auto_jit = payload.get("auto_jit") or ""
    problems = []
    if jit_on:
        problems.append(f"jit_compile on for {', '.join(jit_on)}")
    if auto_jit:
        problems.append(f"XLA auto-clustering is {auto_jit!r} (TF_XLA_FLAGS?)")
    if xla_nodes:
        problems.append(f"{xla_nodes} XLA cluster node(s) ran")
    checks.append(
        Check(
            "XLA off",
            FAIL if problems else OK,
            "; ".join(problems) or "jit_compile False, no auto-clustering, no XLA node ran",
        )
    )
    return checks
