"""``mgbench placement``: build each strategy here and report its placement and transfer audit,
and with ``--hardware`` the speed-up they predict on those machines."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mgbench import backends
from mgbench.analysis.claim import DEFAULT_CLAIM, Claim
from mgbench.commands import flags
from mgbench.config import hardware_specs
from mgbench.vocabulary import DEFAULT_BACKEND, WRAPPERS, DeviceMode, Strategy

if TYPE_CHECKING:
    from mgbench import transfers
    from mgbench.analysis.cells import CellKey
    from mgbench.present.model import Section

NAME = "placement"
HELP = "show where each wrapper's ops run (forward, backward, slicing, merge)"

CPU_NOTE = "CPU simulation: host and default device are both CPU:0, so the two splits coincide."


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
            claim=flags.claims(args).primary,
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
    claim: Claim = DEFAULT_CLAIM,
) -> str:
    """Prepare this fresh process's devices, build each strategy, and return its placement and
    transfer audit; with ``hardware`` (a name, a TOML file, or ``all``) the predicted
    speed-up of the claim's first strategy on those machines too."""
    from mgbench import models, placement, transfers
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
            count = 1 if name == Strategy.SINGLE else replicas
            spec = BuildSpec(
                model=model,
                image_size=image_size,
                classes=classes,
                strategy=name,
                replicas=count,
                batch_per_replica=batch_per_replica,
            )
            built = chosen.build_compiled(spec)
            x, y = models.synthetic_batch(image_size, classes, spec.global_batch)
            traced, reason = chosen.trace_step(built, x, y)
            title = (
                f"## {name} ({backend}): {model} {image_size}px, {count} replica(s) x "
                f"{batch_per_replica} images"
            )
            if traced is None:
                sections.append(f"{title}\n{reason}")
                continue
            audits = transfers.audits(traced, global_batch=spec.global_batch)
            audited[name] = audits
            sections.append(placement.format_placement(traced.placement(), title))
            sections.append(transfers.format_transfers(audits))
        if specs and all(s in audited for s in claim.pair):
            key = CellKey(model, image_size, batch_per_replica, replicas, backend)
            sections += predictions(
                {s: audited[s]["on_gpus"].rows for s in claim.pair}, specs, key, claim
            )
        return "\n\n".join(sections)


def _specs(name: str | None) -> list[hardware_specs.HardwareSpec]:
    if name is None:
        return []
    if name == "all":
        return [hardware_specs.load_spec(each) for each in hardware_specs.names()]
    return [hardware_specs.load_spec(name)]


def predictions(
    rows: dict[str, Sequence[transfers.Transfer]],
    specs: Sequence[hardware_specs.HardwareSpec],
    key: CellKey,
    claim: Claim = DEFAULT_CLAIM,
) -> list[str]:
    """The claim's two strategies on each spec, and its first against the baseline the PR
    measured (the whole batch to every replica, derived from that strategy's audit)."""
    from mgbench import transfers
    from mgbench.present import prediction, prose

    whole_batch = "Keras 2.1 split"
    derived = {
        claim.a: rows[claim.a],
        whole_batch: transfers.whole_batch_to_every_replica(rows[claim.a]),
    }
    return [
        _text(prediction.specs_section(rows, specs, key, pair=claim.pair)),
        _text(
            prediction.specs_section(
                derived,
                specs,
                key,
                title=f"{key.label}: predicted {prose.split_name(claim.a)} speed-up over "
                "Keras <= 2.1's split (whole batch to every replica, the claim's own baseline; "
                "derived)",
                pair=(claim.a, whole_batch),
            )
        ),
    ]


def _text(section: Section) -> str:
    from mgbench.present.render import table

    notes = "\n".join(f"- {note}" for note in section.notes)
    return f"## {section.title}\n{table(section)}\n\n{notes}"
