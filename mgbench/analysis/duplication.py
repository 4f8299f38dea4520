"""The memory half of the claim: how many copies of each batch's inputs land on the GPUs.

From the transfer audit resolved ``on_gpus`` (exact accounting of the traced step, not an
observation): the bytes of batch inputs (roles ``batch`` and ``slices``) each replica's GPU
receives per step, and the duplication factor, their sum over the GPUs divided by one copy of
the batch. The in-place split sends each GPU its share (factor 1); the whole-batch split sends
every GPU the whole batch (factor = replicas); the concat split sends the whole batch to GPU:0
and GPU:0 sends the others their shares (1 + (n-1)/n).

Where the run has TF allocator peaks per GPU (a GPU machine), the measured difference between
two splits' peaks stands beside the audit's predicted one. Pure functions of cell results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mgbench.analysis.cells import CellKey, CellResult, MemoryRow
from mgbench.models import batch_image_bytes
from mgbench.transfers import Transfer

BATCH_DATA_ROLES = ("batch", "slices")


@dataclass(frozen=True)
class DuplicationRow:
    """One split's batch inputs on the GPUs, per step, on one workload."""

    key: CellKey
    strategy: str
    batch_bytes: int  # one copy of the global batch's images
    per_gpu_bytes: dict[str, int]  # GPU:i -> bytes of batch inputs it receives per step

    @property
    def total_bytes(self) -> int:
        return sum(self.per_gpu_bytes.values())

    @property
    def factor(self) -> float:
        """Bytes of batch inputs on the GPUs / one copy of the batch."""
        return self.total_bytes / self.batch_bytes

    @property
    def max_gpu_bytes(self) -> int:
        return max(self.per_gpu_bytes.values(), default=0)


def gpu_batch_bytes(on_gpus: Sequence[Transfer], replicas: int) -> dict[str, int]:
    """``GPU:i -> bytes`` of batch inputs arriving there, every replica's GPU listed (0 when
    nothing arrives), from an ``on_gpus`` audit's rows."""
    per_gpu = {f"GPU:{i}": 0 for i in range(replicas)}
    for row in on_gpus:
        if row.role in BATCH_DATA_ROLES and row.dst in per_gpu:
            per_gpu[row.dst] += row.bytes
    return per_gpu


def duplication_row(key: CellKey, strategy: str, on_gpus: Sequence[Transfer]) -> DuplicationRow:
    """A split's row from its ``on_gpus`` audit of the workload ``key``."""
    batch_bytes = batch_image_bytes(key.image_size, key.batch_per_replica * key.replicas)
    return DuplicationRow(key, strategy, batch_bytes, gpu_batch_bytes(on_gpus, key.replicas))


def duplication_rows(cells: Sequence[CellResult]) -> list[DuplicationRow]:
    """One row per cell whose records carry the transfer audit, in the cells' order."""
    rows = []
    for cell in cells:
        record = next((r for r in cell.records if r.transfers is not None), None)
        if record is None or record.transfers is None:
            continue
        rows.append(duplication_row(cell.key, cell.strategy, record.transfers.on_gpus))
    return rows


@dataclass(frozen=True)
class MemoryDifference:
    """How much less batch data split ``a`` puts on each GPU than ``b``: predicted from the
    audit, and measured (TF allocator peak of ``b`` minus ``a``) where the run has peaks."""

    key: CellKey
    a: str
    b: str
    predicted_bytes: dict[str, int]  # GPU:i -> b's bytes - a's
    measured_bytes: dict[str, int]  # GPU:i -> b's TF peak - a's (empty: not measured)


def memory_differences(
    rows: Sequence[DuplicationRow],
    memory: Sequence[MemoryRow],
    pairs: Sequence[tuple[str, str]],
) -> list[MemoryDifference]:
    """For each (a, b) in ``pairs`` and each workload with both splits audited."""
    audited = {(r.key, r.strategy): r for r in rows}
    peaks = {(m.cell.key, m.cell.strategy): m.tf_peak_bytes for m in memory}
    found = []
    for key in dict.fromkeys(r.key for r in rows):
        for a, b in pairs:
            if (key, a) not in audited or (key, b) not in audited:
                continue
            found.append(
                MemoryDifference(
                    key,
                    a,
                    b,
                    _difference(audited[(key, b)].per_gpu_bytes, audited[(key, a)].per_gpu_bytes),
                    _difference(peaks.get((key, b), {}), peaks.get((key, a), {})),
                )
            )
    return found


def _difference(b: Mapping[str, int], a: Mapping[str, int]) -> dict[str, int]:
    return {gpu: b[gpu] - a[gpu] for gpu in b if gpu in a and gpu.startswith("GPU:")}
