"""The claim's six configurations on paper: trace PR #10230's rows through the three splits and
write ``results/claim-configs/``. A benchmark that prints numbers, not a test.

For each of the PR's six rows (4 GPUs; model, image size, batch per GPU) and each backend, one
``mgbench placement ... --hardware all --audit-json`` process traces in-place, whole-batch and
concat (nothing is timed) and its output is kept as ``<row>-<backend>.md``. From the audits on
GPUs it then writes ``predictions.md``: the memory half (batch data per GPU and duplication
factor per split, exact from the audit) and, per hardware spec, the predicted speed-up of
in-place over whole-batch (the claim) and over concat (the seed's question) under both copy
assumptions, beside the gain PR #10230 measured, with the saved time and the host -> GPU rate
that measured gain would need. Re-running it rewrites the same files from a fresh trace.

    python benchmarks/claim_configs.py [--out results/claim-configs] [--backends keras3,tf_keras]
    python benchmarks/claim_configs.py --tables-only   # predictions.md from the audits there
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from mgbench.analysis import linkcost
from mgbench.analysis.cells import CellKey
from mgbench.analysis.claim import DEFAULT_CLAIMS, PR_10230, Evidence
from mgbench.analysis.duplication import duplication_row
from mgbench.config import hardware_specs
from mgbench.present import formats, prediction, prose
from mgbench.present.model import Column, Section
from mgbench.present.render import table
from mgbench.records import environment
from mgbench.transfers import TRANSFER_ROLES, Transfer, resolved_split
from mgbench.vocabulary import WRAPPERS, Strategy

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("keras3", "tf_keras")
CLASSES = 1000
CLAIM_MACHINE = "4xP100-pcie3"
ROLES = TRANSFER_ROLES


def row_name(evidence: Evidence) -> str:
    return f"{evidence.model}-{evidence.image_size}px-b{evidence.batch_per_replica}"


def placement_command(evidence: Evidence, backend: str, audit: Path) -> list[str]:
    return [
        "mgbench",
        "placement",
        "--replicas",
        str(evidence.replicas),
        "--model",
        evidence.model,
        "--image-size",
        str(evidence.image_size),
        "--batch-per-replica",
        str(evidence.batch_per_replica),
        "--classes",
        str(CLASSES),
        "--backend",
        backend,
        "--hardware",
        "all",
        "--audit-json",
        str(audit),
    ]


def traced_on() -> str:
    env = environment.host_environment()
    versions = env.get("packages") or {}  # installed, not imported: this script imports no TF
    commit = (env.get("git_commit") or "?")[:7] + (" (uncommitted)" if env.get("git_dirty") else "")
    return (
        f"Traced (nothing timed) on `{env.get('host')}` ({env.get('cpu')}, no GPU: CPU "
        "simulation; the *on gpus* tables are TF's placer rules applied as on a GPU machine), "
        f"mgbench {commit}, TF {versions.get('tensorflow')}, Keras {versions.get('keras')}, "
        f"tf_keras {versions.get('tf-keras')}, {date.today().isoformat()}."
    )


def trace(out: Path, backends: Sequence[str], header: str) -> None:
    """One placement process per row and backend; its output and its audits under ``out``."""
    audits = out / "audits"
    audits.mkdir(parents=True, exist_ok=True)
    for evidence in PR_10230:
        for backend in backends:
            name = f"{row_name(evidence)}-{backend}"
            command = placement_command(evidence, backend, audits / f"{name}.json")
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "mgbench.cli", *command[1:]],
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            if done.returncode != 0:
                raise SystemExit(f"{name}: placement failed:\n{done.stderr[-2000:]}")
            shown = " ".join(command[:-2])  # the audit file is this script's, not the reader's
            text = f"# `{shown}`\n\n{header}\n\n```\n{done.stdout.rstrip()}\n```\n"
            (out / f"{name}.md").write_text(text, encoding="utf-8")
            print(f"{name}: traced in {time.perf_counter() - started:.0f} s", flush=True)


def read_audits(path: Path) -> tuple[CellKey, dict[str, list[Transfer]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    key = CellKey(**data["workload"])
    rows = {
        name: [Transfer(r["src"], r["dst"], r["role"], r["bytes"]) for r in found]
        for name, found in data["on_gpus"].items()
    }
    return key, rows


def measured_range_pct(evidence: Evidence) -> tuple[float, float]:
    """The PR's gain with its integers' rounding (each img/s figure +-0.5)."""
    before, after = evidence.before_img_s, evidence.after_img_s
    return ((after - 0.5) / (before + 0.5) - 1) * 100, ((after + 0.5) / (before - 0.5) - 1) * 100


def roles_section(audited: Mapping[str, tuple[CellKey, dict[str, list[Transfer]]]]) -> Section:
    """Each row's three traced splits on GPUs: MiB per step by role, and the split the rows
    resolve to (what the wrapper really did, whatever it is called)."""
    rows = []
    for evidence in PR_10230:
        key, by_split = audited[row_name(evidence)]
        for strategy in (s for s in WRAPPERS if s in by_split):
            found = by_split[strategy]
            by_role = {
                role: sum(r.bytes for r in found if r.role == role) for role in TRANSFER_ROLES
            }
            rows.append(
                [
                    row_name(evidence),
                    strategy,
                    *by_role.values(),
                    sum(by_role.values()),
                    resolved_split(found, key.replicas) or "none",
                ]
            )
    return Section(
        "Bytes moved per step on GPUs, by role (MiB, keras3; as `mgbench placement` traced them)",
        [
            Column("PR row (4 GPUs)"),
            Column("split"),
            *(Column(role, formats.mib_fine, "bytes") for role in (*ROLES, "total")),
            Column("resolves to"),
        ],
        rows,
    )


def memory_section(audited: Mapping[str, tuple[CellKey, dict[str, list[Transfer]]]]) -> Section:
    rows = []
    for evidence in PR_10230:
        key, by_split = audited[row_name(evidence)]
        split_rows = {s: duplication_row(key, s, by_split[s]) for s in WRAPPERS if s in by_split}
        inplace = split_rows[Strategy.INPLACE]
        for strategy, row in split_rows.items():
            rows.append(
                [
                    row_name(evidence),
                    strategy,
                    row.batch_bytes,
                    row.per_gpu_bytes,
                    row.total_bytes,
                    row.factor,
                    None
                    if strategy == Strategy.INPLACE
                    else {
                        gpu: row.per_gpu_bytes[gpu] - inplace.per_gpu_bytes[gpu]
                        for gpu in row.per_gpu_bytes
                    },
                ]
            )
    return Section(
        "The memory half: batch data on each GPU per step (exact from the audit, keras3)",
        [
            Column("PR row (4 GPUs)"),
            Column("split"),
            Column("batch MiB", formats.mib_fine, "bytes"),
            Column("batch data per GPU (MiB)", formats.devices_mib_fine, "bytes"),
            Column("on all GPUs MiB", formats.mib_fine, "bytes"),
            Column("duplication", formats.times, "ratio"),
            Column("more than in-place, per GPU (MiB)", formats.devices_mib_fine, "bytes", ""),
        ],
        rows,
        [prose.DUPLICATION_NOTE],
    )


def prediction_sections(
    audited: Mapping[str, tuple[CellKey, dict[str, list[Transfer]]]],
) -> tuple[Section, list[str]]:
    """Six rows x two comparisons x every spec, serial / parallel, beside the PR's gain; and a
    line per row on the claim's machine saying whether the copies can explain that gain."""
    specs = [hardware_specs.load_spec(name) for name in hardware_specs.names()]
    rows: list[list[object]] = []
    verdicts = []
    for evidence in PR_10230:
        key, by_split = audited[row_name(evidence)]
        for spec in specs:
            choice = prediction.compute_choice(spec, key)
            predicted = {}
            compute = None
            for claim in DEFAULT_CLAIMS.items:
                p, _ = choice.predict(by_split, spec, claim.pair)
                predicted[claim.pair] = {a: p.speedup_pct(a) for a in linkcost.ASSUMPTIONS}
                compute = p.compute_by
                if spec.name == CLAIM_MACHINE and claim is DEFAULT_CLAIMS.primary:
                    verdicts.append(explained(evidence, p))
            rows.append(
                [
                    row_name(evidence),
                    spec.name,
                    compute,
                    *predicted.values(),
                    evidence.gain_pct,
                ]
            )
    a, b = (prose.split_name(s) for s in DEFAULT_CLAIMS.primary.pair)
    c = prose.split_name(DEFAULT_CLAIMS.items[1].b)
    section = Section(
        "Predicted speed-up of in-place, per hardware spec (serial / parallel copies)",
        [
            Column("PR row (4 GPUs)"),
            Column("spec"),
            Column("compute ms/step (serial / parallel)", prediction.ms_pair, "s"),
            Column(f"{a} over {b} (the claim)", prediction.pct_pair, "%"),
            Column(f"{a} over {c} (the seed's question)", prediction.pct_pair, "%"),
            Column("PR #10230 measured (4 x P100)", formats.signed_pct, "%"),
        ],
        rows,
        [
            "compute: from each spec's published throughput for the workload (same model within "
            "2x the pixels, scaled; time per image constant across batch sizes); on "
            f"{CLAIM_MACHINE} it is the PR's own 'before' step less the whole-batch split's "
            "predicted copies under each assumption, so the prediction and the PR's step agree on "
            "what 'before' took. n/a: the spec has no throughput for the model.",
            *prediction.assumption_notes(DEFAULT_CLAIMS.primary.pair),
        ],
    )
    return section, verdicts


def explained(evidence: Evidence, p: linkcost.Prediction) -> str:
    """Whether the copy model can explain the PR's measured gain on its own machine, and what
    saved time and host -> GPU rate the measured gain would need."""
    low, high = measured_range_pct(evidence)
    step_s = evidence.global_batch / evidence.before_img_s
    needed_s = step_s * (evidence.gain_pct / 100) / (1 + evidence.gain_pct / 100)
    serial, parallel = (p.speedup_pct(a) or 0.0 for a in linkcost.ASSUMPTIONS)
    extra_bytes = p.b.bytes_by_class["host->GPU"] - p.a.bytes_by_class["host->GPU"]
    rate = extra_bytes / needed_s / 1e9
    head = (
        f"- {row_name(evidence)} x4: measured {formats.signed_pct(evidence.gain_pct)} "
        f"(rounding: {low:+.1f} to {high:+.1f}%), predicted {formats.signed_pct(serial)} serial / "
        f"{formats.signed_pct(parallel)} parallel. That gain needs {needed_s * 1000:.1f} ms saved "
        f"per step: the whole-batch split's {extra_bytes / 1e6:,.0f} MB of extra host -> GPU "
        f"copies at {rate:.1f} GB/s"
    )
    if high < min(serial, parallel):
        return head + ": the copies predict MORE than was measured (the copies overlap compute)."
    if low <= max(serial, parallel):
        return head + ": within what the copy model predicts; the copies can explain it."
    return (
        head + f", below the {p.spec}'s measured pinned rate: the copy model cannot explain it. "
        "What else could: copies from pageable memory (TF stages unpinned host tensors, often "
        "at a fraction of the pinned rate), copies serialised on one stream with the slicing "
        "waiting for them, a per-step fixed cost of the whole-batch split's device-side slicing, "
        "and the PR's single unrepeated measurement per row (no spread was reported)."
    )


def tables(out: Path, header: str) -> str:
    audits = out / "audits"
    audited = {}
    same_on_both: list[str] = []
    for evidence in PR_10230:
        name = row_name(evidence)
        key, rows = read_audits(audits / f"{name}-keras3.json")
        audited[name] = (key, rows)
        other = audits / f"{name}-tf_keras.json"
        if other.exists():
            _, graph_rows = read_audits(other)
            batch = {s: duplication_row(key, s, rows[s]).per_gpu_bytes for s in rows}
            graph = {s: duplication_row(key, s, graph_rows[s]).per_gpu_bytes for s in graph_rows}
            same_on_both.append(f"{name}: {'the same' if batch == graph else 'DIFFERENT'}")
    moved = roles_section(audited)
    memory = memory_section(audited)
    predicted, verdicts = prediction_sections(audited)
    parts = [
        "# PR #10230's six configurations: the memory half and the predicted speed-ups",
        f"Written by `python benchmarks/claim_configs.py` from the audits in `audits/` "
        f"({header[:-1].replace('Traced (nothing timed)', 'traced')}). Each row's placement, "
        "transfer tables and per-spec predictions are in `<row>-<backend>.md`.",
        f"## {moved.title}",
        table(moved),
        f"## {memory.title}",
        table(memory),
        *(f"- {note}" for note in memory.notes),
        "- Batch data per GPU on tf_keras (graph mode) against keras3: "
        + ("; ".join(same_on_both) or "not traced")
        + ".",
        f"## {predicted.title}",
        table(predicted),
        *(f"- {note}" for note in predicted.notes),
        f"## Can the copies explain the gains PR #10230 measured on {CLAIM_MACHINE}?",
        *verdicts,
    ]
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "claim-configs")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--tables-only", action="store_true")
    args = parser.parse_args()
    # Read once, before this script writes anything: its own new files would mark the tree dirty.
    header = traced_on()
    if not args.tables_only:
        trace(args.out, [b for b in args.backends.split(",") if b], header)
    text = tables(args.out, header)
    (args.out / "predictions.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
