"""The benchmark record: one cell run (one process), typed, versioned, owning its JSON.

A record is built in one place, :meth:`Record.from_payload`, from the cell, the worker's payload
and the run's context. :meth:`Record.from_json` is the only place that tolerates fields missing
from older files; everywhere else a field the schema may leave out is ``X | None`` in the type,
and readers decide what absence means. JSON field names never change (later versions add fields).

So a paired process of more than two strategies (a cell with ``also``) is written in schema 1 as
one of two is, plus what only it has: ``paired.others`` and ``paired.others_first_step_s``, and
per round ``order`` and ``others_step_s`` (:class:`Paired`, :class:`PairedRound`). Every field a
process of two writes keeps its shape and meaning (``a``/``b`` and their blocks, ``first``), and
a record of two is written as before. Since their phases were recorded, every paired process adds
``paired.phases_s``, ``paired.warmup_step_s`` and ``paired.step_function_s`` (by label, a, b, then
the others); a record from an older file has them None and is written back without them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mgbench.config.checks import (
    Fields,
    Place,
    finite_number,
    flag,
    integer,
    items,
    listed,
    mapping,
    required,
    text,
)
from mgbench.config.suite import Cell
from mgbench.transfers import Transfer

T = TypeVar("T")

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "timeout", "skipped")
CHECKSUM_KEY = "checksum"
CHECKSUM_ALGORITHM = "sha256"

# How a skipped record's reason starts when its paired cell ran until decided (``until_decided``)
# and an earlier look stopped it: the process was not needed, and ``--resume`` does not run it.
NOT_NEEDED_REASON = "not needed:"
# Why a look stops a cell: its comparisons are decided, or no remaining process could decide them.
DECIDED = "decided"
FUTILE = "futile"
STOP_ENDINGS = (DECIDED, FUTILE)


def not_needed_reason(ending: str, processes: int, looks: int, why: str = "") -> str:
    """A not-needed process's reason: ``not needed: decided after 3 processes (look 2 of 5)``,
    then the design's ``why``. ``processes`` is what the stopping look read (its look is the
    ``processes - 1``-th: the first comes after the second process), ``looks`` the design's."""
    if ending not in STOP_ENDINGS:
        raise ValueError(f"a look stops a cell as {' or '.join(STOP_ENDINGS)}, not {ending!r}")
    said = f"{ending} after {processes} processes (look {processes - 1} of {looks})"
    detail = why.removeprefix(said).lstrip(": ")  # the design may say the look's words too
    return f"{NOT_NEEDED_REASON} {said}" + (f": {detail}" if detail else "")


def not_needed_ending(status: str, reason: str | None) -> str | None:
    """``decided`` or ``futile`` for a process a look made unnecessary; None for any other."""
    if status != "skipped" or not (reason or "").startswith(NOT_NEEDED_REASON):
        return None
    word = (reason or "").removeprefix(NOT_NEEDED_REASON).split(maxsplit=1)[:1]
    return word[0] if word and word[0] in STOP_ENDINGS else None


class RecordError(ValueError):
    """A JSON object is not a valid record; the message names the field."""


# -- reading JSON (readers: config.checks): absence -> None, a wrong type -> RecordError ---------


def _top_level(_: str, key: str) -> str:
    return key  # a record's own fields are named bare: "cell_id: missing"


_RECORD = Place("record", RecordError, key_name=_top_level)


def _field(path: str) -> Place:
    """A JSON field's place, named by its path: ``timing``, ``workers[1]``."""
    return Place(path, RecordError)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _object(data: Any, place: Place) -> Fields:
    """An object's fields; a refusal names the type it got."""
    return Fields(mapping(data, place, expected="an object", show=_type_name), place)


def _step_time(value: Any, place: Place) -> float:
    """One step's seconds, finite and > 0. A step takes some time; 0, a negative, nan or inf
    (Python's JSON writes the last two) is a broken timer, and would reach an estimator as the
    log of 0 or of nan. Refused here, where the record names the field and, from a worker's
    payload, the cell (:meth:`Record.from_payload`)."""
    number = finite_number(value, place)
    if number <= 0:
        raise place.expected("a step time > 0 s", value)
    return number


def _step_times(value: Any, place: Place, *, empty_ok: bool = False) -> tuple[float, ...]:
    """A block of step times, each by :func:`_step_time` at its index (``timing.step_s[3]``);
    empty only where ``empty_ok`` (no warm-up steps): a timed block without steps has no
    median."""
    values = listed(value, place, expected="a list of step times")
    if not values and not empty_ok:
        raise place.error("no step times: a timed block needs at least one")
    return tuple(
        required(item, dataclasses.replace(place, name=f"{place.name}[{i}]"), _step_time)
        for i, item in enumerate(values)
    )


def _seconds(value: Any, place: Place) -> float:
    """A span of seconds on a monotonic clock (a phase, a step function's making): finite and
    >= 0 (a phase may be too short for the clock to see)."""
    number = finite_number(value, place)
    if number < 0:
        raise place.expected("seconds >= 0", value)
    return number


def _phases(value: Any, place: Place) -> dict[str, float]:
    """A process's phases (``mgbench.trackers.phases``), name -> seconds, in the order they ran."""
    return _values(value, place, _seconds)


def _texts(value: Any, place: Place) -> tuple[str, ...]:
    return items(value, place, text, expected="a list of strings")


def _values(value: Any, place: Place, read: Callable[[Any, Place], T]) -> dict[str, T]:
    """An object's values (keyed by a device, a phase...), each read at the object's place."""
    return {str(k): required(v, place, read) for k, v in _object(value, place).data.items()}


_CELL_TYPES = {
    "str": str,
    "int": int,
    "float": int | float,
    "bool": bool,
    "str | None": str | None,
    "int | None": int | None,
}


def _cell(data: Any) -> Cell:
    place = _field("cell")
    d = _object(data, place).data
    for field in dataclasses.fields(Cell):
        value = d.get(field.name)
        if str(field.type) == "tuple[str, ...]":  # a paired cell's ``also``
            if field.name in d:
                _texts(value, place.key(field.name))
            continue
        expected = _CELL_TYPES[str(field.type)]
        wrong_bool = isinstance(value, bool) and field.type != "bool"
        if field.name in d and (wrong_bool or not isinstance(value, expected)):
            raise place.key(field.name).expected(str(field.type), value)
    try:
        return Cell.from_dict(d)
    except TypeError as error:  # a required field is missing
        raise place.error(str(error)) from error


# -- the parts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Step times of one process; ``images_per_s`` = images in the timed steps / their wall time."""

    first_step_s: float
    warmup_step_s: tuple[float, ...] | None
    step_s: tuple[float, ...]
    timed_wall_s: float
    images_per_step: int
    images_per_s: float
    process_to_first_timed_step_s: float | None
    phases_s: dict[str, float] | None
    # The loss fit logged after the first and the last step: Keras logs the mean over the epoch
    # so far, so the last is the mean over every step. None when not finite (see nonfinite).
    first_loss: float | None = None
    last_loss: float | None = None
    nonfinite_losses: int | None = None  # steps whose loss was nan or inf

    @classmethod
    def from_json(cls, data: Any) -> Timing:
        d = _object(data, _field("timing"))
        return cls(
            first_step_s=d.required("first_step_s", _step_time),
            warmup_step_s=d.optional("warmup_step_s", _step_times, empty_ok=True),
            step_s=d.required("step_s", _step_times),
            timed_wall_s=d.required("timed_wall_s", finite_number),
            images_per_step=d.required("images_per_step", integer),
            images_per_s=d.required("images_per_s", finite_number),
            process_to_first_timed_step_s=d.optional(
                "process_to_first_timed_step_s", finite_number
            ),
            first_loss=d.optional("first_loss", finite_number),
            last_loss=d.optional("last_loss", finite_number),
            nonfinite_losses=d.optional("nonfinite_losses", integer),
            phases_s=d.optional("phases_s", _phases),
        )


@dataclass(frozen=True)
class NvmlPeak:
    """One physical GPU as NVML saw it during the timed steps."""

    name: str | None
    total_bytes: int | None
    process_peak_bytes: int | None  # what the process holds from the driver, not its tensors
    device_used_peak_bytes: int | None
    process_reason: str | None = None  # why there is no process peak (NVML never listed it)

    @classmethod
    def from_json(cls, data: Any, where: str) -> NvmlPeak:
        d = _object(data, _field(where))
        return cls(
            name=d.optional("name", text),
            total_bytes=d.optional("total_bytes", integer),
            process_peak_bytes=d.optional("process_peak_bytes", integer),
            device_used_peak_bytes=d.optional("device_used_peak_bytes", integer),
            process_reason=d.optional("process_reason", text),
        )


@dataclass(frozen=True)
class Memory:
    """Peaks per device, in bytes. A ``None`` peak comes with its reason."""

    tf_peak_bytes: dict[str, int] | None  # logical device -> TF allocator peak
    tf_peak_reason: str | None
    nvml: dict[str, NvmlPeak] | None  # physical GPU index -> NVML peaks
    nvml_reason: str | None
    host_rss_peak_bytes: int | None
    sample_period_s: float | None
    samples: int | None
    sampler_error: str | None

    @classmethod
    def from_json(cls, data: Any) -> Memory:
        d = _object(data, _field("memory"))
        nvml = d.get("nvml")
        return cls(
            tf_peak_bytes=d.optional("tf_peak_bytes", _values, integer),
            tf_peak_reason=d.optional("tf_peak_reason", text),
            nvml=None
            if nvml is None
            else {
                str(k): NvmlPeak.from_json(v, f"memory.nvml.{k}")
                for k, v in _object(nvml, d.place_of("nvml")).data.items()
            },
            nvml_reason=d.optional("nvml_reason", text),
            host_rss_peak_bytes=d.optional("host_rss_peak_bytes", integer),
            sample_period_s=d.optional("sample_period_s", finite_number),
            samples=d.optional("samples", integer),
            sampler_error=d.optional("sampler_error", text),
        )


@dataclass(frozen=True)
class GpuEnergy:
    """One physical GPU's energy over the timed steps (``mgbench.trackers.energy``): the whole
    device's, from NVML's counter. ``joules`` None comes with ``reason``; ``short_window`` marks
    a window shorter than the counter's update period, whose joules are not to be trusted."""

    joules: float | None
    window_s: float | None
    short_window: bool | None
    reason: str | None

    @classmethod
    def from_json(cls, data: Any, where: str) -> GpuEnergy:
        d = _object(data, _field(where))
        joules = d.optional("joules", finite_number)
        if joules is not None and joules < 0:
            raise d.place_of("joules").expected("joules >= 0", joules)
        return cls(
            joules=joules,
            window_s=d.optional("window_s", finite_number),
            short_window=d.optional("short_window", flag),
            reason=d.optional("reason", text),
        )


def _energy(data: Any) -> dict[str, GpuEnergy]:
    """The record's ``energy``: physical GPU (NVML index) -> :class:`GpuEnergy`."""
    return {
        str(index): GpuEnergy.from_json(gpu, f"energy.{index}")
        for index, gpu in _object(data, _field("energy")).data.items()
    }


PLACEMENT_DEVICE_LISTS = (
    "replica_devices",
    "variable_devices",
    "slice_devices",
    "merge_devices",
    "grad_aggregate_devices",
    "update_devices",
)


@dataclass(frozen=True)
class Placement:
    """Where the traced training step's ops run (``mgbench.placement.PlacementReport.summary``)."""

    default_device: str
    replica_devices: tuple[str, ...]
    variable_devices: tuple[str, ...]
    slice_devices: tuple[str, ...]
    merge_devices: tuple[str, ...]
    grad_aggregate_devices: tuple[str, ...]
    update_devices: tuple[str, ...]
    ops_per_device: dict[str, dict[str, int]]  # device -> role -> op count
    unplaced_ops: dict[str, int]  # role -> ops the placer put on the default device

    @classmethod
    def from_json(cls, data: Any) -> Placement:
        d = _object(data, _field("placement"))
        lists = {name: d.optional(name, _texts) or () for name in PLACEMENT_DEVICE_LISTS}
        per_device = _object(d.get("ops_per_device") or {}, d.place_of("ops_per_device"))
        return cls(
            default_device=d.required("default_device", text),
            ops_per_device={
                str(device): per_device.optional(device, _values, integer) or {}
                for device in per_device.data
            },
            unplaced_ops=d.optional("unplaced_ops", _values, integer) or {},
            **lists,
        )

    @property
    def unplaced_total(self) -> int:
        return sum(self.unplaced_ops.values())


TRANSFER_RESOLUTIONS = ("as_run", "on_gpus")


def _transfer_row(data: Any, where: str) -> Transfer:
    d = _object(data, _field(where))
    texts = {name: d.required(name, text) for name in ("src", "dst", "role")}
    size = d.required("bytes", integer)
    if size < 0:
        raise d.place_of("bytes").error(f"expected bytes >= 0, got {size}")
    return Transfer(bytes=size, **texts)


@dataclass(frozen=True)
class Transfers:
    """The step's cross-device bytes, resolved twice: on this machine's devices (``as_run``) and
    as TF's placer would place the same graph on a GPU machine (``on_gpus``)."""

    as_run: tuple[Transfer, ...]
    on_gpus: tuple[Transfer, ...]

    @classmethod
    def from_json(cls, data: Any) -> Transfers:
        d = _object(data, _field("transfers"))
        rows = {}
        for name in TRANSFER_RESOLUTIONS:
            resolved = d.get(name)
            if not isinstance(resolved, list):
                raise d.place_of(name).error("expected a list of rows")
            rows[name] = tuple(
                _transfer_row(row, f"transfers.{name}[{i}]") for i, row in enumerate(resolved)
            )
        return cls(**rows)


def round_log_ratio(a_step_s: Sequence[float], b_step_s: Sequence[float]) -> float:
    """One round of a paired process: ``log(median B step / median A step)``; positive means A
    is faster. (``analysis.paired`` estimates from these; it lives here, beside the blocks it
    reads, so that :meth:`Paired.log_ratios` can give them.)"""
    import numpy as np  # not at the top: reading records needs no numpy

    a, b = np.median(np.asarray(a_step_s, float)), np.median(np.asarray(b_step_s, float))
    if a <= 0 or b <= 0:
        raise ValueError(f"step times must be > 0, got medians {a} and {b}")
    return float(np.log(b / a))


# A paired process's strategies are labelled a, b, c, ... in the order (a, b, *others).
PAIRED_LABELS = string.ascii_lowercase
# Fields a process of more than two strategies adds; absent from a process of two, so its JSON
# stays as it was (``_plain`` leaves them out when empty).
_K_WAY = {"omit_when_empty": True}
# Fields newer than the files some records come from: absent (None) there, and left out when
# such a record is written again.
_NEWER = {"omit_when_empty": True}


@dataclass(frozen=True)
class PairedRound:
    """One round of a paired process: a block of timed steps of each strategy.

    A process of two: ``first`` ("a" or "b") ran first, then the other (rounds alternate AB,
    BA, ...). A process of k > 2 adds ``order``, the labels in the order their blocks ran
    (``first`` is its first), and ``others_step_s``, the blocks of c, d, ... (``Paired.others``).
    """

    first: str
    a_step_s: tuple[float, ...]
    b_step_s: tuple[float, ...]
    order: tuple[str, ...] = dataclasses.field(default=(), metadata=_K_WAY)
    others_step_s: tuple[tuple[float, ...], ...] = dataclasses.field(default=(), metadata=_K_WAY)

    @property
    def blocks(self) -> tuple[tuple[float, ...], ...]:
        """Every strategy's block, by label: a's, b's, then the others'."""
        return (self.a_step_s, self.b_step_s, *self.others_step_s)

    @property
    def labels_in_order(self) -> tuple[str, ...]:
        """The labels in the order their blocks ran."""
        if self.order:
            return self.order
        return ("a", "b") if self.first == "a" else ("b", "a")

    @classmethod
    def from_json(cls, data: Any, where: str, others: int = 0) -> PairedRound:
        """A round of a process of ``2 + others`` strategies."""
        d = _object(data, _field(where))
        first = d.required("first", text)
        if not others and first not in ("a", "b"):
            raise d.place_of("first").expected("'a' or 'b'", first)
        a_step_s, b_step_s = (d.required(name, _step_times) for name in ("a_step_s", "b_step_s"))
        if not others:
            for name in ("order", "others_step_s"):
                if name in d:
                    raise d.place_of(name).error("only a process of more than two has it")
            return cls(first, a_step_s, b_step_s)
        labels = list(PAIRED_LABELS[: 2 + others])
        order = d.required("order", _texts)
        if sorted(order) != labels:
            raise d.place_of("order").expected(f"an order of {labels}", list(order))
        if first != order[0]:
            raise d.place_of("first").expected(f"the order's first, {order[0]!r}", first)
        blocks = d.required("others_step_s", listed)
        if len(blocks) != others:
            raise d.place_of("others_step_s").expected(
                f"{others} block(s), one per paired.others", len(blocks)
            )
        return cls(
            first,
            a_step_s,
            b_step_s,
            order=order,
            others_step_s=tuple(
                _step_times(block, d.place_of(f"others_step_s[{i}]"))
                for i, block in enumerate(blocks)
            ),
        )


@dataclass(frozen=True)
class Paired:
    """A paired process's raw timings: strategy ``a`` (the cell's ``strategy``) against ``b``
    (its ``versus``), both built over one template, in the order they ran.

    A process of k > 2 strategies (a cell with ``also``) adds ``others``, the strategies after
    ``b``, labelled c, d, ... in its rounds, and ``others_first_step_s``; every field of a process
    of two reads and means what it did. :meth:`log_ratios` gives any two strategies' rounds.
    """

    a: str
    b: str
    block_steps: int
    first_step_s: tuple[float, float]  # (a, b): tracing and the first step, before any round
    rounds: tuple[PairedRound, ...]
    others: tuple[str, ...] = dataclasses.field(default=(), metadata=_K_WAY)
    others_first_step_s: tuple[float, ...] = dataclasses.field(default=(), metadata=_K_WAY)
    # Where the process's time went (mgbench.trackers.phases.PAIRED_PHASES), and, by label (a,
    # b, then the others), each strategy's warm-up steps and the seconds its training step took
    # to make ready. None in files older than them, and then left out of the JSON as they were.
    phases_s: dict[str, float] | None = dataclasses.field(default=None, metadata=_NEWER)
    warmup_step_s: tuple[tuple[float, ...], ...] | None = dataclasses.field(
        default=None, metadata=_NEWER
    )
    step_function_s: tuple[float, ...] | None = dataclasses.field(default=None, metadata=_NEWER)

    @property
    def strategies(self) -> tuple[str, ...]:
        """Every strategy of the process, by label: a, b, then the others."""
        return (self.a, self.b, *self.others)

    @property
    def first_steps_s(self) -> tuple[float, ...]:
        """Every strategy's first step (tracing included), by label."""
        return (*self.first_step_s, *self.others_first_step_s)

    def _labels_of(self, x: str, y: str) -> tuple[int, int]:
        """The labels' indices of strategies ``x`` and ``y``; ``x == y`` is an A/A process's
        a and b."""
        held = self.strategies
        if x not in held or y not in held or (x == y and held.count(x) < 2):
            raise ValueError(f"{x!r} against {y!r}: this process holds {', '.join(held)}")
        first = held.index(x)
        return first, held.index(y, first + 1) if x == y else held.index(y)

    def log_ratios(self, x: str, y: str) -> list[float]:
        """Each round's ``log(median y step / median x step)`` (positive: ``x`` is faster), for
        any two strategies of the process (ValueError for one it does not hold)."""
        i, j = self._labels_of(x, y)
        return [round_log_ratio(r.blocks[i], r.blocks[j]) for r in self.rounds]

    @classmethod
    def from_json(cls, data: Any) -> Paired:
        d = _object(data, _field("paired"))
        first = d.required("first_step_s", _step_times, empty_ok=True)
        if len(first) != 2:
            raise d.place_of("first_step_s").expected("[a, b]", list(first))
        rounds = listed(d.get("rounds"), d.place_of("rounds"))
        a, b = d.required("a", text), d.required("b", text)
        block_steps = d.required("block_steps", integer)
        others = d.optional("others", _texts) or ()
        strategies = (a, b, *others)
        if others and len(set(strategies)) != len(strategies):
            raise d.place_of("others").expected(
                "strategies other than a, b and each other", list(others)
            )
        others_first = d.optional("others_first_step_s", _step_times, empty_ok=True) or ()
        if len(others_first) != len(others):
            raise d.place_of("others_first_step_s").expected(
                f"{len(others)} number(s), one per paired.others", list(others_first)
            )
        warmup = d.optional("warmup_step_s", listed)
        if warmup is not None and len(warmup) != len(strategies):
            raise d.place_of("warmup_step_s").expected(
                f"{len(strategies)} list(s), one per strategy (a, b, then the others)", warmup
            )
        step_function_s = d.optional(
            "step_function_s", items, _seconds, expected="a list of seconds"
        )
        if step_function_s is not None and len(step_function_s) != len(strategies):
            raise d.place_of("step_function_s").expected(
                f"{len(strategies)} number(s), one per strategy (a, b, then the others)",
                list(step_function_s),
            )
        return cls(
            a=a,
            b=b,
            block_steps=block_steps,
            first_step_s=(first[0], first[1]),
            rounds=tuple(
                PairedRound.from_json(r, f"paired.rounds[{i}]", len(others))
                for i, r in enumerate(rounds)
            ),
            others=others,
            others_first_step_s=others_first,
            phases_s=d.optional("phases_s", _phases),
            warmup_step_s=None
            if warmup is None
            else tuple(
                _step_times(steps, d.place_of(f"warmup_step_s[{i}]"), empty_ok=True)
                for i, steps in enumerate(warmup)
            ),
            step_function_s=step_function_s,
        )


@dataclass(frozen=True)
class WorkerPart:
    """One process of a multiworker cell: where it ran, how it ended, its steps and memory
    (the record's timing is the chief's, worker 0)."""

    index: int
    host: str | None
    status: str
    reason: str | None
    device_mode: str | None
    replica_devices: tuple[str, ...] | None
    median_step_s: float | None
    memory: Memory | None

    @classmethod
    def from_json(cls, data: Any, where: str) -> WorkerPart:
        d = _object(data, _field(where))
        status = d.required("status", text)
        if status not in STATUSES:
            raise d.place_of("status").error(f"unknown status {status!r}")
        memory = d.get("memory")
        return cls(
            index=d.required("index", integer),
            host=d.optional("host", text),
            status=status,
            reason=d.optional("reason", text),
            device_mode=d.optional("device_mode", text),
            replica_devices=d.optional("replica_devices", _texts),
            median_step_s=d.optional("median_step_s", _step_time),
            memory=None if memory is None else Memory.from_json(memory),
        )


def _workers(data: Any) -> tuple[WorkerPart, ...]:
    workers = listed(data, _field("workers"))
    return tuple(WorkerPart.from_json(item, f"workers[{i}]") for i, item in enumerate(workers))


@dataclass(frozen=True)
class Gpu:
    name: str | None
    tf_device: str | None
    memory_bytes: int | None
    jax_device: str | None = None  # how JAX names it (the jax backend's records)

    @classmethod
    def from_json(cls, data: Any) -> Gpu:
        d = _object(data, _field("environment.gpus[]"))
        return cls(
            name=d.optional("name", text),
            tf_device=d.optional("tf_device", text),
            memory_bytes=d.optional("memory_bytes", integer),
            jax_device=d.optional("jax_device", text),
        )


_ENVIRONMENT_TEXTS = (
    *("host", "platform", "cpu", "python", "mgbench", "git_commit"),
    *("tensorflow", "keras", "tf_keras", "cuda_build", "cudnn_build", "driver"),
    *("jax", "jaxlib"),
)


@dataclass(frozen=True)
class Environment:
    """The host part (the launcher, no TF) and, when the worker got that far, the TF part."""

    host: str | None
    platform: str | None
    cpu: str | None
    cpu_count: int | None
    memory_bytes: int | None
    python: str | None
    mgbench: str | None
    git_commit: str | None
    git_dirty: bool | None
    tensorflow: str | None
    keras: str | None
    tf_keras: str | None
    cuda_build: str | None
    cudnn_build: str | None
    gpus: tuple[Gpu, ...] | None
    driver: str | None
    jax: str | None = None  # the jax backend's records (their tensorflow is None)
    jaxlib: str | None = None
    # Installed versions of the frameworks (the launcher's and each worker's view, the same on
    # one machine): what tells machines apart, whichever framework a record's backend imported.
    packages: dict[str, str | None] | None = None

    @classmethod
    def from_json(cls, data: Any) -> Environment:
        d = _object(data, _field("environment"))
        gpus = d.optional("gpus", listed)
        texts = {name: d.optional(name, text) for name in _ENVIRONMENT_TEXTS}
        return cls(
            cpu_count=d.optional("cpu_count", integer),
            memory_bytes=d.optional("memory_bytes", integer),
            git_dirty=d.optional("git_dirty", flag),
            gpus=None if gpus is None else tuple(Gpu.from_json(g) for g in gpus),
            packages=d.optional("packages", _packages),
            **texts,
        )

    def gpu_names(self) -> tuple[str | None, ...]:
        return tuple(gpu.name for gpu in self.gpus or ())


def _packages(data: Any, place: Place) -> dict[str, str | None]:
    """Package -> its version, None where it is not installed."""
    packages = _object(data, place)
    return {str(k): packages.optional(k, text) for k in packages.data}


@dataclass(frozen=True)
class RunContext:
    """What the launcher knows about the run every record belongs to."""

    suite: str
    profile: str
    run_id: str
    host_environment: Mapping[str, Any]


# -- the record ----------------------------------------------------------------------------------


_RECORD_TEXTS = (
    *("reason", "error_tail", "suite", "profile", "run_id", "started_at"),
    *("backend", "device_mode", "weights_device", "placement_reason", "energy_reason"),
    CHECKSUM_KEY,
)


@dataclass(frozen=True)
class Record:
    """One cell run. The worker's measurement fields are ``None`` unless ``status == "ok"``."""

    cell_id: str
    repeat: int
    status: str
    cell: Cell
    reason: str | None
    error_tail: str | None
    suite: str | None
    profile: str | None
    run_id: str | None
    started_at: str | None
    wall_s: float | None
    environment: Environment
    backend: str | None
    device_mode: str | None
    jit_compile: bool | None
    replica_devices: tuple[str, ...] | None
    weights_device: str | None
    timing: Timing | None
    memory: Memory | None
    placement: Placement | None
    placement_reason: str | None
    paired: Paired | None = None  # set, instead of timing, for a paired cell's process
    transfers: Transfers | None = None  # the traced step's cross-device bytes
    energy: dict[str, GpuEnergy] | None = None  # physical GPU index -> energy of the timed steps
    energy_reason: str | None = None  # why ``energy`` is None (a CPU, no NVML, a paired process)
    workers: tuple[WorkerPart, ...] | None = None  # a multiworker cell's processes, by index
    # What the store wrote beside the content (``content_checksum``), None in files older than
    # checksums. Left out of equality: it is derived from the content, so a record read back
    # equals the one that was appended.
    checksum: str | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise RecordError(f"unknown status {self.status!r}; one of {', '.join(STATUSES)}")
        if self.status == "ok" and self.cell.paired and self.paired is None:
            raise RecordError("paired: missing, and an ok paired record needs it")
        if self.status == "ok" and not self.cell.paired and self.timing is None:
            raise RecordError("timing: missing, and an ok record needs it")
        paired, held = self.paired, self.cell.paired_strategies
        # A process of k > 2 holds its cell's strategies in its order (they label its blocks).
        if paired is not None and (self.cell.also or paired.others) and paired.strategies != held:
            raise RecordError(
                f"paired.others: the process holds {', '.join(paired.strategies)}, "
                f"its cell {', '.join(held)}"
            )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def phases_s(self) -> dict[str, float] | None:
        """The process's phases as its worker recorded them (``timing.phases_s``, or
        ``paired.phases_s``), None when it recorded none."""
        timing = self.paired if self.paired is not None else self.timing
        return None if timing is None or timing.phases_s is None else dict(timing.phases_s)

    @classmethod
    def from_payload(
        cls,
        cell: Cell,
        repeat: int,
        payload: Mapping[str, Any],
        context: RunContext,
        *,
        started_at: str,
        wall_s: float,
    ) -> Record:
        """The one constructor of new records: the worker's payload (see
        ``execution.worker.run_cell``; at least ``status``) completed with the run's context.
        A payload the record refuses (a field missing, a step time of 0, nan or inf...) raises
        :class:`RecordError` naming the cell and the repeat, then the field; the launcher
        keeps such a run as a failed record with that reason, and the suite goes on."""
        environment = {**context.host_environment, **(payload.get("environment") or {})}
        data = {
            **payload,
            "schema_version": SCHEMA_VERSION,
            "cell_id": cell.cell_id,
            "repeat": repeat,
            "cell": cell.to_dict(),
            "suite": context.suite,
            "profile": context.profile,
            "run_id": context.run_id,
            "started_at": started_at,
            "wall_s": wall_s,
            "environment": environment,
        }
        try:
            return cls.from_json(data)
        except RecordError as error:
            raise RecordError(f"{cell.cell_id} repeat {repeat}: {error}") from error

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """A record from its JSON object; fields older files lack become ``None``."""
        d = _object(data, _RECORD)
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise RecordError(f"schema version {version!r}, this mgbench reads {SCHEMA_VERSION}")
        typed_cell = _cell(d.get("cell"))
        optional: dict[str, Callable[[Any], Any]] = {
            "timing": Timing.from_json,
            "memory": Memory.from_json,
            "placement": Placement.from_json,
            "paired": Paired.from_json,
            "transfers": Transfers.from_json,
            "energy": _energy,
            "workers": _workers,
        }
        parts = {
            name: None if d.get(name) is None else parse(d.get(name))
            for name, parse in optional.items()
        }
        texts: dict[str, Any] = {name: d.optional(name, text) for name in _RECORD_TEXTS}
        return cls(
            cell_id=d.required("cell_id", text),
            repeat=d.required("repeat", integer),
            status=d.required("status", text),
            cell=typed_cell,
            wall_s=d.optional("wall_s", finite_number),
            environment=Environment.from_json(d.get("environment") or {}),
            jit_compile=d.optional("jit_compile", flag),
            replica_devices=d.optional("replica_devices", _texts),
            **texts,
            **parts,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object (field names as ever; tuples become lists)."""
        data = _plain(self)
        data["schema_version"] = SCHEMA_VERSION
        return data


def content_checksum(data: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of a record's JSON object without its checksum key.

    The object is hashed in a canonical form (sorted keys, no spaces, UTF-8), so the checksum
    depends on the content only, not on how a line was spaced. Pass the object as it reads back
    from JSON (the store does): a tuple and a list, or an int key and its text, are one content.
    """
    content = {key: value for key, value in data.items() if key != CHECKSUM_KEY}
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{CHECKSUM_ALGORITHM}:{digest}"


def _plain(value: Any) -> Any:
    if isinstance(value, Cell):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("omit_when_empty") and not getattr(value, f.name))
        }
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value
