"""Command-line interface: argument parsing only; each command calls one function elsewhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _devices(args: argparse.Namespace) -> int:
    from mgbench import hardware

    print(hardware.describe_devices())
    return 0


def _placement(args: argparse.Namespace) -> int:
    from mgbench import devices, probe

    mode = devices.prepare(
        args.replicas,
        virtual_gpus=args.virtual_gpus,
        virtual_gpu_memory_mb=args.virtual_gpu_memory_mb,
    )
    print(f"devices: {mode}")
    if mode == "cpu-simulation":
        print("CPU simulation: host and default device are both CPU:0, so the two splits coincide.")
    print(probe.placement_tables(args.replicas, model=args.model, image_size=args.image_size))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgbench", description="Benchmark data-parallel multi-GPU training wrappers for Keras."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    devices_cmd = commands.add_parser(
        "devices", help="print the GPUs, NVML and simulation mgbench sees"
    )
    devices_cmd.set_defaults(handler=_devices)

    placement_cmd = commands.add_parser(
        "placement", help="show where each wrapper's ops run (forward, backward, slicing, merge)"
    )
    placement_cmd.add_argument("--replicas", type=int, default=2)
    placement_cmd.add_argument("--model", default="TinyCNN")
    placement_cmd.add_argument("--image-size", type=int, default=32)
    placement_cmd.add_argument(
        "--virtual-gpus", type=int, default=0, help="split the first GPU in N"
    )
    placement_cmd.add_argument("--virtual-gpu-memory-mb", type=int, default=4096)
    placement_cmd.set_defaults(handler=_placement)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, RuntimeError) as error:
        print(f"mgbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mgbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
