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
from mgbench.analysis.claim import DEFAULT_CLAIM, Caveats, Claim
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


def ms_pair(value: Mapping[str, float]) -> str:
    return " / ".join(ms2(value[a]) for a in linkcost.ASSUMPTIONS)


def pct_pair(value: Mapping[str, float | None]) -> str:
    shown = (value[a] for a in linkcost.ASSUMPTIONS)
    return " / ".join("n/a" if pct is None else formats.signed_pct(pct) for pct in shown)


def up_to(value_s: float | None) -> str:
    return "never" if value_s is None else f"<= {ms2(value_s)} ms"


@dataclass(frozen=True)
class ComputeChoice:
    """The compute time per step a prediction uses, and a line saying where it came from."""

    seconds: float | None
    estimate: linkcost.ComputeEstimate | None
    note: str


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
    return ComputeChoice(estimate.seconds, estimate, compute_note(estimate))


def compute_note(estimate: linkcost.ComputeEstimate) -> str:
    r = estimate.reference
    text = (
        f"compute {ms2(estimate.seconds)} ms/step from {r.model} {r.image_size}px, "
        f"{r.img_s:g} img/s on {r.gpus} GPU(s) at batch {r.batch_per_gpu}/GPU ({r.precision}; "
        f"{r.source})"
    )
    if estimate.scaled:
        text += f"; time per image taken as constant for batch {estimate.batch_per_replica}"
    if estimate.sharing > 1:
        text += f"; {estimate.sharing} replicas share one chip's compute"
    if r.after_img_s is not None:
        text += (
            "; this is the claim's 'before' step time, which includes that wrapper's own copies, "
            "so it overstates compute a little and the predicted speed-up errs low"
        )
    return text + "."


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
    at = (
        f"speed-up at {ms2(prediction.compute_s)} ms compute"
        if prediction.compute_s is not None
        else "speed-up (no compute time)"
    )
    rows = [
        [
            assumption,
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
    claimed = prediction.compute.claimed_speedup_pct if prediction.compute else None
    if claimed is not None:
        notes.append(f"Claimed on this machine for this workload: {formats.signed_pct(claimed)}.")
    notes += assumption_notes((prediction.a.strategy, prediction.b.strategy))
    return Section(
        f"Predicted {a} speed-up over {b} on {prediction.spec}",
        [
            Column("assumption"),
            Column(f"{a} copy ms", ms2, "s"),
            Column(f"{b} copy ms", ms2, "s"),
            Column("saved ms", ms2, "s"),
            Column(at, formats.signed_pct, "%"),
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
    prediction = linkcost.predict(
        rows_by_strategy,
        spec,
        compute_s=choice.seconds,
        compute=choice.estimate,
        pair=claim.pair,
        thresholds_pct=claim.range_pct,
    )
    return prediction_text(prediction, choice.note, title)


def specs_section(
    rows_by_strategy: Mapping[str, Sequence[Transfer]],
    specs: Sequence[HardwareSpec],
    key: CellKey,
    title: str | None = None,
    pair: tuple[str, str] = DEFAULT_CLAIM.pair,
    claimed: bool = True,
) -> Section:
    """One workload on several specs: copy times of ``pair``'s two strategies, the predicted
    speed-up of the first at each spec's reference compute time, and the claim's own figure
    where the spec has one (``claimed``: only beside the pair that figure is about)."""
    a, b = (prose.split_name(s) for s in pair)
    rows, notes = [], []
    for spec in specs:
        if key.replicas > spec.gpus:
            notes.append(f"{spec.name}: has {spec.gpus} GPUs, fewer than {key.replicas}")
            continue
        choice = compute_choice(spec, key)
        p = linkcost.predict(
            rows_by_strategy, spec, compute_s=choice.seconds, compute=choice.estimate, pair=pair
        )
        rows.append(
            [
                spec.name,
                choice.seconds,
                {each: p.a.seconds(each) for each in linkcost.ASSUMPTIONS},
                {each: p.b.seconds(each) for each in linkcost.ASSUMPTIONS},
                {each: p.speedup_pct(each) for each in linkcost.ASSUMPTIONS},
                p.compute.claimed_speedup_pct if p.compute and claimed else None,
            ]
        )
        notes.append(f"{spec.name}: {choice.note}")
    return Section(
        title or f"{key.label}: predicted {a} speed-up over {b} per hardware spec",
        [
            Column("spec"),
            Column("compute ms/step", ms2, "s"),
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
    claim: Claim = DEFAULT_CLAIM,
    alpha: float = stats.DEFAULT_ALPHA,
) -> Section:
    """(c): per workload of a run, the predicted speed-up of the claim's first strategy on
    ``spec`` beside the run's measured one (paired headline and unpaired cross-check), where
    the run has them; their verdicts qualified and marked as every section's are."""
    caveats = Caveats.of(r.device_mode for r in records)
    paired = {c.key: c for c in paired_comparisons(records, alpha=alpha, claim=claim) if c.is_claim}
    unpaired = {p.key: p for p in claim_pairs(cell_results(records), claim, alpha=alpha)}
    rows, notes = [], []
    for workload in linkcost.workload_transfers(records):
        key = workload.key
        if not workload.has(claim.pair):
            continue
        try:
            choice = compute_choice(spec, key, compute_s)
            p = linkcost.predict(
                workload.rows,
                spec,
                compute_s=choice.seconds,
                compute=choice.estimate,
                pair=claim.pair,
                thresholds_pct=claim.range_pct,
            )
        except linkcost.LinkCostError as error:
            notes.append(f"{key.label}: not predicted: {error}")
            continue
        notes.append(f"{key.label}: {choice.note}")
        comparison, pair = paired.get(key), unpaired.get(key)
        estimate = comparison.estimate if comparison else None
        rows.append(
            [
                key.model,
                key.backend,
                key.image_size,
                key.batch_per_replica,
                key.replicas,
                choice.seconds,
                {each: p.speedup_pct(each) for each in linkcost.ASSUMPTIONS},
                p.compute.claimed_speedup_pct if p.compute else None,
                estimate.speedup_pct if estimate else None,
                estimate.ci_pct if estimate else None,
                prose.paired_verdict_text(comparison, caveats) if comparison else None,
                pair.comparison.change_pct if pair else None,
                prose.verdict_text(pair.verdict, caveats) if pair else None,
            ]
        )
    if not rows and not notes:
        notes.append(
            f"No workload in this run has transfer audits of both {claim.a} and {claim.b}."
        )
    notes.append(
        f"Predicted for {spec.name} ({spec.description}); measured on "
        f"{environment.machine_label(records)}."
    )
    notes += assumption_notes(claim.pair)
    return Section(
        SECTION_TITLE,
        [
            *CELL_COLUMNS,
            Column("replicas"),
            Column("compute ms/step", ms2, "s"),
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
