"""``mgbench devices``: the GPUs, NVML and device simulation mgbench sees here."""

from __future__ import annotations


def devices_command() -> int:
    from mgbench.platform import hardware, quiet

    # TF's and absl's start-up lines go to a log file (shown with --verbose, or on a failure).
    with quiet.native_stderr_to_log("devices") as log:
        text = hardware.describe_devices()
    print(text)
    if log is not None:
        print(f"TensorFlow's start-up output: {log} (--verbose shows it)")
    return 0
