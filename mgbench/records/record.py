"""The benchmark record: one cell run (one process), typed, versioned, owning its JSON.

A record is built in one place, :meth:`Record.from_payload`, from the cell, the worker's payload
and the run's context. :meth:`Record.from_json` is the only place that tolerates fields missing
from older files; everywhere else a field the schema may leave out is ``X | None`` in the type,
and readers decide what absence means. JSON field names never change (later versions add fields).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mgbench.config.suite import Cell
from mgbench.transfers import Transfer

T = TypeVar("T")

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "timeout", "skipped")
CHECKSUM_KEY = "checksum"
CHECKSUM_ALGORITHM = "sha256"


class RecordError(ValueError):
    """A JSON object is not a valid record; the message names the field."""


# -- tolerant readers for from_json: absence -> None, a wrong type -> RecordError --------------


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _object(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected an object, got {type(data).__name__}")
    return data


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool | str) else math.nan
    except (TypeError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise RecordError(f"{where}: expected a finite number, got {_shown(value)}")
    return number


def _integer(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{where}: expected an integer, got {_shown(value)}")
    return value


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{where}: expected a string, got {_shown(value)}")
    return value


def _flag(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise RecordError(f"{where}: expected true or false, got {_shown(value)}")
    return value


def _numbers(value: Any, where: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RecordError(f"{where}: expected a list of numbers, got {_shown(value)}")
    return tuple(_required(_number(v, where), where) for v in value)


def _texts(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RecordError(f"{where}: expected a list of strings, got {_shown(value)}")
    return tuple(_required(_text(v, where), where) for v in value)


def _int_map(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    return {str(k): _required(_integer(v, where), where) for k, v in _object(value, where).items()}


_CELL_TYPES = {
    "str": str,
    "int": int,
    "float": int | float,
    "bool": bool,
    "str | None": str | None,
    "int | None": int | None,
}


def _cell(data: Any) -> Cell:
    d = _object(data, "cell")
    for field in dataclasses.fields(Cell):
        value = d.get(field.name)
        expected = _CELL_TYPES[str(field.type)]
        wrong_bool = isinstance(value, bool) and field.type != "bool"
        if field.name in d and (wrong_bool or not isinstance(value, expected)):
            raise RecordError(f"cell.{field.name}: expected {field.type}, got {_shown(value)}")
    try:
        return Cell.from_dict(d)
    except TypeError as error:  # a required field is missing
        raise RecordError(f"cell: {error}") from error


def _required(value: T | None, where: str) -> T:
    if value is None:
        raise RecordError(f"{where}: missing")
    return value


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
        d = _object(data, "timing")
        phases = d.get("phases_s")
        return cls(
            first_step_s=_required(
                _number(d.get("first_step_s"), "timing.first_step_s"), "timing.first_step_s"
            ),
            warmup_step_s=_numbers(d.get("warmup_step_s"), "timing.warmup_step_s"),
            step_s=_required(_numbers(d.get("step_s"), "timing.step_s"), "timing.step_s"),
            timed_wall_s=_required(
                _number(d.get("timed_wall_s"), "timing.timed_wall_s"), "timing.timed_wall_s"
            ),
            images_per_step=_required(
                _integer(d.get("images_per_step"), "timing.images_per_step"),
                "timing.images_per_step",
            ),
            images_per_s=_required(
                _number(d.get("images_per_s"), "timing.images_per_s"), "timing.images_per_s"
            ),
            process_to_first_timed_step_s=_number(
                d.get("process_to_first_timed_step_s"), "timing.process_to_first_timed_step_s"
            ),
            first_loss=_number(d.get("first_loss"), "timing.first_loss"),
            last_loss=_number(d.get("last_loss"), "timing.last_loss"),
            nonfinite_losses=_integer(d.get("nonfinite_losses"), "timing.nonfinite_losses"),
            phases_s=None
            if phases is None
            else {
                str(k): _required(_number(v, "timing.phases_s"), "timing.phases_s")
                for k, v in _object(phases, "timing.phases_s").items()
            },
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
        d = _object(data, where)
        return cls(
            name=_text(d.get("name"), f"{where}.name"),
            total_bytes=_integer(d.get("total_bytes"), f"{where}.total_bytes"),
            process_peak_bytes=_integer(d.get("process_peak_bytes"), f"{where}.process_peak_bytes"),
            device_used_peak_bytes=_integer(
                d.get("device_used_peak_bytes"), f"{where}.device_used_peak_bytes"
            ),
            process_reason=_text(d.get("process_reason"), f"{where}.process_reason"),
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
        d = _object(data, "memory")
        nvml = d.get("nvml")
        return cls(
            tf_peak_bytes=_int_map(d.get("tf_peak_bytes"), "memory.tf_peak_bytes"),
            tf_peak_reason=_text(d.get("tf_peak_reason"), "memory.tf_peak_reason"),
            nvml=None
            if nvml is None
            else {
                str(k): NvmlPeak.from_json(v, f"memory.nvml.{k}")
                for k, v in _object(nvml, "memory.nvml").items()
            },
            nvml_reason=_text(d.get("nvml_reason"), "memory.nvml_reason"),
            host_rss_peak_bytes=_integer(
                d.get("host_rss_peak_bytes"), "memory.host_rss_peak_bytes"
            ),
            sample_period_s=_number(d.get("sample_period_s"), "memory.sample_period_s"),
            samples=_integer(d.get("samples"), "memory.samples"),
            sampler_error=_text(d.get("sampler_error"), "memory.sampler_error"),
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
        d = _object(data, where)
        joules = _number(d.get("joules"), f"{where}.joules")
        if joules is not None and joules < 0:
            raise RecordError(f"{where}.joules: expected joules >= 0, got {_shown(joules)}")
        return cls(
            joules=joules,
            window_s=_number(d.get("window_s"), f"{where}.window_s"),
            short_window=_flag(d.get("short_window"), f"{where}.short_window"),
            reason=_text(d.get("reason"), f"{where}.reason"),
        )


def _energy(data: Any) -> dict[str, GpuEnergy]:
    """The record's ``energy``: physical GPU (NVML index) -> :class:`GpuEnergy`."""
    return {
        str(index): GpuEnergy.from_json(gpu, f"energy.{index}")
        for index, gpu in _object(data, "energy").items()
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
        d = _object(data, "placement")
        lists = {
            name: _texts(d.get(name), f"placement.{name}") or () for name in PLACEMENT_DEVICE_LISTS
        }
        per_device = _object(d.get("ops_per_device") or {}, "placement.ops_per_device")
        return cls(
            default_device=_required(
                _text(d.get("default_device"), "placement.default_device"),
                "placement.default_device",
            ),
            ops_per_device={
                str(device): _int_map(roles, f"placement.ops_per_device.{device}") or {}
                for device, roles in per_device.items()
            },
            unplaced_ops=_int_map(d.get("unplaced_ops"), "placement.unplaced_ops") or {},
            **lists,
        )

    @property
    def unplaced_total(self) -> int:
        return sum(self.unplaced_ops.values())


TRANSFER_RESOLUTIONS = ("as_run", "on_gpus")


def _transfer_row(data: Any, where: str) -> Transfer:
    d = _object(data, where)
    texts = {
        name: _required(_text(d.get(name), f"{where}.{name}"), f"{where}.{name}")
        for name in ("src", "dst", "role")
    }
    size = _required(_integer(d.get("bytes"), f"{where}.bytes"), f"{where}.bytes")
    if size < 0:
        raise RecordError(f"{where}.bytes: expected bytes >= 0, got {size}")
    return Transfer(bytes=size, **texts)


@dataclass(frozen=True)
class Transfers:
    """The step's cross-device bytes, resolved twice: on this machine's devices (``as_run``) and
    as TF's placer would place the same graph on a GPU machine (``on_gpus``)."""

    as_run: tuple[Transfer, ...]
    on_gpus: tuple[Transfer, ...]

    @classmethod
    def from_json(cls, data: Any) -> Transfers:
        d = _object(data, "transfers")
        rows = {}
        for name in TRANSFER_RESOLUTIONS:
            listed = d.get(name)
            if not isinstance(listed, list):
                raise RecordError(f"transfers.{name}: expected a list of rows")
            rows[name] = tuple(
                _transfer_row(row, f"transfers.{name}[{i}]") for i, row in enumerate(listed)
            )
        return cls(**rows)


@dataclass(frozen=True)
class PairedRound:
    """One round of a paired process: a block of timed steps of each strategy."""

    first: str  # "a" or "b": which block ran first (rounds alternate AB, BA, ...)
    a_step_s: tuple[float, ...]
    b_step_s: tuple[float, ...]

    @classmethod
    def from_json(cls, data: Any, where: str) -> PairedRound:
        d = _object(data, where)
        first = _required(_text(d.get("first"), f"{where}.first"), f"{where}.first")
        if first not in ("a", "b"):
            raise RecordError(f"{where}.first: expected 'a' or 'b', got {_shown(first)}")
        steps = {
            name: _required(_numbers(d.get(name), f"{where}.{name}"), f"{where}.{name}")
            for name in ("a_step_s", "b_step_s")
        }
        return cls(first=first, **steps)


@dataclass(frozen=True)
class Paired:
    """A paired process's raw timings: strategy ``a`` (the cell's ``strategy``) against ``b``
    (its ``versus``), both built over one template, in the order they ran."""

    a: str
    b: str
    block_steps: int
    first_step_s: tuple[float, float]  # (a, b): tracing and the first step, before any round
    rounds: tuple[PairedRound, ...]

    @classmethod
    def from_json(cls, data: Any) -> Paired:
        d = _object(data, "paired")
        where = "paired.first_step_s"
        first = _required(_numbers(d.get("first_step_s"), where), where)
        if len(first) != 2:
            raise RecordError(f"{where}: expected [a, b], got {_shown(list(first))}")
        rounds = d.get("rounds")
        if not isinstance(rounds, list):
            raise RecordError(f"paired.rounds: expected a list, got {_shown(rounds)}")
        return cls(
            a=_required(_text(d.get("a"), "paired.a"), "paired.a"),
            b=_required(_text(d.get("b"), "paired.b"), "paired.b"),
            block_steps=_required(
                _integer(d.get("block_steps"), "paired.block_steps"), "paired.block_steps"
            ),
            first_step_s=(first[0], first[1]),
            rounds=tuple(
                PairedRound.from_json(r, f"paired.rounds[{i}]") for i, r in enumerate(rounds)
            ),
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
        d = _object(data, where)
        status = _required(_text(d.get("status"), f"{where}.status"), f"{where}.status")
        if status not in STATUSES:
            raise RecordError(f"{where}.status: unknown status {status!r}")
        memory = d.get("memory")
        return cls(
            index=_required(_integer(d.get("index"), f"{where}.index"), f"{where}.index"),
            host=_text(d.get("host"), f"{where}.host"),
            status=status,
            reason=_text(d.get("reason"), f"{where}.reason"),
            device_mode=_text(d.get("device_mode"), f"{where}.device_mode"),
            replica_devices=_texts(d.get("replica_devices"), f"{where}.replica_devices"),
            median_step_s=_number(d.get("median_step_s"), f"{where}.median_step_s"),
            memory=None if memory is None else Memory.from_json(memory),
        )


def _workers(data: Any) -> tuple[WorkerPart, ...]:
    if not isinstance(data, list):
        raise RecordError(f"workers: expected a list, got {_shown(data)}")
    return tuple(WorkerPart.from_json(item, f"workers[{i}]") for i, item in enumerate(data))


@dataclass(frozen=True)
class Gpu:
    name: str | None
    tf_device: str | None
    memory_bytes: int | None
    jax_device: str | None = None  # how JAX names it (the jax backend's records)

    @classmethod
    def from_json(cls, data: Any) -> Gpu:
        d = _object(data, "environment.gpus[]")
        return cls(
            name=_text(d.get("name"), "environment.gpus[].name"),
            tf_device=_text(d.get("tf_device"), "environment.gpus[].tf_device"),
            memory_bytes=_integer(d.get("memory_bytes"), "environment.gpus[].memory_bytes"),
            jax_device=_text(d.get("jax_device"), "environment.gpus[].jax_device"),
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
        d = _object(data, "environment")
        gpus = d.get("gpus")
        if gpus is not None and not isinstance(gpus, list):
            raise RecordError(f"environment.gpus: expected a list, got {_shown(gpus)}")
        texts = {name: _text(d.get(name), f"environment.{name}") for name in _ENVIRONMENT_TEXTS}
        return cls(
            cpu_count=_integer(d.get("cpu_count"), "environment.cpu_count"),
            memory_bytes=_integer(d.get("memory_bytes"), "environment.memory_bytes"),
            git_dirty=_flag(d.get("git_dirty"), "environment.git_dirty"),
            gpus=None if gpus is None else tuple(Gpu.from_json(g) for g in gpus),
            packages=_packages(d.get("packages")),
            **texts,
        )

    def gpu_names(self) -> tuple[str | None, ...]:
        return tuple(gpu.name for gpu in self.gpus or ())


def _packages(data: Any) -> dict[str, str | None] | None:
    if data is None:
        return None
    return {
        str(k): _text(v, f"environment.packages.{k}")
        for k, v in _object(data, "environment.packages").items()
    }


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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

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
        ``execution.worker.run_cell``; at least ``status``) completed with the run's context."""
        environment = {**context.host_environment, **(payload.get("environment") or {})}
        return cls.from_json(
            {
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
        )

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """A record from its JSON object; fields older files lack become ``None``."""
        d = _object(data, "record")
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise RecordError(f"schema version {version!r}, this mgbench reads {SCHEMA_VERSION}")
        typed_cell = _cell(d.get("cell"))
        optional = {
            "timing": Timing.from_json,
            "memory": Memory.from_json,
            "placement": Placement.from_json,
            "paired": Paired.from_json,
            "transfers": Transfers.from_json,
            "energy": _energy,
            "workers": _workers,
        }
        parts = {
            name: None if d.get(name) is None else parse(d[name])
            for name, parse in optional.items()
        }
        texts = {name: _text(d.get(name), name) for name in _RECORD_TEXTS}
        return cls(
            cell_id=_required(_text(d.get("cell_id"), "cell_id"), "cell_id"),
            repeat=_required(_integer(d.get("repeat"), "repeat"), "repeat"),
            status=_required(_text(d.get("status"), "status"), "status"),
            cell=typed_cell,
            wall_s=_number(d.get("wall_s"), "wall_s"),
            environment=Environment.from_json(d.get("environment") or {}),
            jit_compile=_flag(d.get("jit_compile"), "jit_compile"),
            replica_devices=_texts(d.get("replica_devices"), "replica_devices"),
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
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value
