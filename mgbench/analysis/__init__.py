"""Records -> numbers: pure statistics, per-cell results, comparisons and gates; no I/O."""

from mgbench.analysis.cells import (
    CellResult,
    ClaimRow,
    GroupKey,
    MemoryRow,
    MixedResultsError,
    ScalingRow,
    cell_results,
    check_not_mixed,
    claim_rows,
    identities,
    machine_identity,
    memory_rows,
    memory_saving_pct,
    scaling_rows,
    single_baseline,
    weak_result_notes,
)

__all__ = [
    "CellResult",
    "ClaimRow",
    "GroupKey",
    "MemoryRow",
    "MixedResultsError",
    "ScalingRow",
    "cell_results",
    "check_not_mixed",
    "claim_rows",
    "identities",
    "machine_identity",
    "memory_rows",
    "memory_saving_pct",
    "scaling_rows",
    "single_baseline",
    "weak_result_notes",
]
