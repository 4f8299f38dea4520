"""How a number is shown on screen: one function per kind of value. Bytes in data, MiB here.

A report section keeps the numbers; its columns name one of these to turn them into text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MIB = 2**20


def text(value: object) -> str:
    return str(value)


def rate(value: float) -> str:
    return f"{value:,.1f}"


def interval(value: Sequence[float]) -> str:
    return f"[{value[0]:,.1f}, {value[1]:,.1f}]"


def signed_pct(value: float) -> str:
    return f"{value:+.1f}%"


def pct1(value: float) -> str:
    return f"{value:.1f}%"


def processes_per_side(value: Mapping[str, int]) -> str:
    return " / ".join(str(n) for n in value.values())


def _pct_end(value: float) -> str:
    # A first look's interval may reach past +1e20% (one df at a tiny alpha): digits say nothing.
    return f"{value:+.1f}" if abs(value) < 1e4 else f"{value:+.3g}"


def pct_interval(value: Sequence[float]) -> str:
    return f"[{_pct_end(value[0])}, {_pct_end(value[1])}]%"


def p_value(value: float) -> str:
    return f"{value:.3g}"


def seconds(value: float) -> str:
    return f"{value:.2f}"


def milliseconds(value_s: float) -> str:
    return f"{value_s * 1000:,.1f}"


def milliseconds_fine(value_s: float) -> str:
    """ms with the decimals a tiny model's ops need (microseconds each)."""
    value = value_s * 1000
    return "0" if value == 0 else f"{value:,.1f}" if value >= 10 else f"{value:.3f}"


def fraction_pct0(value: float) -> str:
    return f"{value:.0%}"


def fraction_pct1(value: float) -> str:
    return f"{value:.1%}"


def times(value: float) -> str:
    return f"{value:.2f}x"


def mib(value_bytes: int) -> str:
    return f"{value_bytes / MIB:,.0f}"


def mib_fine(value_bytes: int) -> str:
    """MiB with the decimals a small tensor needs (a batch of 32 px images is well under 1)."""
    value = value_bytes / MIB
    if value_bytes == 0:
        return "0"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def joules(value: float) -> str:
    """Joules to three significant figures (J/image spans 0.01 to 10 across GPUs and models)."""
    return f"{value:.3g}"


def mean_stdev(value: Mapping[str, float]) -> str:
    return f"{value['mean']:,.1f} ± {value['stdev']:,.1f}"


def ok_of_runs(value: Mapping[str, int]) -> str:
    return f"{value['ok']}/{value['runs']}"


def devices_mib(value: Mapping[str, int]) -> str:
    # NVML keys are physical GPU indices; TF keys are logical device names.
    return " · ".join(f"{'#' + d if d.isdigit() else d} {mib(v)}" for d, v in value.items())


def devices_mib_fine(value: Mapping[str, int]) -> str:
    """``GPU:0 8.00 · GPU:1 8.00``: bytes per device in MiB, small ones with decimals."""
    return " · ".join(f"{d} {mib_fine(v)}" for d, v in value.items())


def device_list(value: Sequence[str] | str) -> str:
    """Devices, or ``-`` for none; a string is a reason why there is no list."""
    if isinstance(value, str):
        return value
    return ", ".join(value) or "-"


def unplaced_ops(value: Mapping[str, object]) -> str:
    return f"{value['ops']} (→ {value['default_device']})"
