"""The transfer audit: the bytes a traced training step sends between devices, per link and role.

Pure accounting over a :class:`~mgbench.placement.TracedStep`: every op is placed with the placer's
rules (``placement.resolve_devices``), and every tensor whose consumers run on another device
counts once per destination device (TF sends a tensor to a device once, however many ops there
read it). Edges into metadata ops (``Shape``, ``Size``, ...) and handles (resources, variants)
move no data. Sizes are static shape x element size; an unknown batch dimension is resolved
from the cell (a replica's share inside its replica, the whole batch elsewhere).

The batch enters on the input device (the host, where a tf.data iterator lives, unless it is
prefetched onto the first replica). Each step is resolved twice:

* ``as_run``: on this process's devices, with its default device;
* ``on_gpus``: as TF's placer would place the same graph on a GPU machine: unplaced ops on the
  first replica's device, replicas named ``GPU:0..n-1``, the host ``CPU:0``. On a CPU machine
  the concat split's whole-batch copy to GPU:0 exists only here, since the CPU default device is
  the host itself.

:func:`resolved_split` reads back from the rows which split a step really is (in-place,
whole-batch or concat), whatever its wrapper is called: a graph-mode in-place wrapper over a
template built with no device scope is the whole-batch split (DESIGN §2.17), and says so.

What it cannot see: copies TF elides or fuses at run time, the tf.data pipeline's own copies, and
MirroredStrategy (not traced; its all-reduce is tf.distribute's).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tabulate import tabulate

from mgbench.devices import HOST_DEVICE, short_name
from mgbench.placement import (
    METADATA_TYPES,
    OpInfo,
    TensorInfo,
    TracedStep,
    op_role,
    resolve_devices,
)
from mgbench.vocabulary import Strategy
from mgbench.wrappers.scopes import SPLIT_SCOPE, replica_index

RESOLUTIONS = ("as_run", "on_gpus")
# The roles of a transfer, in the order tables show them.
TRANSFER_ROLES = ("batch", "slices", "weights", "outputs", "labels", "gradients", "other")
HOST = short_name(HOST_DEVICE)
# The splits :func:`resolved_split` tells apart.
SPLITS = (Strategy.INPLACE, Strategy.WHOLEBATCH, Strategy.CONCAT)


@dataclass(frozen=True)
class Transfer:
    src: str
    dst: str
    role: str
    bytes: int

    def to_json(self) -> dict[str, object]:
        return {"src": self.src, "dst": self.dst, "role": self.role, "bytes": self.bytes}


@dataclass(frozen=True)
class TransferAudit:
    """Rows summed per (src, dst, role), and the tensors whose size could not be resolved."""

    rows: tuple[Transfer, ...]
    unresolved: tuple[str, ...] = ()

    def total_bytes(self, role: str | None = None) -> int:
        return sum(row.bytes for row in self.rows if role is None or row.role == role)

    def bytes_between(self, src: str, dst: str, role: str | None = None) -> int:
        return sum(
            row.bytes
            for row in self.rows
            if row.src == src and row.dst == dst and (role is None or row.role == role)
        )


def replica_batches(global_batch: int, replicas: int) -> list[int]:
    """Each replica's share of a batch: equal parts, the last replica taking the remainder."""
    step = global_batch // replicas
    return [step] * (replicas - 1) + [global_batch - step * (replicas - 1)]


def gpu_names(replica_devices: Sequence[str]) -> dict[str, str]:
    """Replica device -> ``GPU:i``: the names the same replicas have on a GPU machine."""
    return {short_name(device): f"GPU:{i}" for i, device in enumerate(replica_devices)}


def audit(
    traced: TracedStep,
    *,
    global_batch: int,
    resolution: str = "as_run",
    input_device: str | None = None,
) -> TransferAudit:
    """The cross-device bytes of one training step, resolved ``as_run`` or ``on_gpus``.

    ``input_device``: where the batch arrives (default: the host).
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
    replicas = [short_name(d) for d in traced.replica_devices]
    if resolution == "on_gpus":
        # A one-device model on a CPU machine has the host as its "replica": it stays the host,
        # and the unplaced ops go to the GPU:0 it would have.
        rename = gpu_names([d for d in replicas if d != HOST] or ["GPU:0"])
        default = next(iter(rename))
    else:
        rename = {}
        default = short_name(traced.default_device)
    placed = {
        name: rename.get(device, device)
        for name, (device, _) in resolve_devices(traced.ops, default).items()
    }
    source = rename.get(short_name(input_device or HOST_DEVICE), short_name(input_device or HOST))
    sizes = _TensorSizes(global_batch, len(replicas))
    by_name = {op.name: op for op in traced.ops}
    writable = set(traced.writable_captures)
    roles = {op.name: op_role(op, writable, traced.model_scope) for op in traced.ops}
    data_inputs = {name: "batch" for name in traced.batch_inputs}
    data_inputs.update({name: "labels" for name in traced.label_inputs})

    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    unresolved: list[str] = []
    # Each data input arrives on the input device; a placeholder asked for elsewhere (Keras 2
    # builds its inputs under the weights' device scope) is fed by a copy there.
    for name, role in data_inputs.items():
        op = by_name.get(name)
        if op is None or not op.outputs:
            continue
        where = placed.get(name, source) if op.requested_device else source
        placed[name] = where
        if where != source:
            size = sizes.bytes(op, 0)
            if size is None:
                unresolved.append(f"{name}:0")
            else:
                totals[(source, where, role)] += size

    sent: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)  # tensor -> dst -> role
    for consumer in traced.ops:
        if consumer.type in METADATA_TYPES or consumer.type == "NoOp":
            continue
        dst = placed.get(consumer.name)
        for producer_name, index in consumer.input_edges():
            producer = by_name.get(producer_name)
            if producer is None or dst is None or placed.get(producer_name) in (None, dst):
                continue
            if index >= len(producer.outputs) or producer.outputs[index].itemsize == 0:
                continue
            role = _edge_role(producer, consumer, roles, data_inputs)
            destinations = sent[(producer_name, index)]
            if dst not in destinations or _ROLE_RANK[role] < _ROLE_RANK[destinations[dst]]:
                destinations[dst] = role
    for (producer_name, index), destinations in sent.items():
        producer = by_name[producer_name]
        size = sizes.bytes(producer, index)
        if size is None:
            unresolved.append(f"{producer_name}:{index}")
            continue
        for dst, role in destinations.items():
            totals[(placed[producer_name], dst, role)] += size
    rows = tuple(
        Transfer(src, dst, role, size)
        for (src, dst, role), size in sorted(totals.items(), key=_row_order)
        if size
    )
    return TransferAudit(rows, tuple(sorted(unresolved)))


def audits(
    traced: TracedStep, *, global_batch: int, input_device: str | None = None
) -> dict[str, TransferAudit]:
    """:func:`audit` in every resolution: ``{"as_run": ..., "on_gpus": ...}``."""
    return {
        resolution: audit(
            traced, global_batch=global_batch, resolution=resolution, input_device=input_device
        )
        for resolution in RESOLUTIONS
    }


def both_resolutions(
    traced: TracedStep, *, global_batch: int, input_device: str | None = None
) -> dict[str, list[dict[str, object]]]:
    """The record's ``transfers`` field: ``{"as_run": [...], "on_gpus": [...]}``."""
    found = audits(traced, global_batch=global_batch, input_device=input_device)
    return {resolution: [row.to_json() for row in found[resolution].rows] for resolution in found}


_ROLE_RANK = {role: rank for rank, role in enumerate(TRANSFER_ROLES)}


def _row_order(item: tuple[tuple[str, str, str], int]) -> tuple[int, str, str]:
    (src, dst, role), _ = item
    return _ROLE_RANK[role], src, dst


def _edge_role(
    producer: OpInfo, consumer: OpInfo, roles: dict[str, str], data_inputs: dict[str, str]
) -> str:
    if producer.name in data_inputs:
        return data_inputs[producer.name]
    made, used = roles.get(producer.name), roles.get(consumer.name)
    if made == "slice":
        return "slices"
    if made == "variable_read":
        return "weights"
    if made in ("backward", "grad_aggregate") and used in ("grad_aggregate", "update", "other"):
        return "gradients"  # to the aggregation, the update, or the optimizer's own math
    if made == "forward" and used in ("merge", "loss", "other"):
        return "outputs"
    return "other"


class _TensorSizes:
    """Bytes of an op's output, an unknown batch dimension resolved from the cell."""

    def __init__(self, global_batch: int, replicas: int):
        self.global_batch = global_batch
        self.shares = replica_batches(global_batch, replicas)

    def bytes(self, op: OpInfo, index: int) -> int | None:
        tensor: TensorInfo = op.outputs[index]
        if tensor.shape is None:
            return None
        dims = list(tensor.shape)
        if dims and dims[0] is None:
            dims[0] = self._leading(op, index)
        known = [d for d in dims if d is not None]
        if len(known) < len(dims):
            return None
        return math.prod(known) * tensor.itemsize

    def _leading(self, op: OpInfo, index: int) -> int:
        replica = replica_index(op.name)
        if replica is not None and replica < len(self.shares):
            return self.shares[replica]
        if op.type in ("Split", "SplitV") and _in_split_scope(op.name):
            return self.shares[index] if index < len(self.shares) else self.global_batch
        return self.global_batch


def _in_split_scope(name: str) -> bool:
    return any(part.startswith(SPLIT_SCOPE) for part in name.split("/"))


def total_by_role(rows: Iterable[Transfer]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.role] += row.bytes
    return dict(totals)


def resolved_split(rows: Iterable[Transfer], replicas: int | Sequence[str]) -> Strategy | None:
    """Which split a traced step's rows show, read from where its ``batch`` and ``slices`` go,
    whatever the wrapper that made it was called:

    * in-place: no batch row; slices from one device (where the batch lives) to every other
      replica;
    * whole-batch: the same whole batch from one device to every other replica, no slices;
    * concat: the whole batch to one replica, slices from there to every other replica;
    * None: none of these (one replica, nothing split, a mix).

    ``replicas``: the replica devices, or their count for the ``on_gpus`` names ``GPU:0..n-1``.
    """
    names = (
        [f"GPU:{i}" for i in range(replicas)]
        if isinstance(replicas, int)
        else [short_name(d) for d in replicas]
    )
    if len(names) < 2:
        return None
    rows = list(rows)
    batch = [row for row in rows if row.role == "batch"]
    slices = [row for row in rows if row.role == "slices"]

    def from_one_to_the_others(sent: list[Transfer]) -> bool:
        sources = {row.src for row in sent}
        return len(sources) == 1 and sorted(row.dst for row in sent) == sorted(set(names) - sources)

    if not batch and slices and from_one_to_the_others(slices):
        return Strategy.INPLACE
    if not slices and batch and from_one_to_the_others(batch):
        if len({row.bytes for row in batch}) == 1:  # the same whole batch to each
            return Strategy.WHOLEBATCH
        return None
    if len(batch) == 1 and batch[0].dst in names and slices:
        first = batch[0].dst
        if {row.src for row in slices} == {first} and sorted(row.dst for row in slices) == sorted(
            set(names) - {first}
        ):
            return Strategy.CONCAT
    return None


def format_resolved_split(
    rows: Iterable[Transfer],
    replicas: int | Sequence[str],
    built_as: str,
    resolution: str = "on_gpus",
) -> str:
    """One line: the split :func:`resolved_split` reads in ``rows`` (of ``resolution``), how,
    and whether it is the split the step was built as (``built_as``)."""
    rows = list(rows)
    found = resolved_split(rows, replicas)
    batch = sorted({(row.src, row.dst, row.bytes) for row in rows if row.role == "batch"})
    slices = sorted({(row.src, row.dst) for row in rows if row.role == "slices"})
    label = f"split {resolution.replace('_', ' ')}"
    if found == Strategy.INPLACE:
        how = f"each replica's slice from {slices[0][0]}, no whole batch moved"
    elif found == Strategy.WHOLEBATCH:
        how = (
            f"the whole batch ({batch[0][2]:,} B) from {batch[0][0]} to each of "
            f"{', '.join(dst for _, dst, _ in batch)}"
        )
    elif found == Strategy.CONCAT:
        how = (
            f"the whole batch ({batch[0][2]:,} B) from {batch[0][0]} to {batch[0][1]}, slices "
            f"from there to {', '.join(dst for _, dst in slices)}"
        )
    else:
        return f"{label}: none of {', '.join(SPLITS)} (built as {built_as})"
    verdict = "as built" if found == built_as else f"NOT the {built_as} split it was built as"
    return f"{label}: {found} ({verdict}): {how}"


def format_transfers(audits: dict[str, TransferAudit], title: str | None = None) -> str:
    """A plain-text table per resolution: MiB per step on each link, one column per role."""
    lines = [title] if title else []
    for resolution, result in audits.items():
        links: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for row in result.rows:
            links[(row.src, row.dst)][row.role] = row.bytes
        roles = [r for r in TRANSFER_ROLES if any(r in per for per in links.values())]
        table = [
            [f"{src} -> {dst}", *[_mib(per.get(r, 0)) for r in roles], _mib(sum(per.values()))]
            for (src, dst), per in sorted(links.items())
        ]
        table.append(
            ["total", *[_mib(result.total_bytes(r)) for r in roles], _mib(result.total_bytes())]
        )
        lines.append(f"transfers {resolution.replace('_', ' ')} (MiB per step):")
        lines.append(tabulate(table, headers=["link", *roles, "all"], tablefmt="github"))
        if result.unresolved:
            lines.append(f"size unknown, not counted: {', '.join(result.unresolved)}")
        lines.append("")
    return "\n".join(lines).rstrip()


def _mib(value_bytes: int) -> str:
    return f"{value_bytes / 2**20:.3f}" if value_bytes else "-"
