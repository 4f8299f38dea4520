"""Records -> numbers: pure statistics, per-cell results, comparisons and gates; no I/O."""

from mgbench.analysis.cells import (
    CellKey,
    CellResult,
    MemoryRow,
    ScalingRow,
    cell_results,
    memory_rows,
    scaling_rows,
    single_baseline,
    weak_result_notes,
)
from mgbench.analysis.comparisons import (
    ClaimPair,
    PairedComparison,
    RunChange,
    StrategyRatio,
    claim_pairs,
    memory_saving_pct,
    paired_comparisons,
    run_changes,
    strategy_ratios,
)

__all__ = [
    "CellKey",
    "CellResult",
    "ClaimPair",
    "MemoryRow",
    "PairedComparison",
    "RunChange",
    "ScalingRow",
    "StrategyRatio",
    "cell_results",
    "claim_pairs",
    "memory_rows",
    "memory_saving_pct",
    "paired_comparisons",
    "run_changes",
    "scaling_rows",
    "single_baseline",
    "strategy_ratios",
    "weak_result_notes",
]
