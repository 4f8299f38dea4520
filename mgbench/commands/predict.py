"""``mgbench predict RUN --hardware NAME|FILE.toml``: a run's transfer audits on a hardware
spec's links, as each strategy's copy time per step and, for each claim (or question) whose two
strategies a workload has, the speed-up of its first over its second that implies, with where it
crosses a claimed range."""

from __future__ import annotations

import argparse
from pathlib import Path

from mgbench.analysis.claim import DEFAULT_CLAIMS, Claims
from mgbench.commands import flags
from mgbench.config import hardware_specs
from mgbench.records import store

NAME = "predict"
HELP = (
    "each split's copy time per step on a hardware spec, from a run's transfer audits, and the "
    "claimed speed-up it implies"
)


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run folder or its results.jsonl")
    flags.add_hardware(parser, required=True)
    parser.add_argument(
        "--compute-ms",
        type=flags.milliseconds,
        help="compute time per step (default: from the spec's published throughput for the "
        "workload, else the sweep only)",
    )
    flags.add_claim(parser)


def run_from_args(args: argparse.Namespace) -> int:
    print(predict_command(args.run, args.hardware, args.compute_ms, flags.claims(args)))
    return 0


def predict_command(
    run: str | Path,
    hardware: str | Path,
    compute_ms: float | None = None,
    claims: Claims = DEFAULT_CLAIMS,
) -> str:
    """The prediction tables of every workload of ``run`` that has audits of both strategies
    of a claim (or question), per claim; a claimed range gives the thresholds.

    Bad input raises ValueError with one line: an unknown spec or a malformed hardware file
    (:class:`~mgbench.config.hardware_specs.HardwareSpecError`), an unreadable run, a run
    without transfer audits, or none with both strategies of any claim.
    """
    from mgbench.analysis import linkcost
    from mgbench.present import prediction
    from mgbench.present.render import table

    if compute_ms is not None and not compute_ms >= 0:
        raise ValueError(f"--compute-ms: expected a time >= 0, got {compute_ms}")
    spec = hardware_specs.load_spec(hardware)
    folder, results_path = store.locate(run)
    run_records = store.read_run(results_path)
    records = list(run_records.records)
    workloads = linkcost.workload_transfers(records)
    if not workloads:
        raise ValueError(f"no record in {run} has a transfer audit; re-run it with this mgbench")
    paired = [(w, c) for c in claims.items for w in workloads if w.has(c.pair)]
    if not paired:
        audited = ", ".join(sorted({s for w in workloads for s in w.rows}))
        pairs = " or ".join(f"{c.a} and {c.b}" for c in claims.items)
        raise ValueError(
            f"no workload in {run} has transfer audits of both {pairs} (audited: {audited})"
        )
    compute_s = None if compute_ms is None else compute_ms / 1000
    out = [
        f"# mgbench predict: {folder.name} on {spec.name}",
        "",
        f"Hardware: {spec.description} ({spec.path}).",
        "",
    ]
    out += [f"- {warning}" for warning in run_records.warnings]
    errors = []
    for workload, claim in paired:
        title = f"{workload.key.label}: {claim.a} vs {claim.b}"
        try:
            out.append(
                prediction.workload_text(
                    workload.rows,
                    spec,
                    key=workload.key,
                    compute_s=compute_s,
                    title=title,
                    claim=claim,
                )
            )
        except linkcost.LinkCostError as error:
            errors.append(f"{title}: {error}")
            out += [f"## {title}", "", f"Not predicted: {error}", ""]
    if len(errors) == len(paired):
        raise ValueError(f"nothing in {run} can be predicted on {spec.name}: {errors[0]}")
    section = prediction.prediction_section(records, spec, compute_s=compute_s, claims=claims)
    out += [f"## {section.title}", ""]
    if section.rows:
        out += [table(section), ""]
    # The assumptions are already under each workload's tables.
    assumptions = {n for c in claims.items for n in prediction.assumption_notes(c.pair)}
    out += [f"- {n}" for n in section.notes if n not in assumptions]
    return "\n".join(out).rstrip() + "\n"
