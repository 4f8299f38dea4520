"""``mgbench devices``: the GPUs, NVML and device simulation mgbench sees here."""

from __future__ import annotations

import argparse

NAME = "devices"
HELP = "print the GPUs, NVML and simulation mgbench sees"


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments."""


def run_from_args(args: argparse.Namespace) -> int:
    return devices_command()


def devices_command() -> int:
    from mgbench.platform import hardware, quiet

    # TF's and absl's start-up lines go to a log file (shown with --verbose, or on a failure).
    with quiet.native_stderr_to_log("devices") as log:
        text = hardware.describe_devices()
    print(text)
    if log is not None:
        print(f"TensorFlow's start-up output: {log} (--verbose shows it)")
    return 0
