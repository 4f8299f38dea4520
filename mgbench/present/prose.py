"""The report's words: titles, notes and how a verdict reads, in one place.

Whatever names a claim (its two strategies, its range) is a function of the
:class:`~mgbench.analysis.claim.Claim`, never written into a sentence, so a report made with
``--claim 3:8`` says 3-8% everywhere. How hardware that cannot show the claim qualifies a
verdict is decided in :mod:`mgbench.analysis.claim`; here it only gets its words.
"""

from __future__ import annotations

from collections.abc import Sequence

from mgbench.analysis import looks, multiplicity, paired
from mgbench.analysis.claim import Caveats, Claim, Claims, Outcome, Verdict
from mgbench.analysis.comparisons import MAXIMUM, OPEN, PairedComparison
from mgbench.analysis.duplication import MemoryDifference
from mgbench.present import formats
from mgbench.vocabulary import Strategy

# Where prose names a split other than by its id.
_SPLIT_NAMES: dict[str, str] = {Strategy.INPLACE: "in-place", Strategy.WHOLEBATCH: "whole-batch"}


def split_name(strategy: str) -> str:
    """``"inplace"`` -> ``"in-place"``: a strategy as a sentence names it."""
    return _SPLIT_NAMES.get(strategy, strategy)


def pair_words(claim: Claim) -> str:
    """``"in-place against concat"``."""
    return f"{split_name(claim.a)} against {split_name(claim.b)}"


# -- the hardware's caveats ----------------------------------------------------------------------

CPU_SIMULATION_VERDICT = " (CPU simulation: every device is host memory, not evidence about GPUs)"
VIRTUAL_GPU_MARKER = "virtual GPUs on one chip: not the claim's hardware"
VIRTUAL_GPU_VERDICT = f" ({VIRTUAL_GPU_MARKER})"


def caveat_marker(caveats: Caveats) -> str:
    """What every claim row's verdict ends with when the hardware cannot show the claim."""
    return (CPU_SIMULATION_VERDICT if caveats.cpu_simulation else "") + (
        VIRTUAL_GPU_VERDICT if caveats.virtual_gpus else ""
    )


def split_list(claims: Claims) -> str:
    """``"in-place, whole-batch and concat"``: every split the claims name, in order."""
    names = list(dict.fromkeys(split_name(s) for c in claims.items for s in c.pair))
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def what_is_not_tested(claims: Claims) -> str:
    """``"the 5-12% claim"``, or the primary's pair when it claims no range."""
    primary = claims.primary
    if primary.has_range:
        return f"the {primary.range_text} claim"
    return f"whether {pair_words(primary)} differ"


def cpu_simulation_note(claims: Claims) -> str:
    return (
        "**CPU simulation**: replicas are logical CPUs on the same cores and the host is also "
        "the default device, so every copy between devices stays in host memory: the in-place "
        "and concat splits coincide, and the whole-batch split's copy of the batch to each "
        "replica is a memory copy, not a trip over a link to a GPU. These numbers test the "
        f"harness and placement of the {split_list(claims)} splits, not "
        f"{what_is_not_tested(claims)}."
    )


def virtual_gpu_note(claims: Claims) -> str:
    return (
        "**Virtual GPUs on one chip**: the replicas are logical GPUs of one physical GPU. The "
        "concat split's extra GPU:0 -> GPU:i copies stay inside the chip's memory and cost almost "
        "nothing, and every host -> GPU copy (the whole-batch split's one per replica included) "
        "crosses the same single link, where the claim's machine has one per GPU, so these "
        "numbers test placement, the pipeline and memory accounting, not "
        f"{what_is_not_tested(claims)}. Every claim row says so ({VIRTUAL_GPU_MARKER}), and no "
        "scaling efficiency is shown: the replicas share one chip's compute."
    )


VIRTUAL_GPU_SCALING_NOTE = (
    "Scaling efficiency not shown: the replicas are virtual GPUs sharing one chip's compute, so "
    "images/s against replicas x one device's images/s measures the split, not scaling."
)
NVML_VIRTUAL_GPU_NOTE = (
    "Virtual GPUs: with a memory_limit per virtual GPU TF reserves the whole limit, so NVML's "
    "process figure is the same for every strategy and says nothing about the splits."
)


def hardware_notes(claims: Claims) -> frozenset[str]:
    """Every note that says the hardware cannot show the claim (a page boxes them)."""
    return frozenset(
        {
            cpu_simulation_note(claims),
            virtual_gpu_note(claims),
            VIRTUAL_GPU_SCALING_NOTE,
            NVML_VIRTUAL_GPU_NOTE,
        }
    )


def preamble_caveats(claims: Claims, caveats: Caveats) -> list[str]:
    """The preamble's lines for the hardware's caveats."""
    return [cpu_simulation_note(claims)] * caveats.cpu_simulation + [
        virtual_gpu_note(claims)
    ] * caveats.virtual_gpus


# -- verdicts --------------------------------------------------------------------------------------


def verdict_text(verdict: Verdict, caveats: Caveats) -> str:
    """A verdict on the claim as every section shows it: qualified by the hardware (never
    *supports* where it cannot show the claim) and ending with the hardware's marker."""
    return caveats.qualify(verdict).text + caveat_marker(caveats)


def paired_verdict_text(comparison: PairedComparison, caveats: Caveats) -> str:
    """The verdict shown for a paired comparison; a pair the claim is not about is read
    against 0."""
    estimate, verdict = comparison.estimate, comparison.verdict
    if estimate is None:
        statuses = ", ".join(comparison.statuses) or "no rounds"
        reasons = "; ".join(comparison.reasons)
        text = f"no paired estimate ({statuses}{': ' + reasons if reasons else ''})"
        return text + caveat_marker(caveats)
    if verdict is None:  # not the claim's pair (an A/A calibration, say): read against 0
        low, high = estimate.ci_pct
        text = "CI covers 0" if low <= 0 <= high else ("A faster" if low > 0 else "A slower")
        return text + caveat_marker(caveats)
    return verdict_text(verdict, caveats)


def family_note(
    rows: Sequence[PairedComparison], claim: Claim, alpha: float, min_effect_pct: float
) -> str | None:
    """Under a claim's table of several rows with verdicts: which verdicts hold when the rows
    are read as one question (Holm across them, :mod:`mgbench.analysis.multiplicity`), and that
    each row's CI and verdict are marginal. None for fewer than 2 such rows."""
    judged = [r for r in rows if r.estimate is not None and r.verdict is not None]
    if len(judged) < 2:
        return None
    # A row run until decided brings its sequential p-value (its looks counted).
    p_values = [looks.row_p_value(row, claim.range_pct, min_effect_pct) for row in judged]
    holds = multiplicity.family_holds(p_values, alpha)
    decided = [
        (row.key.label, row.verdict, held)
        for row, held in zip(judged, holds, strict=True)
        if row.verdict is not None and row.verdict.outcome is not Outcome.INCONCLUSIVE
    ]
    kept = [f"{label} {verdict.outcome.value}" for label, verdict, held in decided if held]
    lost = [label for label, _, held in decided if not held]
    confidence = f"{(1 - alpha) * 100:g}%"
    if not decided:
        reading = "no row decides on its own, so none can read together"
    elif kept:
        reading = f"{len(kept)} of the {len(decided)} decided verdicts hold ({'; '.join(kept)})"
    else:
        reading = f"none of the {len(decided)} decided verdicts holds"
    if lost:
        reading += f"; inconclusive read together: {', '.join(lost)}"
    chance = multiplicity.chance_some_row_misses(len(judged), alpha)
    sequential = (
        " A row run until decided brings the p-value of its sequential design."
        if any(row.sequential is not None for row in judged)
        else ""
    )
    return (
        f"Across the {len(judged)} rows, one question (Holm-adjusted at alpha {alpha:g}): "
        f"{reading}. Each row's CI and verdict are marginal ({confidence} for that row alone; "
        f"unadjusted, up to {chance:.0%} that some row's interval misses).{sequential}"
    )


# -- runs until decided ----------------------------------------------------------------------------


def _how_it_ended(processes: int, ending: str, most: int) -> str:
    if ending == OPEN:
        return f"not ended: {processes} of at most {most} processes so far"
    return f"stopped after {processes} processes ({ending})"


def sequential_note(rows: Sequence[PairedComparison]) -> str | None:
    """Under a paired table with rows run until decided: per row, the design's maximum, the
    looks taken and how it ended; and that each interval is adjusted for the looks. None when
    no row ran until decided."""
    runs = [(row, row.sequential) for row in rows if row.sequential is not None]
    if not runs:
        return None
    parts = [
        f"{row.key.label}: {run.design.max_processes} max, {run.looks_taken} look"
        f"{'' if run.looks_taken == 1 else 's'} taken, "
        f"{_how_it_ended(run.processes, run.ending, run.design.max_processes)}"
        for row, run in runs
    ]
    designs = "; ".join(dict.fromkeys(run.design.description for _, run in runs))
    return (
        f"Sequential (run until decided; a look after each paired process from the second): "
        f"{'; '.join(parts)}. Each interval is adjusted for the looks taken ({designs}): it "
        "holds at the table's level whichever look stopped the row."
    )


def sequential_marker(comparison: PairedComparison) -> str:
    """Where a paired comparison fits on one line: `` (until decided: stopped after 2 of at
    most 5 processes, decided; interval adjusted for 1 look)``; empty for a fixed budget."""
    run = comparison.sequential
    if run is None:
        return ""
    most = run.design.max_processes
    ended = (
        f"{run.processes} of at most {most} processes so far"
        if run.ending == OPEN
        else f"stopped after {run.processes} of at most {most} processes, {run.ending}"
    )
    plural = "" if run.looks_taken == 1 else "s"
    return f" (until decided: {ended}; interval adjusted for {run.looks_taken} look{plural})"


def look_line(look: looks.CellLook) -> str:
    """A look as ``mgbench run`` prints it: each comparison's estimate, interval at the
    look's adjusted level and verdict, then whether the cell stops."""
    level = f"{(1 - look.design.look_alpha(look.processes)) * 100:.4g}%"
    parts = []
    for comparison in look.comparisons:
        estimate = comparison.estimate
        if estimate is None:
            parts.append(f"{comparison.a} vs {comparison.b}: no estimate")
            continue
        verdict = comparison.verdict.outcome.value if comparison.verdict else "read against 0"
        parts.append(
            f"{comparison.a} vs {comparison.b} {formats.signed_pct(estimate.speedup_pct)} "
            f"{formats.pct_interval(estimate.ci_pct)} {verdict}"
        )
    if not look.decision.stop:
        then = f"continue: {look.decision.reason}" if look.decision.reason else "continue"
    elif look.decision.reason:
        then = f"stop: {look.decision.reason}"
    else:
        then = f"stop: {look.ending or MAXIMUM}"
    return (
        f"look {look.look} of {look.design.looks} after {look.processes} processes, "
        f"{level} CIs: {'; '.join(parts)} -> {then}"
    )


def verdict_rule(claim: Claim, min_effect_pct: float) -> str:
    """How ``claim``'s rows are read: against its range, or (a question) against 0."""
    if claim.range_pct is None:
        return (
            f"Verdict rule ({claim.name.lower()}: is {split_name(claim.a)} faster than "
            f"{split_name(claim.b)}? No range claimed), read from the CI: faster or slower when "
            f"the CI excludes 0 and |speed-up| >= {min_effect_pct:g}%; no difference when the CI "
            f"lies inside ±{min_effect_pct:g}%; inconclusive otherwise, with the rounds per "
            "process or paired processes that would decide it with "
            f"{paired.POWER:.0%} power at this alpha (only processes when the processes' "
            "disagreement alone keeps it open)."
        )
    low, high = claim.range_pct
    return (
        f"Verdict rule (claim: {split_name(claim.a)} {claim.range_text} faster than "
        f"{split_name(claim.b)}), read from the CI, not the point estimate: supports the claim "
        f"when the CI lies inside [{low:g}, {high:g}]%; contradicts: smaller than claimed when its "
        f"upper end is below {low:g}% (also saying 'no detectable difference' when it covers 0, "
        "'slower' when below 0); contradicts: larger than claimed when its lower end is above "
        f"{high:g}%; inconclusive otherwise, with the rounds per process or paired "
        f"processes that would decide it with {paired.POWER:.0%} power at this alpha (only "
        "processes when the processes' disagreement alone keeps it open)."
    )


# -- titles and notes of the claim's sections ----------------------------------------------------


def headline_title(claim: Claim) -> str:
    """``"The claim, paired in-process: in-place against whole-batch"``."""
    return f"{claim.name}, paired in-process: {pair_words(claim)}"


def cross_check_title(claim: Claim) -> str:
    return f"Unpaired cross-check: isolated processes, {pair_words(claim)}"


PAIRED_METHOD = (
    "Paired method: each paired process builds its strategies over one template and runs one "
    "block of timed steps of each per round, in a balanced order (two: A B, B A, ... (ABBA); "
    "three: the six orders of a Williams design, abc cba bca acb cab bac, so one process gives "
    "every pair of them); for A against B a round gives log(median B step / median A step). "
    "Each process's rounds give one number, their 20% trimmed mean; the CI is Student's t over "
    "those process means with processes - 1 degrees of freedom, so processes that disagree "
    "widen it (the interval the coverage study in results/coverage/ chose). One process "
    "cannot show how far processes disagree: its interval is the t-interval over its rounds, "
    "and its verdict is inconclusive."
)
HEADLINE_NOTE = (
    "speed-up: A over B, from the paired rounds (positive: A faster); between-process sd: "
    "tau, the spread of the processes' own speed-ups (n/a with one process)."
)
NO_PAIRED_NOTE = "No paired comparison in this run (a suite's compare = [[A, B]] adds one)."
OTHER_PAIRS_TITLE = "Other paired comparisons (read against 0, not against a claim)"


def not_run_note(claim: Claim) -> str:
    """Why a claim's table is empty: its pair was not paired in this run."""
    return (
        f"Not run: this run has no paired {claim.a} against {claim.b} cells, so "
        f"{claim.name.lower()}'s own comparison ({pair_words(claim)}) was not run here (a suite's "
        f'compare = [["{claim.a}", "{claim.b}"]] adds it; runs recorded before mgbench had the '
        f"{split_name(claim.b)} split have none)."
    )


def no_isolated_pair_note(claim: Claim) -> str:
    return f"No isolated {claim.a} and {claim.b} cells of one workload in this run."


def saving_header(a: str, b: str) -> str:
    """``"in-place saving vs whole-batch"``: a memory table's column."""
    return f"{split_name(a)} saving vs {split_name(b)}"


def nvml_note() -> str:
    return (
        "NVML process peak: what the process reserved from the driver on each physical GPU (TF's "
        "memory pool and the CUDA context), not the memory its tensors used; the TF peaks are "
        "TF's allocator figures per logical device. Virtual GPUs of one chip share one NVML "
        "device and cannot be told apart. The saving columns compare TF peaks only."
    )


# -- the memory half ------------------------------------------------------------------------------

DUPLICATION_TITLE = "The memory half: copies of each batch on the GPUs (from the audit)"
DUPLICATION_NOTE = (
    "Batch inputs each replica's GPU receives per step (roles batch and slices of the transfer "
    "audit resolved on GPUs: exact accounting of the traced step, not an observation), and the "
    "duplication factor: their sum over the GPUs / one copy of the batch's images (float32). "
    "In-place: each GPU its share (1x); whole-batch: the whole batch to every GPU (replicas x); "
    "concat: the whole batch to GPU:0, which sends the others their shares."
)


def _per_gpu_words(difference: dict[str, int], unit: str = "MiB") -> str:
    """``"173 MiB less on each GPU"`` or ``"173 MiB less on GPU:0 and the same on GPU:1, ..."``."""
    groups: dict[int, list[str]] = {}
    for gpu, value in difference.items():
        groups.setdefault(value, []).append(gpu)
    parts = []
    for value, gpus in groups.items():
        where = "on each GPU" if len(groups) == 1 else f"on {', '.join(gpus)}"
        if value == 0:
            parts.append(f"the same {where}")
        else:
            size = f"{formats.mib_fine(abs(value))} {unit}"
            parts.append(f"{size} {'less' if value > 0 else 'more'} {where}")
    return " and ".join(parts)


def memory_verdict(difference: MemoryDifference, not_measured: str) -> str:
    """``"ResNet50-224px-b96-x4: in-place holds 173 MiB less on each GPU than whole-batch
    (audit, batch data per step); measured: not measured here (...)."``"""
    predicted = _per_gpu_words(difference.predicted_bytes)
    if difference.measured_bytes:
        measured = f"TF allocator peak {_per_gpu_words(difference.measured_bytes)}"
    else:
        measured = f"not measured here ({not_measured})"
    return (
        f"{difference.key.label}: {split_name(difference.a)} holds {predicted} than "
        f"{split_name(difference.b)} (audit, batch data per step); measured: {measured}."
    )


# -- the other sections' notes -----------------------------------------------------------------

WARNINGS_TITLE = "Warnings"  # the section of the store's and the analysis's warnings

ENERGY_NOTE = (
    "J/image: energy of the timed steps from NVML's counter, every physical GPU of the process "
    "summed (the whole device's energy, other work on it included), over the images of those "
    "steps; median over processes. Windows shorter than the counter's update period (20-100 ms) "
    "are left out."
)
DATAPARALLEL_NOTE = (
    "vs dataparallel: against keras.distribution.DataParallel in one process (Keras 3 on JAX, "
    "what Keras's documentation points a multi-GPU user to today) on the same model, batch and "
    "replicas. XLA compiles JAX's whole step, so its cells have no placement or transfer audit."
)
TRANSFERS_NOTE = (
    "Bytes one training step sends between devices, from the traced step (mgbench.transfers): "
    "each tensor once per destination device, placed by TF's placer rules as on a GPU machine "
    "(unplaced ops on GPU:0, replicas GPU:0..n-1, the batch arriving on the host). It is the "
    "accounting, not an observation: TF may elide or fuse copies at run time."
)
MULTIPROCESS_NOTE = (
    "One process per worker; the cell's images/s is the chief's (worker 0), counting every "
    "worker's images; each worker's memory is its own (framework peak: TF's allocator since the "
    "timed steps began, JAX's since the process started). Loss: what fit logged after the first "
    "step -> after the last, which Keras keeps as the mean over the steps so far."
)
MULTIWORKER_NOTE = (
    "multiworker: tf.distribute.MultiWorkerMirroredStrategy on the tf_keras backend (Keras 3's "
    "fit cannot train under it: keras-team/keras issue 20585), gradients all-reduced by "
    "collectives (a ring on CPUs, NCCL on GPUs). tf_keras sums its logged loss over the workers "
    "under this strategy (its per-epoch log does not): falling is what it shows."
)
DATAPARALLEL_WORKERS_NOTE = (
    "dataparallel-wN: keras.distribution.DataParallel across N processes (Keras 3 on JAX, "
    "keras.distribution.initialize; gloo collectives on CPUs), each feeding its own rows."
)
TIMELINE_NOTE = (
    "One extra process per cell ran its steps under TF's profiler (slower than the timed "
    "runs; never mixed with them). Each device's time is its ops' summed kernel time per "
    "step, so ops overlapping on several threads can sum past the wall time."
)
