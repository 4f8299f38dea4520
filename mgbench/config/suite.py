"""Suite files: TOML -> a validated, frozen :class:`Suite`, expanded into :class:`Cell` s.

A suite file has a ``[suite]`` table of run settings, one ``[[models]]`` table per model entry,
and an optional ``[cpu]`` table of overrides that applies by itself when no GPU is found. Every
problem is a :class:`SuiteError` naming the file, the table and key, and what is wrong.
"""

from __future__ import annotations

import dataclasses
import random
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from mgbench import models
from mgbench.config.checks import (
    Fields,
    Place,
    choice,
    flag,
    integer,
    is_integer,
    listed,
    positive_number,
    table_place,
)
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


def paired_processes(
    comparisons: Sequence[tuple[str, str]], runnable: Sequence[str]
) -> list[tuple[str, ...]]:
    """The strategies of each paired process a group runs for its ``comparisons`` (those whose
    strategies its backend runs), in the comparisons' order.

    While the comparisons between different strategies hold two strategies at most, each
    comparison is a process of its own, as ``[A, B]`` (the A/A calibration pair included).
    When they hold more, one process holds them all, in the vocabulary's order, and yields every
    pair of them: k wrappers over one template cost one process, not one per pair. An A/A
    calibration pair stays a process of its own, as it was: it calibrates two blocks a round,
    and one strategy twice cannot be told apart by name among k."""
    pairs = [(a, b) for a, b in comparisons if a in runnable and b in runnable]
    held = dict.fromkeys(s for a, b in pairs if a != b for s in (a, b))
    if len(held) <= 2:
        return list(pairs)
    together = tuple(w for w in WRAPPERS if w in held)
    out: list[tuple[str, ...]] = []
    for a, b in pairs:
        if a == b:
            out.append((a, b))
        elif together not in out:  # where the first comparison between different ones was
            out.append(together)
    return out


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
    pairs: int = 3  # processes per paired cell (a comparison, or several held in one process)
    # Run each paired cell's processes until its comparisons are decided, looking after each
    # from the second on (a group-sequential design): ``pairs`` is then the most it runs.
    until_decided: bool = False
    rounds: int = 20  # rounds per paired process, each one block of every strategy it holds
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
    # More wrappers in the same paired process, after ``versus`` (a k-way process yields every
    # pair of its strategies: see ``paired_processes``); empty for a process of two.
    also: tuple[str, ...] = ()
    # A multi-process cell's processes (multiworker, dataparallel); ``replicas`` counts every
    # process's replicas.
    workers: int = 1
    # A paired cell run until decided (``until_decided``): the most paired processes it runs,
    # K of its group-sequential design, so a record knows the design without the command line.
    # None: a fixed number of processes. Not part of ``cell_id``.
    sequential_max: int | None = None

    @property
    def paired(self) -> bool:
        return self.versus is not None

    @property
    def paired_strategies(self) -> tuple[str, ...]:
        """A paired cell's strategies in its record's order (``strategy``, ``versus``, then
        ``also``); an isolated cell's one strategy."""
        if self.versus is None:
            return (self.strategy,)
        return (self.strategy, self.versus, *self.also)

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
        strategy = "-vs-".join(self.paired_strategies)
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
        if self.also:
            data["also"] = list(self.also)  # as JSON holds it (a record reads a list)
        else:  # ...and a paired cell of two as before k-way processes
            del data["also"]
        if not self.multiprocess:  # ...and a one-process cell's as before multiworker cells
            del data["workers"]
        if self.sequential_max is None:  # ...and a fixed-budget cell's as before sequential runs
            del data["sequential_max"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cell:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "also" in values:  # a JSON list; the cell is frozen and hashed
            values["also"] = tuple(values["also"])
        return cls(**values)


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
    # (paired cell id, rounds, processes) replacing the settings' rounds and pairs for that cell:
    # what ``--deadline`` allocated (``with_allocation``); suite.json keeps them when given.
    allocated: tuple[tuple[str, int, int], ...] = ()

    def groups(self) -> list[list[Cell]]:
        """Cells compared with each other (one backend, model, image size, batch, replicas).

        ``single`` runs on one device, so it joins only the first replica count's group. The
        group's paired cells (replica counts >= 2: one per comparison, or one holding every
        strategy of the comparisons when they hold more than two, see ``paired_processes``) come
        after its isolated cells.
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
                            self._allocated(
                                self._cell(
                                    backend,
                                    entry,
                                    batch,
                                    held[0],
                                    replicas,
                                    versus=held[1],
                                    also=held[2:],
                                    rounds=s.rounds,
                                    block_steps=s.block_steps,
                                    sequential_max=s.pairs if s.until_decided else None,
                                )
                            )
                            for held in paired_processes(s.comparisons, runs)
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

    def _allocated(self, cell: Cell) -> Cell:
        """A paired cell with the rounds ``allocated`` gives it (its id does not hold rounds); a
        cell run until decided looks up to the processes allocated to it."""
        for cell_id, rounds, processes in self.allocated:
            if cell_id == cell.cell_id:
                sequential = cell.sequential_max is not None and processes >= 2
                return dataclasses.replace(
                    cell, rounds=rounds, sequential_max=processes if sequential else None
                )
        return cell

    def cells(self) -> list[Cell]:
        return [cell for group in self.groups() for cell in group]

    def repeats_of(self, cell: Cell) -> int:
        """Processes a cell runs in: ``pairs`` for a paired cell (or what ``allocated`` gives
        it), ``repeats`` for the others."""
        if not cell.paired:
            return self.settings.repeats
        for cell_id, _, processes in self.allocated:
            if cell_id == cell.cell_id:
                return processes
        return self.settings.pairs

    def with_allocation(self, chosen: Mapping[str, tuple[int, int]]) -> Suite:
        """The suite with these paired cells' (rounds, processes) in place of the settings'
        rounds and pairs (``mgbench run --deadline``'s allocation)."""
        paired = {c.cell_id for c in self.cells() if c.paired}
        for cell_id, (rounds, processes) in chosen.items():
            if cell_id not in paired:
                raise SuiteError(f"allocation: {cell_id!r} is not a paired cell of {self.path}")
            if rounds < 2 or processes < 1:
                raise SuiteError(
                    f"allocation: {cell_id} needs rounds >= 2 and processes >= 1, got "
                    f"{rounds} and {processes}"
                )
        allocated = tuple((cell_id, int(r), int(p)) for cell_id, (r, p) in sorted(chosen.items()))
        return dataclasses.replace(self, allocated=allocated)

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
            most_pairs = max((self.repeats_of(c) for c in paired), default=0)
            for round_ in range(max(self.settings.repeats, most_pairs)):
                shuffle = random.Random(f"{self.settings.seed}|{group_key}|{round_}").shuffle
                if round_ < self.settings.repeats:
                    order = list(isolated)
                    shuffle(order)
                    out.extend((cell, round_) for cell in order)
                if round_ < most_pairs:
                    order = [c for c in paired if round_ < self.repeats_of(c)]
                    shuffle(order)
                    out.extend((cell, round_) for cell in order)
        return out

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not self.allocated:  # a suite.json stays as it was before allocations
            del data["allocated"]
        return data

    def select(
        self,
        *,
        models: Sequence[str] | None = None,
        replicas: Sequence[int] | None = None,
        repeats: int | None = None,
        pairs: int | None = None,
        until_decided: bool | None = None,
    ) -> Suite:
        """Only these models and replica counts, other repeat and pair counts, and runs until
        decided or not (``mgbench run --models/--replicas/--repeats/--pairs/--until-decided``)."""
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
        if until_decided is not None:
            settings = dataclasses.replace(settings, until_decided=until_decided)
        if settings.until_decided and (pairs is not None or until_decided):
            name = "--until-decided" if until_decided else "--pairs"
            _check_sequential(
                settings,
                lambda problem: SuiteError(f"{name}: {problem}"),
                comparisons=bool(until_decided),
            )
        return dataclasses.replace(self, models=entries, settings=settings)


# -- validation --------------------------------------------------------------------------------


def _place(path: str, table: str) -> Place:
    """A suite table's place; its messages quote a refused value in full."""
    return table_place(path, table, SuiteError, show=repr)


def _one_or_many(value: Any) -> list[Any]:
    """A list as it is, one value as a list of it (``replicas = 2`` is ``replicas = [2]``)."""
    return value if isinstance(value, list) else [value]


def _counts(value: Any, place: Place) -> tuple[int, ...]:
    """Counts >= 1, one or a list, without repeats."""
    counts = _one_or_many(value)
    if not counts:
        raise place.expected("a non-empty list of integers >= 1", value)
    if not all(is_integer(count) and count >= 1 for count in counts):
        raise place.expected("integers >= 1", value)
    return tuple(dict.fromkeys(counts))


def _backends(value: Any, place: Place) -> tuple[str, ...]:
    names = _one_or_many(value)
    if not names or any(name not in BACKEND_NAMES for name in names):
        either = " or ".join(repr(b) for b in BACKEND_NAMES)
        raise place.expected(f"{either}, or a list of them", value)
    return tuple(dict.fromkeys(names))


def _strategies(value: Any, place: Place) -> tuple[str, ...]:
    names = _one_or_many(value)
    if not names or not all(isinstance(name, str) for name in names):
        raise place.expected(f"a list of strategy names ({', '.join(STRATEGIES)})", value)
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown:
        raise place.error(f"unknown strategy {unknown[0]!r}; known: {', '.join(STRATEGIES)}")
    return tuple(dict.fromkeys(names))


def _comparisons(value: Any, place: Place) -> tuple[tuple[str, str], ...]:
    shape = 'a list of [A, B] strategy pairs, like [["inplace", "concat"]]'
    pairs: list[tuple[str, str]] = []
    for item in listed(value, place, expected=shape):
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(i, str) for i in item)
        ):
            raise place.expected(shape, item, item=True)
        others = [i for i in item if i not in WRAPPERS]
        if others:
            raise place.error(
                f"{others[0]!r} cannot be paired: only {', '.join(WRAPPERS[:-1])} and "
                f"{WRAPPERS[-1]} share one "
                "template in a process (A == B is the A/A calibration pair)"
            )
        pairs.append((item[0], item[1]))
    return tuple(dict.fromkeys(pairs))


_positive = partial(integer, minimum=1)
_not_negative = partial(integer, minimum=0)

# The reader of each setting, in the order a table's settings are checked.
_SETTING_READERS: dict[str, Callable[[Any, Place], Any]] = {
    "strategies": _strategies,
    "replicas": _counts,
    "batch_per_replica": _counts,
    "warmup_steps": _not_negative,
    "timed_steps": _positive,
    "repeats": _positive,
    "input": partial(choice, options=INPUTS),
    "weights": partial(choice, options=WEIGHTS),
    "dtype": partial(choice, options=DTYPES),
    "timeout_s": positive_number,
    "placement": flag,
    "backend": _backends,
    "compare": _comparisons,
    "pairs": _positive,
    "until_decided": flag,
    "rounds": partial(
        integer, minimum=2, expected="an integer >= 2 (a paired process's spread needs two rounds)"
    ),
    "block_steps": _positive,
    "seed": _not_negative,
    "timeline": flag,
    "timeline_steps": _positive,
    "workers": _counts,
}
# Keys renamed since suites were first written: still read, with a warning naming the new one.
_RENAMED_KEYS = {"profile": "timeline", "profile_steps": "timeline_steps"}
_SUITE_KEYS = {"name", "description", *_SETTING_READERS, *_RENAMED_KEYS}
_MODEL_KEYS = {"name", "image_size", "classes", "batch_per_replica"}
# What [cpu] changes in each model entry it keeps (batch_per_replica, a setting too, is read twice)
_CPU_ENTRY_READERS: dict[str, Callable[[Any, Place], Any]] = {
    "image_size": _positive,
    "classes": _positive,
    "batch_per_replica": _counts,
}
_CPU_KEYS = {*_SETTING_READERS, *_RENAMED_KEYS, "models", *_CPU_ENTRY_READERS}


def _renamed(table: Fields) -> Fields:
    """The table with each renamed key under its new name (said once, as a warning); both names
    at once is an error."""
    found = {old: new for old, new in _RENAMED_KEYS.items() if old in table}
    for old, new in found.items():
        if new in table:
            raise table.place_of(old).error(f"renamed to {new}, which is given too: keep {new}")
        deprecated(old, new, table.place.name)
    return Fields(
        {_RENAMED_KEYS.get(key, key): value for key, value in table.data.items()}, table.place
    )


def _settings(table: Fields, base: Settings, *, check_all: bool) -> Settings:
    """``base`` with the table's settings. How they go together is checked where the table
    changes them, or everywhere with ``check_all`` ([suite]: its defaults must go together too)."""
    table = _renamed(table)
    changes = {
        key: table.required(key, read) for key, read in _SETTING_READERS.items() if key in table
    }
    settings = dataclasses.replace(base, **changes)
    if "replicas" in changes or "strategies" in changes or check_all:
        # DataParallel over one device is a cell too: the recipe's own overhead.
        multi = [
            s for s in settings.strategies if s not in (Strategy.SINGLE, Strategy.DATAPARALLEL)
        ]
        if multi and all(r < 2 for r in settings.replicas):
            raise table.place_of("replicas").error("multi-device strategies need a count >= 2")
    if changes.keys() & {"strategies", "backend", "replicas", "workers"} or check_all:
        _check_backends_run_strategies(table, settings)
    if settings.until_decided and (changes.keys() & {"until_decided", "pairs"} or check_all):
        # Named where the table changed it: pairs when only it changed, else until_decided.
        only_pairs = changes.keys() & {"pairs", "until_decided"} == {"pairs"}
        error = table.place_of("pairs" if only_pairs else "until_decided").error
        _check_sequential(settings, error, comparisons="until_decided" in changes or check_all)
    return settings


def _check_sequential(
    settings: Settings, error: Callable[[str], Exception], *, comparisons: bool = True
) -> None:
    """``until_decided`` needs room for a look (its first follows the second process) and, where
    it is set, paired comparisons to decide."""
    if settings.pairs < 2:
        raise error(
            f"until_decided = true needs pairs >= 2 (the most paired processes a cell runs; "
            f"its first look comes after the second), got pairs = {settings.pairs}"
        )
    if comparisons and not settings.comparisons:
        raise error(
            "until_decided = true needs paired comparisons to decide, and the suite has none "
            "(compare is empty, or its strategies list fewer than two wrappers)"
        )


def _check_backends_run_strategies(table: Fields, settings: Settings) -> None:
    """Every strategy runs on some listed backend, every backend runs some listed strategy, and
    a multi-process strategy gets at least one cell."""
    for strategy in settings.strategies:
        hosts = backends_running(strategy)
        if not set(hosts) & set(settings.backend):
            reason = why_only(strategy)
            why = f" ({reason})" if reason else ""
            raise table.place_of("strategies").error(
                f"{strategy!r} runs on the {' or '.join(hosts)} backend only{why}; add "
                f"{' or '.join(repr(h) for h in hosts)} to backend"
            )
    for backend in settings.backend:
        runs = BACKENDS[backend].strategies
        if not set(runs) & set(settings.strategies):
            raise table.place_of("backend").error(
                f"the {backend} backend runs {', '.join(runs)}, none of the suite's strategies"
            )
    for strategy in set(settings.strategies) & set(MULTIPROCESS):
        if not any(
            _process_counts(strategy, replicas, settings.workers) for replicas in settings.replicas
        ):
            raise table.place_of("workers").error(
                f"no {strategy!r} cell: its process counts {list(settings.workers)} must split "
                f"a replica count in {list(settings.replicas)} evenly"
                + (
                    f" ({Strategy.MULTIWORKER} needs 2 processes or more)"
                    if strategy == Strategy.MULTIWORKER
                    else ""
                )
            )


def _process_counts(strategy: str, replicas: int, workers: Sequence[int]) -> list[int]:
    """The process counts of ``strategy``'s cells over ``replicas``: 1 unless it may span
    processes; then each of ``workers`` that splits the replicas evenly (2 or more for
    multiworker, which is multi-process by definition)."""
    if strategy not in MULTIPROCESS:
        return [1]
    least = 2 if strategy == Strategy.MULTIWORKER else 1
    return [w for w in workers if w >= least and replicas % w == 0]


def _check_image_size(name: str, size: int, place: Place) -> None:
    minimum = models.MIN_IMAGE_SIZE.get(name, 1)
    if size < minimum:
        raise place.error(f"{name} needs images of at least {minimum}px")


def _model_entry(path: str, index: int, data: Any, defaults: Settings) -> ModelEntry:
    place = _place(path, f"models.{index}")
    if not isinstance(data, dict):
        raise place.error("expected a table ([[models]])")
    entry = Fields(data, place)
    entry.check_keys(_MODEL_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise entry.place_of("name").error("a model name is required")
    if not models.known_model(name):
        raise entry.place_of("name").error(
            f"unknown model {name!r}; known: {', '.join(models.APPLICATIONS + models.TINY)}, "
            "or 'module:function' for your own factory"
        )
    size = _positive(data.get("image_size", 224), entry.place_of("image_size"))
    _check_image_size(name, size, entry.place_of("image_size"))
    classes = _positive(data.get("classes", 1000), entry.place_of("classes"))
    batch = entry.optional("batch_per_replica", _counts) or defaults.batch_per_replica
    return ModelEntry(name, size, classes, batch)


def parse_suite(text: str, path: str = "<suite>", *, cpu_only: bool = False) -> Suite:
    """Validate a suite's TOML text; ``cpu_only`` applies its ``[cpu]`` profile."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"{path}: not valid TOML: {error}") from error
    Fields(data, _place(path, "top level")).check_keys({"suite", "models", "cpu", "slurm"})
    table = data.get("suite")
    if not isinstance(table, dict):
        raise _place(path, "suite").error("a [suite] table is required")
    suite_table = Fields(table, _place(path, "suite"))
    suite_table.check_keys(_SUITE_KEYS)
    name = table.get("name", Path(path).stem)
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise suite_table.place_of("name").expected("letters, digits, '-' or '_'", name)
    description = table.get("description", "")
    if not isinstance(description, str):
        raise suite_table.place_of("description").error("expected a string")
    settings = _settings(suite_table, Settings(), check_all=True)
    raw_models = data.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise _place(path, "models").error("at least one [[models]] table is required")
    entries = [_model_entry(path, i, m, settings) for i, m in enumerate(raw_models)]

    profile = "default"
    cpu = data.get("cpu", {})
    if not isinstance(cpu, dict):
        raise _place(path, "cpu").error("expected a table")
    cpu_table = Fields(cpu, _place(path, "cpu"))
    cpu_table.check_keys(_CPU_KEYS)
    cpu_settings = _settings(cpu_table, settings, check_all=False)
    cpu_entries = _cpu_entries(cpu_table, entries)
    if cpu_only and cpu:
        settings, entries, profile = cpu_settings, cpu_entries, "cpu"
    slurm = parse_slurm_table(data.get("slurm", {}), _place(path, "slurm"))
    settings = dataclasses.replace(settings, compare=settings.comparisons)
    suite = Suite(name, path, description, settings, tuple(entries), profile, slurm)
    seen: set[str] = set()
    for cell in suite.cells():
        if cell.cell_id in seen:
            raise _place(path, "models").error(
                f"two entries make the same cell {cell.cell_id!r} (they differ only in classes); "
                "results would merge: keep one"
            )
        seen.add(cell.cell_id)
    return suite


def _cpu_entries(cpu: Fields, entries: list[ModelEntry]) -> list[ModelEntry]:
    chosen = entries
    if "models" in cpu:
        names = cpu.get("models")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
            raise cpu.place_of("models").expected("a list of model names", names)
        missing = [n for n in names if n not in {e.name for e in entries}]
        if missing:
            raise cpu.place_of("models").error(
                f"{missing[0]!r} is not among the suite's [[models]]"
            )
        chosen = [e for e in entries if e.name in names]
    changes = {
        key: cpu.required(key, read) for key, read in _CPU_ENTRY_READERS.items() if key in cpu
    }
    result = []
    for entry in chosen:
        entry = dataclasses.replace(entry, **changes)
        _check_image_size(entry.name, entry.image_size, cpu.place_of("image_size"))
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
