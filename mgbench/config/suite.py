"""Suite files: TOML -> a validated, frozen :class:`Suite`, expanded into :class:`Cell` s.

A suite file has a ``[suite]`` table of run settings, one ``[[models]]`` table per model entry,
and an optional ``[cpu]`` table of overrides that applies by itself when no GPU is found. Every
problem is a :class:`SuiteError` naming the file, the table and key, and what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgbench import models
from mgbench.config.checks import Place, table_place
from mgbench.config.slurm import SlurmOptions, parse_slurm_table
from mgbench.vocabulary import (
    BACKEND_NAMES,
    BACKENDS,
    DEFAULT_BACKEND,
    MULTIPROCESS,
    STRATEGIES,
    WRAPPERS,
    Strategy,
    backends_running,
    deprecated,
    why_only,
)

INPUTS = ("host", "device")
WEIGHTS = ("cpu", "gpu0")
DTYPES = ("float32", "mixed_float16", "mixed_bfloat16")


def backend_suffix(backend: str, separator: str = "-") -> str:
    """What names carry for a backend: nothing for the default, ``-tf_keras`` for the others
    (so ids of keras3 cells stay as they were before there were backends)."""
    return "" if backend == DEFAULT_BACKEND else f"{separator}{backend}"


PAIRED_FIELDS = ("versus", "rounds", "block_steps")


def default_comparisons(strategies: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The paired comparisons a suite gets unless it says ``compare``: each pair of the wrappers
    it lists (the strategies a paired process can build over one template), first against
    later in the vocabulary's order."""
    listed = [w for w in WRAPPERS if w in strategies]
    return tuple((a, b) for i, a in enumerate(listed) for b in listed[i + 1 :])


class SuiteError(ValueError):
    """A suite file is wrong; the message names the file, the table and key, and the problem."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    image_size: int
    classes: int
    batch_per_replica: tuple[int, ...]


@dataclass(frozen=True)
class Settings:
    strategies: tuple[str, ...] = (Strategy.SINGLE, *WRAPPERS, Strategy.MIRRORED)
    replicas: tuple[int, ...] = (2,)
    batch_per_replica: tuple[int, ...] = (32,)
    warmup_steps: int = 5
    timed_steps: int = 30
    repeats: int = 3
    input: str = "host"
    weights: str = "cpu"
    dtype: str = "float32"
    timeout_s: float = 900.0
    placement: bool = True
    backend: tuple[str, ...] = (DEFAULT_BACKEND,)
    # Paired comparisons [A, B]; None: the default, every pair of wrappers among the strategies,
    # in their vocabulary order (a parsed suite holds the resolved list, so suite.json shows it).
    compare: tuple[tuple[str, str], ...] | None = None
    pairs: int = 3  # paired processes per comparison
    rounds: int = 20  # AB / BA rounds per paired process
    block_steps: int = 5  # timed steps per block
    seed: int = 0  # the run order's random seed
    # One more process per isolated cell, after the measured ones: its steps under TF's profiler,
    # read back as a timeline of where the step time goes.
    timeline: bool = False
    timeline_steps: int = 5
    # Process counts of the cells of a strategy that may span processes (multiworker: the counts
    # >= 2; dataparallel: each); a cell's replicas are split evenly between its processes, so a
    # group of R replicas gets a W-process cell when W divides R.
    workers: tuple[int, ...] = (1, 2)

    @property
    def comparisons(self) -> tuple[tuple[str, str], ...]:
        if self.compare is not None:
            return self.compare
        return default_comparisons(self.strategies)


@dataclass(frozen=True)
class Cell:
    """One measured configuration; each repeat of it runs in its own process."""

    model: str
    image_size: int
    classes: int
    batch_per_replica: int
    strategy: str
    replicas: int
    warmup_steps: int
    timed_steps: int
    input: str
    weights: str
    dtype: str
    timeout_s: float
    placement: bool
    backend: str = DEFAULT_BACKEND
    # A paired cell: ``strategy`` (A) and ``versus`` (B) built over one template in one process,
    # trained in alternating blocks of ``block_steps`` timed steps for ``rounds`` rounds.
    versus: str | None = None
    rounds: int | None = None
    block_steps: int | None = None
    # A multi-process cell's processes (multiworker, dataparallel); ``replicas`` counts every
    # process's replicas.
    workers: int = 1

    @property
    def paired(self) -> bool:
        return self.versus is not None

    @property
    def multiprocess(self) -> bool:
        return self.workers > 1

    @property
    def strategy_label(self) -> str:
        """The strategy as tables tell cells apart: ``dataparallel-w2`` for 2 processes."""
        return f"{self.strategy}-w{self.workers}" if self.multiprocess else self.strategy

    @property
    def replicas_per_worker(self) -> int:
        return self.replicas // self.workers

    @property
    def cell_id(self) -> str:
        suffix = backend_suffix(self.backend)
        strategy = f"{self.strategy}-vs-{self.versus}" if self.paired else self.strategy
        workers = f"-w{self.workers}" if self.multiprocess else ""
        return (
            f"{self.model}-{self.image_size}px-b{self.batch_per_replica}"
            f"-{strategy}-x{self.replicas}{workers}{suffix}"
        )

    @property
    def global_batch(self) -> int:
        return self.batch_per_replica * self.replicas

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not self.paired:  # an isolated cell's dict stays as it was before paired cells
            for name in PAIRED_FIELDS:
                del data[name]
        if not self.multiprocess:  # ...and a one-process cell's as before multiworker cells
            del data["workers"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cell:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    description: str
    settings: Settings
    models: tuple[ModelEntry, ...]
    profile: str  # "default" or "cpu"
    # the [slurm] table (``--executor slurm``)
    slurm: SlurmOptions = dataclasses.field(default_factory=SlurmOptions)

    def groups(self) -> list[list[Cell]]:
        """Cells compared with each other (one backend, model, image size, batch, replicas).

        ``single`` runs on one device, so it joins only the first replica count's group. The
        group's paired cells (one per comparison, replica counts >= 2) come after its isolated
        cells.
        """
        out: list[list[Cell]] = []
        seen: set[Cell] = set()
        s = self.settings
        for backend, entry in ((b, e) for e in self.models for b in s.backend):
            for batch in entry.batch_per_replica:
                for replicas in s.replicas:
                    group = []
                    runs = BACKENDS[backend].strategies
                    for strategy in (x for x in s.strategies if x in runs):
                        count = 1 if strategy == Strategy.SINGLE else replicas
                        for workers in _process_counts(strategy, count, s.workers):
                            isolated = self._cell(
                                backend, entry, batch, strategy, count, workers=workers
                            )
                            if isolated not in seen:
                                seen.add(isolated)
                                group.append(isolated)
                    if replicas >= 2:
                        group.extend(
                            self._cell(
                                backend,
                                entry,
                                batch,
                                a,
                                replicas,
                                versus=b,
                                rounds=s.rounds,
                                block_steps=s.block_steps,
                            )
                            for a, b in s.comparisons
                            if a in runs and b in runs
                        )
                    if group:
                        out.append(group)
        return out

    def _cell(
        self,
        backend: str,
        entry: ModelEntry,
        batch: int,
        strategy: str,
        replicas: int,
        **paired: Any,
    ) -> Cell:
        """One cell of ``entry`` with the suite's run settings (``paired``: versus, rounds...;
        or ``workers``)."""
        s = self.settings
        return Cell(
            backend=backend,
            model=entry.name,
            image_size=entry.image_size,
            classes=entry.classes,
            batch_per_replica=batch,
            strategy=strategy,
            replicas=replicas,
            warmup_steps=s.warmup_steps,
            timed_steps=s.timed_steps,
            input=s.input,
            weights=s.weights,
            dtype=s.dtype,
            timeout_s=s.timeout_s,
            placement=s.placement,
            **paired,
        )

    def cells(self) -> list[Cell]:
        return [cell for group in self.groups() for cell in group]

    def repeats_of(self, cell: Cell) -> int:
        """Processes a cell runs in: ``pairs`` for a paired cell, ``repeats`` for the others."""
        return self.settings.pairs if cell.paired else self.settings.repeats

    def timeline_cells(self) -> list[Cell]:
        """The cells ``timeline = true`` runs once more under TF's profiler: the isolated
        one-process ones."""
        if not self.settings.timeline:
            return []
        # A multiworker cell's processes are tf.distribute's: the profiler runs one process.
        return [c for c in self.cells() if not c.paired and not c.multiprocess]

    def runs(self) -> list[tuple[Cell, int]]:
        """(cell, repeat) in execution order, group by group, round by round: round r runs the
        group's isolated cells (repeat r) in an order shuffled for that round, then its paired
        processes (repeat r), so drift and the machine's moods spread over every strategy.

        The shuffle is seeded by the suite's ``seed``, the group and the round only: the same
        seed gives the same order, whichever other groups a selection keeps."""
        out: list[tuple[Cell, int]] = []
        for group in self.groups():
            isolated = [c for c in group if not c.paired]
            paired = [c for c in group if c.paired]
            group_key = ",".join(c.cell_id for c in group)
            for round_ in range(max(self.settings.repeats, self.settings.pairs if paired else 0)):
                shuffle = random.Random(f"{self.settings.seed}|{group_key}|{round_}").shuffle
                if round_ < self.settings.repeats:
                    order = list(isolated)
                    shuffle(order)
                    out.extend((cell, round_) for cell in order)
                if round_ < self.settings.pairs:
                    order = list(paired)
                    shuffle(order)
                    out.extend((cell, round_) for cell in order)
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def select(
        self,
        *,
        models: Sequence[str] | None = None,
        replicas: Sequence[int] | None = None,
        repeats: int | None = None,
        pairs: int | None = None,
    ) -> Suite:
        """Only these models and replica counts, and other repeat and pair counts
        (``mgbench run --models/--replicas/--repeats/--pairs``)."""
        entries = self.models
        settings = self.settings
        if models:
            known = {e.name for e in self.models}
            unknown = [m for m in models if m not in known]
            if unknown:
                raise SuiteError(
                    f"--models: {unknown[0]!r} is not in {self.path} "
                    f"(this profile has {', '.join(sorted(known))})"
                )
            entries = tuple(e for e in entries if e.name in models)
        if replicas:
            missing = [r for r in replicas if r not in settings.replicas]
            if missing:
                raise SuiteError(
                    f"--replicas: {missing[0]} is not among the suite's replica counts "
                    f"{list(settings.replicas)}"
                )
            settings = dataclasses.replace(settings, replicas=tuple(replicas))
        if repeats is not None:
            if repeats < 1:
                raise SuiteError(f"--repeats: expected an integer >= 1, got {repeats}")
            settings = dataclasses.replace(settings, repeats=repeats)
        if pairs is not None:
            if pairs < 1:
                raise SuiteError(f"--pairs: expected an integer >= 1, got {pairs}")
            settings = dataclasses.replace(settings, pairs=pairs)
        return dataclasses.replace(self, models=entries, settings=settings)


# -- validation --------------------------------------------------------------------------------

_SETTING_TYPES: dict[str, Any] = {
    "strategies": "strategies",
    "replicas": "int_list",
    "batch_per_replica": "int_list",
    "warmup_steps": "nonneg_int",
    "timed_steps": "pos_int",
    "repeats": "pos_int",
    "input": INPUTS,
    "weights": WEIGHTS,
    "dtype": DTYPES,
    "timeout_s": "pos_number",
    "placement": "bool",
    "backend": "backends",
    "compare": "comparisons",
    "pairs": "pos_int",
    "rounds": "rounds",
    "block_steps": "pos_int",
    "seed": "nonneg_int",
    "timeline": "bool",
    "timeline_steps": "pos_int",
    "workers": "int_list",
}
# Keys renamed since suites were first written: still read, with a warning naming the new one.
_RENAMED_KEYS = {"profile": "timeline", "profile_steps": "timeline_steps"}
_SUITE_KEYS = {"name", "description", *_SETTING_TYPES, *_RENAMED_KEYS}
_MODEL_KEYS = {"name", "image_size", "classes", "batch_per_replica"}
_CPU_KEYS = {*_SETTING_TYPES, *_RENAMED_KEYS, "models", "image_size", "classes"}


def _place(path: str, table: str) -> Place:
    """A suite table's place; its messages quote a refused value in full."""
    return table_place(path, table, SuiteError, show=repr)


class _Where:
    def __init__(self, path: str):
        self.path = path

    def error(self, table: str, key: str | None, problem: str) -> SuiteError:
        where = f"[{table}]" + (f" {_shown_key(key)}" if key else "")
        return SuiteError(f"{self.path}: {where}: {problem}")


def _shown_key(key: str) -> str:
    """A key as written in TOML: bare when it can be, quoted otherwise, so a key holding a line
    break or spaces cannot split or blur the one-line message."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _check_keys(where: _Where, table: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            raise where.error(table, key, f"unknown key; allowed: {', '.join(sorted(allowed))}")


def _value(where: _Where, table: str, key: str, value: Any, kind: Any) -> Any:
    def fail(expected: str) -> SuiteError:
        return where.error(table, key, f"expected {expected}, got {value!r}")

    if kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if kind in ("pos_int", "nonneg_int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        if value < (1 if kind == "pos_int" else 0):
            raise fail("an integer >= 1" if kind == "pos_int" else "an integer >= 0")
        return value
    if kind == "pos_number":
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not 0 < value < math.inf:  # TOML allows nan and inf
            raise fail("a number > 0")
        return float(value)
    if kind == "int_list":
        items = value if isinstance(value, list) else [value]
        if not items:
            raise fail("a non-empty list of integers >= 1")
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise fail("integers >= 1")
        return tuple(dict.fromkeys(items))
    if kind == "backends":
        items = value if isinstance(value, list) else [value]
        if not items or any(i not in BACKEND_NAMES for i in items):
            raise fail(f"{' or '.join(repr(b) for b in BACKEND_NAMES)}, or a list of them")
        return tuple(dict.fromkeys(items))
    if kind == "strategies":
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(i, str) for i in items):
            raise fail(f"a list of strategy names ({', '.join(STRATEGIES)})")
        unknown = [i for i in items if i not in STRATEGIES]
        if unknown:
            raise where.error(
                table, key, f"unknown strategy {unknown[0]!r}; known: {', '.join(STRATEGIES)}"
            )
        return tuple(dict.fromkeys(items))
    if kind == "rounds":
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise fail("an integer >= 2 (a paired process's spread needs two rounds)")
        return value
    if kind == "comparisons":
        return _comparisons(where, table, key, value)
    if isinstance(kind, tuple):
        if value not in kind:
            raise fail(f"one of {', '.join(repr(k) for k in kind)}")
        return value
    raise AssertionError(kind)


def _comparisons(where: _Where, table: str, key: str, value: Any) -> tuple[tuple[str, str], ...]:
    shape = 'a list of [A, B] strategy pairs, like [["inplace", "concat"]]'
    if not isinstance(value, list):
        raise where.error(table, key, f"expected {shape}, got {value!r}")
    pairs: list[tuple[str, str]] = []
    for item in value:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(i, str) for i in item)
        ):
            raise where.error(table, key, f"expected {shape}, got the item {item!r}")
        others = [i for i in item if i not in WRAPPERS]
        if others:
            raise where.error(
                table,
                key,
                f"{others[0]!r} cannot be paired: only {' and '.join(WRAPPERS)} share one "
                "template in a process (A == B is the A/A calibration pair)",
            )
        pairs.append((item[0], item[1]))
    return tuple(dict.fromkeys(pairs))


def _renamed(where: _Where, table: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with each renamed key under its new name (said once, as a warning); both names
    at once is an error."""
    found = {old: new for old, new in _RENAMED_KEYS.items() if old in data}
    for old, new in found.items():
        if new in data:
            raise where.error(table, old, f"renamed to {new}, which is given too: keep {new}")
        deprecated(old, new, f"{where.path}: [{table}]")
    return {_RENAMED_KEYS.get(key, key): value for key, value in data.items()}


def _settings(where: _Where, table: str, data: Mapping[str, Any], base: Settings) -> Settings:
    data = _renamed(where, table, data)
    changes = {
        key: _value(where, table, key, data[key], kind)
        for key, kind in _SETTING_TYPES.items()
        if key in data
    }
    settings = dataclasses.replace(base, **changes)
    if "replicas" in changes or "strategies" in changes or table == "suite":
        # DataParallel over one device is a cell too: the recipe's own overhead.
        multi = [
            s for s in settings.strategies if s not in (Strategy.SINGLE, Strategy.DATAPARALLEL)
        ]
        if multi and all(r < 2 for r in settings.replicas):
            raise where.error(table, "replicas", "multi-device strategies need a count >= 2")
    if changes.keys() & {"strategies", "backend", "replicas", "workers"} or table == "suite":
        _check_backends_run_strategies(where, table, settings)
    return settings


def _check_backends_run_strategies(where: _Where, table: str, settings: Settings) -> None:
    """Every strategy runs on some listed backend, every backend runs some listed strategy, and
    a multi-process strategy gets at least one cell."""
    for strategy in settings.strategies:
        hosts = backends_running(strategy)
        if not set(hosts) & set(settings.backend):
            reason = why_only(strategy)
            why = f" ({reason})" if reason else ""
            raise where.error(
                table,
                "strategies",
                f"{strategy!r} runs on the {' or '.join(hosts)} backend only{why}; add "
                f"{' or '.join(repr(h) for h in hosts)} to backend",
            )
    for backend in settings.backend:
        runs = BACKENDS[backend].strategies
        if not set(runs) & set(settings.strategies):
            raise where.error(
                table,
                "backend",
                f"the {backend} backend runs {', '.join(runs)}, none of the suite's strategies",
            )
    for strategy in set(settings.strategies) & set(MULTIPROCESS):
        if not any(
            _process_counts(strategy, replicas, settings.workers) for replicas in settings.replicas
        ):
            raise where.error(
                table,
                "workers",
                f"no {strategy!r} cell: its process counts {list(settings.workers)} must split "
                f"a replica count in {list(settings.replicas)} evenly"
                + (
                    f" ({Strategy.MULTIWORKER} needs 2 processes or more)"
                    if strategy == Strategy.MULTIWORKER
                    else ""
                ),
            )


def _process_counts(strategy: str, replicas: int, workers: Sequence[int]) -> list[int]:
    """The process counts of ``strategy``'s cells over ``replicas``: 1 unless it may span
    processes; then each of ``workers`` that splits the replicas evenly (2 or more for
    multiworker, which is multi-process by definition)."""
    if strategy not in MULTIPROCESS:
        return [1]
    least = 2 if strategy == Strategy.MULTIWORKER else 1
    return [w for w in workers if w >= least and replicas % w == 0]


def _model_entry(where: _Where, index: int, data: Any, defaults: Settings) -> ModelEntry:
    table = f"models.{index}"
    if not isinstance(data, dict):
        raise where.error(table, None, "expected a table ([[models]])")
    _check_keys(where, table, data, _MODEL_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise where.error(table, "name", "a model name is required")
    if not models.known_model(name):
        raise where.error(
            table,
            "name",
            f"unknown model {name!r}; known: {', '.join(models.APPLICATIONS + models.TINY)}, "
            "or 'module:function' for your own factory",
        )
    size = _value(where, table, "image_size", data.get("image_size", 224), "pos_int")
    minimum = models.MIN_IMAGE_SIZE.get(name, 1)
    if size < minimum:
        raise where.error(table, "image_size", f"{name} needs images of at least {minimum}px")
    classes = _value(where, table, "classes", data.get("classes", 1000), "pos_int")
    batch = (
        _value(where, table, "batch_per_replica", data["batch_per_replica"], "int_list")
        if "batch_per_replica" in data
        else defaults.batch_per_replica
    )
    return ModelEntry(name, size, classes, batch)


def parse_suite(text: str, path: str = "<suite>", *, cpu_only: bool = False) -> Suite:
    """Validate a suite's TOML text; ``cpu_only`` applies its ``[cpu]`` profile."""
    where = _Where(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"{path}: not valid TOML: {error}") from error
    _check_keys(where, "top level", data, {"suite", "models", "cpu", "slurm"})
    table = data.get("suite")
    if not isinstance(table, dict):
        raise where.error("suite", None, "a [suite] table is required")
    _check_keys(where, "suite", table, _SUITE_KEYS)
    name = table.get("name", Path(path).stem)
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise where.error("suite", "name", f"expected letters, digits, '-' or '_', got {name!r}")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise where.error("suite", "description", "expected a string")
    settings = _settings(where, "suite", table, Settings())
    raw_models = data.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise where.error("models", None, "at least one [[models]] table is required")
    entries = [_model_entry(where, i, m, settings) for i, m in enumerate(raw_models)]

    profile = "default"
    cpu = data.get("cpu", {})
    if not isinstance(cpu, dict):
        raise where.error("cpu", None, "expected a table")
    _check_keys(where, "cpu", cpu, _CPU_KEYS)
    cpu_settings = _settings(where, "cpu", cpu, settings)
    cpu_entries = _cpu_entries(where, cpu, entries)
    if cpu_only and cpu:
        settings, entries, profile = cpu_settings, cpu_entries, "cpu"
    slurm = parse_slurm_table(data.get("slurm", {}), _place(path, "slurm"))
    settings = dataclasses.replace(settings, compare=settings.comparisons)
    suite = Suite(name, path, description, settings, tuple(entries), profile, slurm)
    seen: set[str] = set()
    for cell in suite.cells():
        if cell.cell_id in seen:
            raise where.error(
                "models",
                None,
                f"two entries make the same cell {cell.cell_id!r} (they differ only in classes); "
                "results would merge: keep one",
            )
        seen.add(cell.cell_id)
    return suite


def _cpu_entries(
    where: _Where, cpu: Mapping[str, Any], entries: list[ModelEntry]
) -> list[ModelEntry]:
    chosen = entries
    if "models" in cpu:
        names = cpu["models"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
            raise where.error("cpu", "models", f"expected a list of model names, got {names!r}")
        missing = [n for n in names if n not in {e.name for e in entries}]
        if missing:
            raise where.error(
                "cpu", "models", f"{missing[0]!r} is not among the suite's [[models]]"
            )
        chosen = [e for e in entries if e.name in names]
    changes: dict[str, Any] = {}
    if "image_size" in cpu:
        changes["image_size"] = _value(where, "cpu", "image_size", cpu["image_size"], "pos_int")
    if "classes" in cpu:
        changes["classes"] = _value(where, "cpu", "classes", cpu["classes"], "pos_int")
    if "batch_per_replica" in cpu:
        changes["batch_per_replica"] = _value(
            where, "cpu", "batch_per_replica", cpu["batch_per_replica"], "int_list"
        )
    result = []
    for entry in chosen:
        entry = dataclasses.replace(entry, **changes)
        minimum = models.MIN_IMAGE_SIZE.get(entry.name, 1)
        if entry.image_size < minimum:
            raise where.error(
                "cpu", "image_size", f"{entry.name} needs images of at least {minimum}px"
            )
        if entry not in result:
            result.append(entry)
    return result


def load_suite(path: str | Path, *, cpu_only: bool = False) -> Suite:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SuiteError(f"{path}: cannot read the suite file: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise SuiteError(f"{path}: not UTF-8 text (byte {error.start})") from error
    return parse_suite(text, str(path), cpu_only=cpu_only)
