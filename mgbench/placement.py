"""What runs where: read device placement op by op from a traced training step.

Two layers: :func:`trace_train_step` (TensorFlow) turns a model's traced ``train_step`` into plain
:class:`OpInfo` records, and :func:`analyse` (pure) resolves each op's device the way TF's placer
does and gives it a role. The rules, in order:

1. an op that reads or writes a resource variable runs on the variable's device (except the ops
   that only forward a handle: functional control flow, function calls, ``IdentityN``);
2. an op with a requested device (``tf.device``) runs there;
3. an op colocated with another op (``tf.gradients`` does this) runs where that op runs;
4. the placer's two heuristics for what is left: a metadata op (``Shape``, ``ShapeN``, ``Size``,
   ``Rank``) runs with its input, and a generator (no inputs, one output: a ``Const``) runs with
   its consumers when they all run on one device;
5. anything else is *unplaced* and lands on the default device (GPU:0 when a GPU exists).

Ops inside nested function bodies (a ``While`` loop's body) count as their calling op.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from mgbench import devices
from mgbench.devices import short_name
from mgbench.wrappers.scopes import MERGE_SCOPE, SPLIT_SCOPE, replica_index

_RESOURCE_WRITE_RE = re.compile(
    r"^(Assign(Add|Sub)?VariableOp|ResourceApply\w+|ResourceScatter\w+)$"
)
# Keras 3 computes the loss under "compile_loss", Keras 2 under "loss" (uniquified in a shared
# graph: "loss_1").
_LOSS_SCOPE_RE = re.compile(r"^(compile_loss|loss)(?:_\d+)?$")
_AGGREGATE_TYPES = frozenset({"AddN", "AccumulateNV2", "AddV2"})
# tf.gradients names its ops ".../gradients/...", tf.GradientTape "gradient_tape/...".
_BACKWARD_SCOPES = frozenset({"gradients", "gradient_tape"})

ROLES = (
    "slice",
    "forward",
    "merge",
    "loss",
    "backward",
    "grad_aggregate",
    "update",
    "variable_read",
    "other",
)


# Ops TF exempts from running beside the resources they take (its input-colocation exemption
# registry): function calls and functional control flow forward handles into bodies placed on
# their own, and IdentityN only passes them on.
RESOURCE_FORWARDING_TYPES = frozenset(
    {
        "If",
        "StatelessIf",
        "While",
        "StatelessWhile",
        "Case",
        "StatelessCase",
        "PartitionedCall",
        "StatefulPartitionedCall",
        "IdentityN",
    }
)
# Ops whose output describes their input's shape: TF's placer runs them beside that input, and
# the edge into them carries no tensor data.
METADATA_TYPES = frozenset({"Shape", "ShapeN", "Size", "Rank"})


@dataclass(frozen=True)
class TensorInfo:
    """One op output: its static shape (None where unknown) and the bytes per element
    (0 for handles: resources and variants carry no tensor data)."""

    shape: tuple[int | None, ...] | None  # None: even the rank is unknown
    dtype: str
    itemsize: int


@dataclass(frozen=True)
class OpInfo:
    """One graph op as TensorFlow described it, before any placement is resolved."""

    name: str
    type: str
    requested_device: str = ""
    colocated_with: str | None = None
    inputs: tuple[str, ...] = ()
    captured_device: str | None = None  # set for placeholders holding a captured resource
    input_indices: tuple[int, ...] = ()  # which output of each input op; () means all 0
    outputs: tuple[TensorInfo, ...] = ()

    def input_edges(self) -> list[tuple[str, int]]:
        """(producer op, output index) of every data input."""
        indices = self.input_indices or (0,) * len(self.inputs)
        return list(zip(self.inputs, indices, strict=True))

    @property
    def is_generator(self) -> bool:
        return not self.inputs and len(self.outputs) == 1


@dataclass(frozen=True)
class PlacedOp:
    name: str
    type: str
    role: str
    device: str
    placed_by: str  # the rule that chose the device: see resolve_devices


@dataclass(frozen=True)
class PlacementReport:
    ops: tuple[PlacedOp, ...]
    replica_devices: tuple[str, ...]
    default_device: str
    variable_devices: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, dict[str, int]]:
        """device -> role -> number of ops."""
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for op in self.ops:
            table[op.device][op.role] += 1
        return {device: dict(roles) for device, roles in sorted(table.items())}

    def devices_for(self, role: str) -> list[str]:
        return sorted({op.device for op in self.ops if op.role == role})

    def ops_for(self, role: str) -> list[PlacedOp]:
        return [op for op in self.ops if op.role == role]

    def replica_of(self, op: PlacedOp) -> int | None:
        return replica_index(op.name)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready digest that every benchmark record carries."""
        unplaced = Counter(op.role for op in self.ops if op.placed_by == "default")
        return {
            "replica_devices": list(self.replica_devices),
            "default_device": self.default_device,
            "variable_devices": list(self.variable_devices),
            "ops_per_device": self.counts(),
            "slice_devices": self.devices_for("slice"),
            "merge_devices": self.devices_for("merge"),
            "grad_aggregate_devices": self.devices_for("grad_aggregate"),
            "update_devices": self.devices_for("update"),
            "unplaced_ops": dict(sorted(unplaced.items())),
        }


def op_role(op: OpInfo, writable: set[str], model_scope: str | None) -> str:
    """The stage of the training step an op belongs to (one of :data:`ROLES`)."""
    parts = op.name.split("/")
    if op.type == "ReadVariableOp":
        return "variable_read"
    if _RESOURCE_WRITE_RE.match(op.type):
        return "update" if any(i in writable for i in op.inputs) else "other"
    if _BACKWARD_SCOPES.intersection(parts):
        if op.type in _AGGREGATE_TYPES:
            sources = {replica_index(i) for i in op.inputs} - {None}
            if len(sources) > 1:
                return "grad_aggregate"
        return "backward"
    if any(part.startswith(SPLIT_SCOPE) for part in parts):
        return "slice"
    if any(part.startswith(MERGE_SCOPE) for part in parts):
        return "merge"
    if replica_index(op.name) is not None:
        return "forward"
    if _LOSS_SCOPE_RE.match(parts[0]):
        return "loss"
    if model_scope and re.fullmatch(model_scope, parts[0]):
        return "forward"  # an unwrapped model: its own ops are its forward pass
    return "other"


def resolve_devices(ops: Iterable[OpInfo], default_device: str) -> dict[str, tuple[str, str]]:
    """Every op's device (short name) and the rule that chose it: ``resource``, ``requested``,
    ``colocated``, ``with_input`` (a metadata op), ``with_consumer`` (a generator) or
    ``default``. Pure, so it is tested on synthetic graphs."""
    op_list = list(ops)
    by_name = {op.name: op for op in op_list}
    default = short_name(default_device)
    resolved: dict[str, tuple[str, str]] = {}

    def resolve(name: str, seen: frozenset[str] = frozenset()) -> tuple[str, str]:
        if name in resolved:
            return resolved[name]
        op = by_name.get(name)
        if op is None or name in seen:
            return default, "default"
        seen = seen | {name}
        resource_devices = [
            device for i in op.inputs if i in by_name and (device := by_name[i].captured_device)
        ]
        if op.captured_device:
            result = short_name(op.captured_device), "resource"
        elif resource_devices and op.type not in ("Placeholder", *RESOURCE_FORWARDING_TYPES):
            result = short_name(resource_devices[0]), "resource"
        elif op.requested_device:
            result = short_name(op.requested_device), "requested"
        elif op.colocated_with and op.colocated_with != name:
            result = resolve(op.colocated_with, seen)[0], "colocated"
        elif op.type in METADATA_TYPES and op.inputs:
            result = resolve(op.inputs[0], seen)[0], "with_input"
        else:
            result = default, "default"
        resolved[name] = result
        return result

    generators = [op for op in op_list if op.is_generator and not _constrained(op)]
    generator_names = {op.name for op in generators}
    for op in op_list:
        if op.name not in generator_names:
            resolve(op.name)
    consumers: dict[str, set[str]] = defaultdict(set)
    for op in op_list:
        for producer in op.inputs:
            if op.name in resolved:
                consumers[producer].add(resolved[op.name][0])
    for op in generators:
        where = consumers.get(op.name, set())
        resolved[op.name] = (
            (next(iter(where)), "with_consumer") if len(where) == 1 else (default, "default")
        )
    return resolved


def _constrained(op: OpInfo) -> bool:
    return bool(op.captured_device or op.requested_device or op.colocated_with)


def analyse(
    ops: Iterable[OpInfo],
    *,
    replica_devices: Iterable[str],
    default_device: str,
    writable_captures: Iterable[str] = (),
    variable_devices: Iterable[str] = (),
    model_scope: str | None = None,
) -> PlacementReport:
    """Resolve every op's device and role; pure, so it is tested on synthetic graphs.

    ``model_scope``: a regex for the first name-scope component of an unwrapped model's forward
    ops (a wrapper's forward ops are found by their ``replica_N`` scopes instead).
    """
    op_list = list(ops)
    writable = set(writable_captures)
    resolved = resolve_devices(op_list, default_device)
    placed = []
    for op in op_list:
        if op.type in ("Placeholder", "NoOp"):
            continue
        device, how = resolved[op.name]
        placed.append(PlacedOp(op.name, op.type, op_role(op, writable, model_scope), device, how))
    return PlacementReport(
        ops=tuple(placed),
        replica_devices=tuple(short_name(d) for d in replica_devices),
        default_device=short_name(default_device),
        variable_devices=tuple(sorted({short_name(d) for d in variable_devices})),
    )


def format_placement(report: PlacementReport, title: str | None = None) -> str:
    """A plain-text table: op counts per device and role, then where each stage runs."""
    counts = report.counts()
    shown_roles = [r for r in ROLES if any(r in c for c in counts.values())]
    rows = []
    for device, roles in counts.items():
        label = device
        if device in report.replica_devices:
            label += f" (replica {report.replica_devices.index(device)})"
        if device == report.default_device:
            label += " [default]"
        rows.append([label, *[roles.get(r, 0) for r in shown_roles]])
    table = tabulate(rows, headers=["device", *shown_roles], tablefmt="github")
    summary = report.summary()
    lines = [title] if title else []
    lines.append(table)
    lines.append("")
    for stage, key in (
        ("input slicing", "slice_devices"),
        ("output merge", "merge_devices"),
        ("gradient aggregation", "grad_aggregate_devices"),
        ("variable updates", "update_devices"),
    ):
        lines.append(f"{stage:22s}: {', '.join(summary[key]) or '-'}")
    lines.append(f"{'weights live on':22s}: {', '.join(report.variable_devices) or '-'}")
    unplaced = summary["unplaced_ops"]
    if unplaced:
        detail = ", ".join(f"{role} {n}" for role, n in unplaced.items())
        lines.append(f"{'unplaced (-> default)':22s}: {detail}")
    return "\n".join(lines)


# -- TensorFlow side ---------------------------------------------------------------------------


def graph_ops(graph: Any) -> list[OpInfo]:
    """Plain records of a FuncGraph's ops, with captured resource handles' devices attached."""
    captured = {}
    for external, internal in graph.captures:
        device = getattr(external, "device", "")
        if device and external.dtype.name == "resource":
            captured[internal.op.name] = device
    return [op_info(op, captured_device=captured.get(op.name)) for op in graph.get_operations()]


def tensor_info(tensor: Any) -> TensorInfo:
    """Static shape and element size of a TF tensor (0 bytes for resource and variant handles)."""
    dtype = tensor.dtype
    itemsize = 0 if dtype.name in ("resource", "variant", "string") else int(dtype.size)
    shape = tensor.shape
    dims = None if shape.rank is None else tuple(shape.as_list())
    return TensorInfo(shape=dims, dtype=dtype.name, itemsize=itemsize)


def op_info(op: Any, *, captured_device: str | None = None, as_type: str | None = None) -> OpInfo:
    """A plain record of one TF graph op (eager ``FuncGraph`` or TF1 graph alike).

    ``as_type`` overrides the op's own type (a TF1 variable op stands in for a captured handle).
    """
    groups = [g.decode() for g in op.colocation_groups()]
    target = groups[0].removeprefix("loc:@") if groups else None
    return OpInfo(
        name=op.name,
        type=as_type or op.type,
        requested_device=op.device,
        colocated_with=None if target == op.name else target,
        inputs=tuple(t.op.name for t in op.inputs),
        captured_device=captured_device,
        input_indices=tuple(t.value_index for t in op.inputs),
        outputs=tuple(tensor_info(t) for t in op.outputs),
    )


@dataclass(frozen=True)
class TracedStep:
    """A traced training step as plain data: its ops and what the placer and the audits need to
    know about them. :meth:`placement` resolves it; ``mgbench.transfers`` counts its bytes."""

    ops: tuple[OpInfo, ...]
    replica_devices: tuple[str, ...]
    default_device: str
    writable_captures: tuple[str, ...] = ()
    variable_devices: tuple[str, ...] = ()
    model_scope: str | None = None
    batch_inputs: tuple[str, ...] = ()  # placeholders the batch's features arrive in
    label_inputs: tuple[str, ...] = ()  # placeholders for labels (and sample weights)

    def placement(self, default_device: str | None = None) -> PlacementReport:
        return analyse(
            self.ops,
            replica_devices=self.replica_devices,
            default_device=default_device or self.default_device,
            writable_captures=self.writable_captures,
            variable_devices=self.variable_devices,
            model_scope=self.model_scope,
        )


def watch_train_step(model: Any) -> None:
    """Keep the graph and batch of the next trace of ``model.train_step``, so the step ``fit``
    traces anyway can be audited afterwards (:func:`fitted_step`) instead of tracing it twice.

    Keras binds ``model.train_step`` when it first makes its train function, so call this before
    ``fit``. Tracing runs the wrapper once; executing the traced step does not run it at all.
    """
    from mgbench.platform import lazy

    if getattr(model.train_step, "mgbench_watch", None) is not None:
        return
    tf = lazy.tensorflow()
    original = model.train_step
    seen: dict[str, Any] = {}

    def train_step(data: Any) -> Any:
        if not tf.executing_eagerly():
            seen["graph"], seen["data"] = tf.compat.v1.get_default_graph(), data
        return original(data)

    train_step.mgbench_watch = seen  # type: ignore[attr-defined]
    model.train_step = train_step


def fitted_step(model: Any) -> TracedStep | None:
    """The step :func:`watch_train_step` saw traced, as plain ops; None if none was traced."""
    seen = getattr(model.train_step, "mgbench_watch", None) or {}
    if "graph" not in seen:
        return None
    return _traced_step(model, seen["graph"], seen["data"])


def trace_step(model: Any, x: Any, y: Any = None) -> TracedStep:
    """Trace ``model.train_step`` on one batch's shapes (nothing runs) into plain ops."""
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    data = tf.nest.map_structure(tf.convert_to_tensor, (x, y) if y is not None else (x,))
    model._symbolic_build(data_batch=data)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    watch_train_step(model)
    tf.function(model.train_step).get_concrete_function(data)
    traced = fitted_step(model)
    assert traced is not None  # the trace just ran the watcher
    return traced


def _traced_step(model: Any, graph: Any, data: Any) -> TracedStep:
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    keras = lazy.keras()
    metric_handles = {id(v.value.handle) for v in model.metrics_variables}
    writable = [
        internal.op.name
        for external, internal in graph.captures
        if external.dtype.name == "resource" and id(external) not in metric_handles
    ]
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    default = devices.default_device()
    replicas = getattr(model, "replica_devices", None)
    return TracedStep(
        ops=tuple(graph_ops(graph)),
        replica_devices=tuple(replicas or (default,)),
        default_device=default,
        writable_captures=tuple(writable),
        variable_devices=tuple(v.value.device for v in model.trainable_variables),
        # Keras 3 runs an unwrapped model's ops under its (uniquified) name scope.
        model_scope=None if replicas else rf"{re.escape(model.name)}(_\d+)?",
        batch_inputs=tuple(t.op.name for t in tf.nest.flatten(x)),
        label_inputs=tuple(t.op.name for t in tf.nest.flatten((y, sample_weight)) if t is not None),
    )


def trace_train_step(model: Any, x: Any, y: Any = None) -> PlacementReport:
    """Trace ``model.train_step`` on one batch (nothing runs) and report its placement."""
    return trace_step(model, x, y).placement()
