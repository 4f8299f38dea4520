"""``mgbench placement``: build each strategy here (every wrapper by default) and report its
placement, transfer audit and the split that audit resolves to on GPUs, and with ``--hardware``
the speed-ups they predict on those machines."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mgbench import backends
from mgbench.analysis.claim import DEFAULT_CLAIMS, Claims
from mgbench.commands import flags
from mgbench.config import hardware_specs
from mgbench.vocabulary import DEFAULT_BACKEND, WRAPPERS, DeviceMode, Strategy

if TYPE_CHECKING:
    from mgbench import transfers
    from mgbench.analysis.cells import CellKey
    from mgbench.backends.base import Backend, BuildSpec
    from mgbench.present.model import Section

NAME = "placement"
HELP = "show where each wrapper's ops run (forward, backward, slicing, merge)"

CPU_NOTE = (
    "CPU simulation: host and default device are both CPU:0, so as run the in-place and concat "
    "splits coincide (the whole-batch split still sends every replica the whole batch); the "
    "tables on GPUs tell all three apart."
)


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--model", default="TinyCNN")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument(
        "--batch-per-replica", type=int, default=4, help="images per replica per step"
    )
    parser.add_argument("--classes", type=int, default=10)
    flags.add_hardware(
        parser,
        required=False,
        metavar="NAME|FILE.toml|all",
        help="also predict the claimed speed-up on these hardware specs",
    )
    parser.add_argument("--backend", choices=backends.names(), default=DEFAULT_BACKEND)
    flags.add_virtual_gpus(parser)
    flags.add_claim(parser)
    parser.add_argument(
        "--audit-json",
        metavar="FILE",
        help="also write each strategy's transfer audit on GPUs (bytes per link and role) as JSON",
    )


def run_from_args(args: argparse.Namespace) -> int:
    print(
        placement_tables(
            args.replicas,
            model=args.model,
            image_size=args.image_size,
            batch_per_replica=args.batch_per_replica,
            classes=args.classes,
            backend=args.backend,
            virtual_gpus=args.virtual_gpus,
            virtual_gpu_memory_mb=args.virtual_gpu_memory_mb,
            hardware=args.hardware,
            claims=flags.claims(args),
            audit_json=args.audit_json,
        )
    )
    return 0


def placement_tables(
    replicas: int,
    *,
    model: str = "TinyCNN",
    image_size: int = 32,
    classes: int = 10,
    batch_per_replica: int = 4,
    backend: str = DEFAULT_BACKEND,
    strategy_names: tuple[str, ...] = WRAPPERS,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = 0,
    hardware: str | None = None,
    claims: Claims = DEFAULT_CLAIMS,
    audit_json: str | None = None,
) -> str:
    """Prepare this fresh process's devices, build each strategy, and return its placement,
    transfer audit and the split its audit on GPUs resolves to, then the memory half (the batch
    data each split puts on each GPU); with ``hardware`` (a name, a TOML file, or ``all``) the
    predicted speed-ups on those machines too (:func:`predictions`). ``audit_json``: a file for
    the audits on GPUs, per strategy."""
    from mgbench.analysis.cells import CellKey
    from mgbench.backends.base import BuildSpec
    from mgbench.platform import quiet

    specs = _specs(hardware)  # a bad spec is refused before TF starts
    # TF's and absl's C++ start-up lines go to ~/.cache/mgbench/tf-placement.log, not the
    # terminal (--verbose shows them; on a failure the log's last lines are printed).
    with quiet.native_stderr_to_log("placement"):
        chosen = backends.get(backend)
        mode = chosen.prepare_process(
            replicas, virtual_gpus=virtual_gpus, virtual_gpu_memory_mb=virtual_gpu_memory_mb
        ).mode
        sections = [f"devices: {mode}; backend: {backend}"]
        audited: dict[str, dict[str, transfers.TransferAudit]] = {}
        if mode == DeviceMode.CPU_SIMULATION:
            sections.append(CPU_NOTE)
        for name in strategy_names:
            spec = BuildSpec(
                model=model,
                image_size=image_size,
                classes=classes,
                strategy=name,
                replicas=1 if name == Strategy.SINGLE else replicas,
                batch_per_replica=batch_per_replica,
            )
            text, audits = _traced_strategy(chosen, spec, backend)
            sections.append(text)
            if audits is not None:
                audited[name] = audits
        key = CellKey(model, image_size, batch_per_replica, replicas, backend)
        on_gpus = {name: found["on_gpus"].rows for name, found in audited.items()}
        copies = memory_half(on_gpus, key, mode, claims)
        if copies:
            sections.append(copies)
        if specs:
            sections += predictions(on_gpus, specs, key, claims)
        if audit_json is not None:
            write_audits(audit_json, key, mode, on_gpus)
        return "\n\n".join(sections)


def memory_half(
    on_gpus: Mapping[str, Sequence[transfers.Transfer]], key: CellKey, mode: str, claims: Claims
) -> str:
    """The batch data each traced wrapper puts on each GPU per step, its duplication factor,
    and what each claim's split saves on each GPU; empty with fewer than two wrappers."""
    from mgbench.analysis.claim import Caveats
    from mgbench.analysis.duplication import duplication_row
    from mgbench.present import sections

    rows = [duplication_row(key, name, on_gpus[name]) for name in WRAPPERS if name in on_gpus]
    section = sections.duplication_section(
        rows,
        [],
        Caveats.of([mode]),
        claims=claims,
        not_measured="traced only: nothing ran, so no allocator peak",
    )
    return _text(section) if section is not None and len(rows) > 1 else ""


def write_audits(
    path: str, key: CellKey, mode: str, on_gpus: Mapping[str, Sequence[transfers.Transfer]]
) -> None:
    """The audits on GPUs as JSON: the workload, and per strategy its rows."""
    import dataclasses
    import json

    data = {
        "workload": dataclasses.asdict(key),
        "device_mode": mode,
        "on_gpus": {name: [row.to_json() for row in rows] for name, rows in on_gpus.items()},
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")


def _traced_strategy(
    backend: Backend, spec: BuildSpec, backend_name: str
) -> tuple[str, dict[str, transfers.TransferAudit] | None]:
    """Build and trace one strategy: its placement, transfer tables and resolved split as text,
    and its audits (None when it is not traced)."""
    from mgbench import models, placement, transfers

    built = backend.build_compiled(spec)
    x, y = models.synthetic_batch(spec.image_size, spec.classes, spec.global_batch)
    traced, reason = backend.trace_step(built, x, y)
    title = (
        f"## {spec.strategy} ({backend_name}): {spec.model} {spec.image_size}px, "
        f"{spec.replicas} replica(s) x {spec.batch_per_replica} images"
    )
    if traced is None:
        return f"{title}\n{reason}", None
    audits = transfers.audits(traced, global_batch=spec.global_batch)
    parts = [
        placement.format_placement(traced.placement(), title),
        transfers.format_transfers(audits),
    ]
    if spec.strategy in WRAPPERS:
        parts.append(
            transfers.format_resolved_split(
                audits["on_gpus"].rows, len(traced.replica_devices), spec.strategy
            )
        )
    return "\n\n".join(parts), audits


def _specs(name: str | None) -> list[hardware_specs.HardwareSpec]:
    if name is None:
        return []
    if name == "all":
        return [hardware_specs.load_spec(each) for each in hardware_specs.names()]
    return [hardware_specs.load_spec(name)]


def predictions(
    rows: Mapping[str, Sequence[transfers.Transfer]],
    specs: Sequence[hardware_specs.HardwareSpec],
    key: CellKey,
    claims: Claims = DEFAULT_CLAIMS,
) -> list[str]:
    """Per claim (the claim's own first, then the seed's question) whose two strategies' traced
    ``on_gpus`` rows are both in ``rows``: their copy times and the predicted speed-up on each
    spec, beside the spec's measured gain where it is about that pair."""
    from mgbench.present import prediction

    return [
        _text(prediction.specs_section(rows, specs, key, pair=claim.pair))
        for claim in claims.items
        if all(strategy in rows for strategy in claim.pair)
    ]


def _text(section: Section) -> str:
    from mgbench.present.render import table

    notes = "\n".join(f"- {note}" for note in section.notes)
    return f"## {section.title}\n{table(section)}\n\n{notes}"
