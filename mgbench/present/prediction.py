"""Link-cost predictions as text: per workload, each strategy's bytes per link class and copy
time on a hardware spec, the speed-up that implies for the claim's two strategies (and where
it crosses the claimed range), a sweep over compute time, and a report section that puts the
prediction beside the run's measured verdict. Numbers come from
:mod:`mgbench.analysis.linkcost`; MiB (2^20 bytes) and milliseconds on screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mgbench.analysis import linkcost, stats
from mgbench.analysis.cells import CellKey, cell_results
from mgbench.analysis.claim import DEFAULT_CLAIM, DEFAULT_CLAIMS, Caveats, Claim, Claims
from mgbench.analysis.comparisons import claim_pairs, paired_comparisons
from mgbench.config.hardware_specs import HardwareSpec
from mgbench.present import formats, prose
from mgbench.present.model import CELL_COLUMNS, Column, Section
from mgbench.present.render import table
from mgbench.records import environment
from mgbench.records.record import Record
from mgbench.transfers import Transfer

SECTION_TITLE = "Link-cost prediction beside the measured verdict"


def assumption_notes(pair: Sequence[str]) -> tuple[str, ...]:
    """What every prediction of ``pair[0]`` against ``pair[1]`` assumes."""
    a, b = (prose.split_name(s) for s in pair)
    return (
        ASSUMPTION_NOTES[0],
        f"No copy overlaps compute: a step is compute + copy time. Speed-up = (compute + {b} "
        f"copy) / (compute + {a} copy) - 1.",
        *ASSUMPTION_NOTES[1:],
    )


ASSUMPTION_NOTES = (  # less the formula, which names the pair (assumption_notes)
    "Bytes: the transfer audit resolved 'on GPUs' (TF's placer on a GPU machine: unplaced ops on "
    "GPU:0, the batch entering on the host CPU:0).",
    "serial: every copy one after another, each at the slowest link on its path.",
    "parallel: copies that do not wait for one another run at once, in phases one after another "
    "(inputs; slices of a batch first copied to a GPU; replica outputs; gradients; other); a "
    "phase lasts as long as its busiest link, and GPUs behind a shared uplink split it.",
    "GPU-to-GPU 'through host': a copy down to host memory and one up again; serial pays both "
    "hops, parallel streams them (both links loaded).",
    "Bandwidths: the spec's, measured (achievable) where its comments say so; per-copy "
    "latency, pageable-memory staging and copies TF elides or fuses are not modelled.",
)


def mib2(value_bytes: int) -> str:
    """MiB with two decimals: a small model's slices are fractions of a MiB."""
    return f"{value_bytes / formats.MIB:,.2f}"


def ms2(value_s: float) -> str:
    """Milliseconds: two decimals from 1 ms, three significant digits below (copies of a tiny
    model take microseconds)."""
    value = value_s * 1000
    if value == 0 or abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"


def ms_pair(value: Mapping[str, float | None]) -> str:
    """``"809.9 / 917.2"``: milliseconds under each assumption (serial / parallel)."""
    shown = (value[a] for a in linkcost.ASSUMPTIONS)
    return " / ".join("n/a" if v is None else ms2(v) for v in shown)


def pct_pair(value: Mapping[str, float | None]) -> str:
    shown = (value[a] for a in linkcost.ASSUMPTIONS)
    return " / ".join("n/a" if pct is None else formats.signed_pct(pct) for pct in shown)


def up_to(value_s: float | None) -> str:
    return "never" if value_s is None else f"<= {ms2(value_s)} ms"


@dataclass(frozen=True)
class ComputeChoice:
    """Where a prediction's compute time comes from: ``seconds`` given, or a spec's step time
    (``estimate``; :func:`linkcost.predict` makes the compute term of it), or neither; and a
    line saying so."""

    seconds: float | None
    estimate: linkcost.ComputeEstimate | None
    note: str

    def predict(
        self,
        rows_by_strategy: Mapping[str, Sequence[Transfer]],
        spec: HardwareSpec,
        pair: tuple[str, str],
        thresholds_pct: Sequence[float] = (),
    ) -> tuple[linkcost.Prediction, str]:
        """The prediction at this compute time, and the note saying where its compute came
        from (and what was taken out of a reference's step)."""
        p = linkcost.predict(
            rows_by_strategy,
            spec,
            compute_s=self.seconds,
            compute=self.estimate,
            pair=pair,
            thresholds_pct=thresholds_pct,
        )
        return p, self.note + removal_note(p)


def compute_choice(
    spec: HardwareSpec, key: CellKey | None, compute_s: float | None = None
) -> ComputeChoice:
    """``compute_s`` if given, else the spec's reference for the workload, else none."""
    if compute_s is not None:
        return ComputeChoice(compute_s, None, f"compute {ms2(compute_s)} ms/step (given)")
    if key is None:
        return ComputeChoice(None, None, "no compute time given: the sweep only")
    estimate = linkcost.reference_compute(
        spec, key.model, key.image_size, key.batch_per_replica, key.replicas
    )
    if estimate is None:
        return ComputeChoice(
            None,
            None,
            f"{spec.name} has no published throughput for {key.model} {key.image_size}px: "
            "no compute time, the sweep only (or give --compute-ms)",
        )
    return ComputeChoice(None, estimate, compute_note(estimate))


def compute_note(estimate: linkcost.ComputeEstimate) -> str:
    r = estimate.reference
    text = (
        f"step {ms2(estimate.step_s)} ms from {r.model} {r.image_size}px, "
        f"{r.img_s:g} img/s on {r.gpus} GPU(s) at batch {r.batch_per_gpu}/GPU ({r.precision}; "
        f"{r.source})"
    )
    if estimate.pixels_from is not None:
        text += (
            f"; ESTIMATE: the spec has {r.model} at {estimate.pixels_from}px only, time per "
            "image scaled by pixels"
        )
    if estimate.scaled:
        text += f"; time per image taken as constant for batch {estimate.batch_per_replica}"
    if estimate.sharing > 1:
        text += f"; {estimate.sharing} replicas share one chip's compute"
    return text


def removal_note(prediction: linkcost.Prediction) -> str:
    """How the compute term was made of a reference's step: its own split's copies out."""
    estimate = prediction.compute
    if estimate is None or estimate.includes_copies_of is None:
        return "."
    split = prose.split_name(estimate.includes_copies_of)
    if not prediction.removed:
        return (
            f"; that step includes the {split} split's own copies, not taken out here (no audit "
            "of that split): compute is overstated and the predicted speed-up errs low."
        )
    terms = ms_pair(prediction.compute_by)
    return (
        f"; the compute term is that step less the {split} split's own predicted copies "
        f"({ms_pair(prediction.removed)} ms, serial / parallel): {terms} ms."
    )


def strategy_section(prediction: linkcost.Prediction) -> Section:
    """(a), first table: each strategy's bytes per link class and copy time."""
    rows = []
    for cost in (prediction.a, prediction.b):
        rows.append(
            [
                cost.strategy,
                *(cost.bytes_by_class[c] for c in linkcost.LINK_CLASSES),
                {"serial": cost.serial_s, "parallel": cost.parallel_s},
                ", ".join(f"{p.phase}: {p.busiest_link}" for p in cost.phases) or "-",
            ]
        )
    return Section(
        f"Copies per step on {prediction.spec}",
        [
            Column("strategy"),
            *(Column(f"{c} MiB", mib2, "bytes") for c in linkcost.LINK_CLASSES),
            Column("copy ms (serial / parallel)", ms_pair, "s"),
            Column("busiest link per phase (parallel)"),
        ],
        rows,
    )


def speedup_section(prediction: linkcost.Prediction, compute_note_text: str) -> Section:
    """(a), second table: the implied speed-up of the first strategy over the second and where
    it crosses the thresholds (the claimed range)."""
    a, b = prose.split_name(prediction.a.strategy), prose.split_name(prediction.b.strategy)
    known = any(c is not None for c in prediction.compute_by.values())
    rows = [
        [
            assumption,
            prediction.compute_by[assumption],
            prediction.a.seconds(assumption),
            prediction.b.seconds(assumption),
            prediction.saved_s(assumption),
            prediction.speedup_pct(assumption),
            prediction.max_speedup_pct(assumption),
            *(prediction.crossings_s[assumption][t] for t in prediction.thresholds_pct),
        ]
        for assumption in linkcost.ASSUMPTIONS
    ]
    notes = [compute_note_text]
    claimed = prediction.claimed_speedup_pct
    if claimed is not None:
        notes.append(f"Claimed on this machine for this workload: {formats.signed_pct(claimed)}.")
    notes += assumption_notes((prediction.a.strategy, prediction.b.strategy))
    return Section(
        f"Predicted {a} speed-up over {b} on {prediction.spec}",
        [
            Column("assumption"),
            Column("compute ms", ms2, "s"),
            Column(f"{a} copy ms", ms2, "s"),
            Column(f"{b} copy ms", ms2, "s"),
            Column("saved ms", ms2, "s"),
            Column("speed-up" if known else "speed-up (no compute time)", formats.signed_pct, "%"),
            Column("with no compute", formats.signed_pct, "%"),
            *(Column(f">= {t:g}% while compute", up_to, "s") for t in prediction.thresholds_pct),
        ],
        rows,
        notes,
    )


def sweep_section(prediction: linkcost.Prediction) -> Section:
    """(b): the predicted speed-up over compute time per step."""
    rows = [
        [
            point.compute_s,
            *(point.speedup_pct[a] for a in linkcost.ASSUMPTIONS),
            ", ".join(point.labels),
        ]
        for point in linkcost.sweep(prediction)
    ]
    return Section(
        f"Sweep over compute time per step ({prediction.spec})",
        [
            Column("compute ms/step", ms2, "s"),
            *(Column(f"speed-up ({a})", formats.signed_pct, "%") for a in linkcost.ASSUMPTIONS),
            Column("", missing=""),
        ],
        rows,
    )


def prediction_text(
    prediction: linkcost.Prediction, compute_note_text: str, title: str | None = None
) -> str:
    """(a) and (b) as Markdown-style text tables, the assumptions under (a)."""
    out = [f"## {title}", ""] if title else []
    for section in (
        strategy_section(prediction),
        speedup_section(prediction, compute_note_text),
        sweep_section(prediction),
    ):
        out += [f"### {section.title}", "", table(section), ""]
        out += [f"- {note}" for note in section.notes]
        if section.notes:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def workload_text(
    rows_by_strategy: Mapping[str, Sequence[Transfer]],
    spec: HardwareSpec,
    *,
    key: CellKey | None = None,
    compute_s: float | None = None,
    title: str | None = None,
    claim: Claim = DEFAULT_CLAIM,
) -> str:
    """The prediction for rows given directly (``{strategy: rows}``, no run) of the claim's
    two strategies, its range as the thresholds. ``key`` finds the spec's reference compute
    time when ``compute_s`` is not given."""
    choice = compute_choice(spec, key, compute_s)
    prediction, note = choice.predict(
        rows_by_strategy, spec, claim.pair, thresholds_pct=claim.range_pct or ()
    )
    return prediction_text(prediction, note, title)


def specs_section(
    rows_by_strategy: Mapping[str, Sequence[Transfer]],
    specs: Sequence[HardwareSpec],
    key: CellKey,
    title: str | None = None,
    pair: tuple[str, str] = DEFAULT_CLAIM.pair,
) -> Section:
    """One workload on several specs: copy times of ``pair``'s two strategies, the predicted
    speed-up of the first at each spec's reference compute time, and the claim's own figure
    where the spec has one about this pair."""
    a, b = (prose.split_name(s) for s in pair)
    rows, notes = [], []
    for spec in specs:
        if key.replicas > spec.gpus:
            notes.append(f"{spec.name}: has {spec.gpus} GPUs, fewer than {key.replicas}")
            continue
        p, note = compute_choice(spec, key).predict(rows_by_strategy, spec, pair)
        rows.append(
            [
                spec.name,
                p.compute_by,
                {each: p.a.seconds(each) for each in linkcost.ASSUMPTIONS},
                {each: p.b.seconds(each) for each in linkcost.ASSUMPTIONS},
                {each: p.speedup_pct(each) for each in linkcost.ASSUMPTIONS},
                p.claimed_speedup_pct,
            ]
        )
        notes.append(f"{spec.name}: {note}")
    return Section(
        title or f"{key.label}: predicted {a} speed-up over {b} per hardware spec",
        [
            Column("spec"),
            Column("compute ms/step (serial / parallel)", ms_pair, "s"),
            Column(f"{a} copy ms (serial / parallel)", ms_pair, "s"),
            Column(f"{b} copy ms (serial / parallel)", ms_pair, "s"),
            Column("predicted (serial / parallel)", pct_pair, "%"),
            Column("claimed", formats.signed_pct, "%", missing=""),
        ],
        rows,
        [*notes, *assumption_notes(pair)],
    )


def prediction_section(
    records: Sequence[Record],
    spec: HardwareSpec,
    *,
    compute_s: float | None = None,
    claims: Claims = DEFAULT_CLAIMS,
    alpha: float = stats.DEFAULT_ALPHA,
) -> Section:
    """(c): per claim and workload of a run, the predicted speed-up of the claim's first
    strategy on ``spec`` beside the run's measured one (paired headline and unpaired
    cross-check), where the run has them; their verdicts qualified and marked as every
    section's are."""
    caveats = Caveats.of(r.device_mode for r in records)
    comparisons = paired_comparisons(records, alpha=alpha, claims=claims)
    cells = cell_results(records)
    workloads = linkcost.workload_transfers(records)
    rows, notes = [], []
    for claim in claims.items:
        paired = {c.key: c for c in comparisons if c.claim is not None and c.claim == claim}
        unpaired = {p.key: p for p in claim_pairs(cells, claim, alpha=alpha)}
        for workload in workloads:
            key = workload.key
            if not workload.has(claim.pair):
                continue
            try:
                p, note = compute_choice(spec, key, compute_s).predict(
                    workload.rows, spec, claim.pair, thresholds_pct=claim.range_pct or ()
                )
            except linkcost.LinkCostError as error:
                notes.append(f"{key.label}: not predicted: {error}")
                continue
            note = f"{key.label}: {note}"
            if note not in notes:
                notes.append(note)
            comparison, pair = paired.get(key), unpaired.get(key)
            estimate = comparison.estimate if comparison else None
            rows.append(
                [
                    key.model,
                    key.backend,
                    key.image_size,
                    key.batch_per_replica,
                    key.replicas,
                    f"{claim.a} vs {claim.b}",
                    p.compute_by,
                    {each: p.speedup_pct(each) for each in linkcost.ASSUMPTIONS},
                    p.claimed_speedup_pct,
                    estimate.speedup_pct if estimate else None,
                    estimate.ci_pct if estimate else None,
                    prose.paired_verdict_text(comparison, caveats) if comparison else None,
                    pair.comparison.change_pct if pair else None,
                    prose.verdict_text(pair.verdict, caveats) if pair else None,
                ]
            )
    if not rows and not notes:
        pairs = " or ".join(f"{c.a} and {c.b}" for c in claims.items)
        notes.append(f"No workload in this run has transfer audits of both {pairs}.")
    notes.append(
        f"Predicted for {spec.name} ({spec.description}); measured on "
        f"{environment.machine_label(records)}."
    )
    sequential = prose.sequential_note([c for c in comparisons if c.claim is not None])
    if sequential is not None:
        notes.append(sequential)
    for claim in claims.items:
        notes += [n for n in assumption_notes(claim.pair) if n not in notes]
    return Section(
        SECTION_TITLE,
        [
            *CELL_COLUMNS,
            Column("replicas"),
            Column("comparison"),
            Column("compute ms/step (serial / parallel)", ms_pair, "s"),
            Column("predicted (serial / parallel)", pct_pair, "%"),
            Column("claimed", formats.signed_pct, "%", missing=""),
            Column("measured paired", formats.signed_pct, "%", missing=""),
            Column(f"{stats.confidence_label(alpha)} CI", formats.pct_interval, "%", missing=""),
            Column("paired verdict", missing=""),
            Column("measured unpaired", formats.signed_pct, "%", missing=""),
            Column("unpaired verdict", missing=""),
        ],
        rows,
        notes,
    )
