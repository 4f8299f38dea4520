"""Records -> numbers: pure statistics, the claim and its verdicts, per-cell results, comparisons
and gates; no I/O. Import the module that holds what you need (``analysis.cells``,
``analysis.comparisons``...): this package imports nothing, so ``analysis.claim`` stays light."""
