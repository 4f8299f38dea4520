"""``mgbench devices``: the GPUs, NVML and device simulation mgbench sees here."""

from __future__ import annotations


def devices_command() -> int:
    from mgbench.platform import hardware

    print(hardware.describe_devices())
    return 0
