"""Whether a change of the harness left a paired process's steps as they were: the first steps of
each wrapper with seeded weights and deterministic ops, losses written bit for bit.

Run it once with the tree before the change and once with the tree after it (each its own
process, ``PYTHONPATH`` at that tree), then compare: the same ops in the same order give the same
losses bit for bit; a step traced twice would show as a slow second step in ``times``.

    (cd BEFORE && PYTHONPATH=. python benchmarks/seeded_steps.py run MobileNetV2 > /tmp/a.json)
    (cd AFTER && PYTHONPATH=. python benchmarks/seeded_steps.py run MobileNetV2 > /tmp/b.json)
    python benchmarks/seeded_steps.py compare /tmp/a.json /tmp/b.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

STRATEGIES = ("inplace", "wholebatch", "concat")
STEPS = 5


def run(model: str) -> dict[str, Any]:
    """Each wrapper's first ``STEPS`` steps over one seeded template: losses (hex) and seconds."""
    from mgbench import backends
    from mgbench.config.suite import Cell
    from mgbench.platform import lazy

    backend = backends.get("keras3")
    backend.prepare_process(2)
    lazy.tensorflow().config.experimental.enable_op_determinism()
    lazy.keras().utils.set_random_seed(0)
    cell = Cell(
        model=model,
        image_size=32,
        classes=10,
        batch_per_replica=8,
        strategy=STRATEGIES[0],
        replicas=2,
        warmup_steps=2,
        timed_steps=10,
        input="host",
        weights="cpu",
        dtype="float32",
        timeout_s=300.0,
        placement=False,
        versus=STRATEGIES[1],
        also=STRATEGIES[2:],
        rounds=8,
        block_steps=5,
    )
    out: dict[str, Any] = {}
    for name, built in zip(STRATEGIES, backend.build_many(cell, STRATEGIES), strict=True):
        step = backend.step_function(cell, built)
        losses, times = [], []
        for _ in range(STEPS):
            began = time.perf_counter()
            losses.append(float.hex(step()))
            times.append(round(time.perf_counter() - began, 3))
        out[name] = {"losses": losses, "times": times}
    return out


def compare(before: dict[str, Any], after: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether every wrapper's losses are equal bit for bit; a line per wrapper."""
    lines, same = [], True
    for name in before:
        equal = before[name]["losses"] == after[name]["losses"]
        same &= equal
        lines.append(
            f"{name}: losses {'equal bit for bit' if equal else 'DIFFER'}; seconds before "
            f"{before[name]['times']}, after {after[name]['times']}"
        )
    return same, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    running = commands.add_parser("run")
    running.add_argument("model", nargs="?", default="MobileNetV2")
    comparing = commands.add_parser("compare")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        print(json.dumps(run(args.model)))
        return
    same, lines = compare(
        *(json.loads(p.read_text(encoding="utf-8")) for p in (args.before, args.after))
    )
    print("\n".join(lines))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
