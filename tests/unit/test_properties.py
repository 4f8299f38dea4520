"""Property-based tests: generated suites and results files, valid and broken, through the CLI.

The promise under test: no input ends in a traceback. A broken input exits 2 with one line
``mgbench: error: ...`` that names what was wrong; the only other exit codes are the gate's 1
(failed) and 3 (inconclusive).

Case counts come from a Hypothesis profile picked by ``HYPOTHESIS_PROFILE``: ``ci`` (the default,
a few hundred cases, seconds) or ``thorough`` (``nox -s properties``, more than 10^4 cases).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mgbench import models
from mgbench.config.suite import (
    BACKENDS,
    STRATEGIES,
    Cell,
    Suite,
    SuiteError,
    load_suite,
    parse_suite,
)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# thorough runs every property this many times more often than ci.
SCALE = {"ci": 1, "thorough": 30}[PROFILE]
for _name in ("ci", "thorough"):
    settings.register_profile(
        _name,
        deadline=None,
        database=None,
        derandomize=_name == "ci",  # CI sees the same cases every run
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
settings.load_profile(PROFILE)


def cases(ci_count: int) -> settings:
    return settings(max_examples=ci_count * SCALE)


DATA = Path(__file__).resolve().parent / "data"
MULTI_DEVICE = tuple(s for s in STRATEGIES if s != "single")
# Generated suites keep to the strategies every TF backend runs: which backend runs what, and
# the multi-process strategies' process counts, are tested case by case in test_multiworker.py.
GENERATED_STRATEGIES = tuple(s for s in STRATEGIES if s not in ("multiworker", "dataparallel"))
GENERATED_BACKENDS = tuple(b for b in BACKENDS if b != "jax")


def assert_clean_refusal(result: Any, *names: str) -> None:
    """Exit 2, one stderr line ``mgbench: error: ...`` naming each of ``names``, no traceback."""
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("mgbench: error: "), result.err
    for name in names:
        assert name in lines[0], (name, result.err)


# -- TOML text from Python values ---------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are TOML's, except that TOML also refuses a raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(value)


def toml_document(data: dict[str, Any]) -> str:
    """Plain values first, then ``[table]`` s, then ``[[array of tables]]`` s."""

    def is_table_list(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)

    lines = [
        f"{toml_value(key)} = {toml_value(value)}"
        for key, value in data.items()
        if not isinstance(value, dict) and not is_table_list(value)
    ]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{toml_value(key)}]")
            lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()]
    for key, value in data.items():
        if is_table_list(value):
            for table in value:
                lines.append(f"[[{toml_value(key)}]]")
                lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# -- suites -------------------------------------------------------------------------------------

MODEL_NAMES = (*models.APPLICATIONS, *models.TINY, "my_models.zoo:small_net")


def one_or_list(elements: st.SearchStrategy[Any], max_size: int = 4) -> st.SearchStrategy[Any]:
    unique = st.lists(elements, min_size=1, max_size=max_size, unique=True)
    return unique | elements


@st.composite
def valid_suites(draw: st.DrawFn) -> dict[str, Any]:
    strategies = draw(
        st.lists(st.sampled_from(GENERATED_STRATEGIES), min_size=1, max_size=4, unique=True)
    )
    replicas = draw(st.lists(st.integers(1, 8), min_size=1, max_size=3, unique=True))
    if any(s in MULTI_DEVICE for s in strategies) and max(replicas) < 2:
        replicas.append(draw(st.integers(2, 8)))
    suite = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,11}", fullmatch=True),
                "description": st.text(max_size=20),
                "batch_per_replica": one_or_list(st.integers(1, 256)),
                "warmup_steps": st.integers(0, 10),
                "timed_steps": st.integers(1, 50),
                "repeats": st.integers(1, 4),
                "input": st.sampled_from(("host", "device")),
                "weights": st.sampled_from(("cpu", "gpu0")),
                "dtype": st.sampled_from(("float32", "mixed_float16", "mixed_bfloat16")),
                "timeout_s": st.integers(1, 10**4) | st.floats(0.5, 1e4),
                "placement": st.booleans(),
                "backend": one_or_list(st.sampled_from(GENERATED_BACKENDS), 2),
                "compare": st.lists(
                    st.lists(st.sampled_from(("inplace", "concat")), min_size=2, max_size=2),
                    max_size=3,
                ),
                "pairs": st.integers(1, 4),
                "rounds": st.integers(2, 40),
                "block_steps": st.integers(1, 10),
                "seed": st.integers(0, 2**32),
            },
        )
    )
    suite["strategies"] = (
        strategies if len(strategies) > 1 or draw(st.booleans()) else strategies[0]
    )
    suite["replicas"] = replicas
    names = draw(st.lists(st.sampled_from(MODEL_NAMES), min_size=1, max_size=3, unique=True))
    entries = []
    for name in names:
        entry: dict[str, Any] = {"name": name}
        minimum = models.MIN_IMAGE_SIZE.get(name, 1)
        if minimum == 1 or draw(st.booleans()):
            entry["image_size"] = draw(st.integers(minimum, 320))
        if draw(st.booleans()):
            entry["classes"] = draw(st.integers(1, 1000))
        if draw(st.booleans()):
            entry["batch_per_replica"] = draw(one_or_list(st.integers(1, 64)))
        entries.append(entry)
    document: dict[str, Any] = {"suite": suite, "models": entries}
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        cpu = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "strategies": st.lists(
                        st.sampled_from(GENERATED_STRATEGIES), min_size=1, max_size=4, unique=True
                    ),
                    "replicas": st.lists(st.integers(2, 4), min_size=1, max_size=2, unique=True),
                    "classes": st.integers(1, 100),
                    "batch_per_replica": one_or_list(st.integers(1, 16)),
                    "repeats": st.integers(1, 3),
                },
            )
        )
        if draw(st.booleans()):
            cpu["models"] = chosen
        if draw(st.booleans()):
            cpu["image_size"] = draw(st.integers(75, 128))
        multi = any(s in MULTI_DEVICE for s in cpu.get("strategies", ()))
        if multi and "replicas" not in cpu and max(replicas) < 2:
            cpu["replicas"] = [2]
        document["cpu"] = cpu
    return document


def assert_well_formed(suite: Suite) -> None:
    settings_ = suite.settings
    cells = suite.cells()
    assert cells
    ids = [cell.cell_id for cell in cells]
    assert len(ids) == len(set(ids))
    entries = {entry.name: entry for entry in suite.models}
    assert settings_.compare is not None  # resolved when parsed
    for cell in cells:
        entry = entries[cell.model]
        if cell.paired:
            assert (cell.strategy, cell.versus) in settings_.compare and cell.replicas >= 2
            assert (cell.rounds, cell.block_steps) == (settings_.rounds, settings_.block_steps)
        else:
            assert cell.strategy in settings_.strategies
        assert cell.backend in settings_.backend
        assert cell.batch_per_replica in entry.batch_per_replica
        assert (cell.image_size, cell.classes) == (entry.image_size, entry.classes)
        assert cell.image_size >= models.MIN_IMAGE_SIZE.get(cell.model, 1)
        assert 0 < cell.timeout_s < math.inf and cell.timed_steps >= 1
        if cell.strategy == "single":
            assert cell.replicas == 1
        else:
            assert cell.replicas in settings_.replicas
        assert cell.cell_id.startswith(
            f"{cell.model}-{cell.image_size}px-b{cell.batch_per_replica}-"
        )
        assert Cell.from_dict(cell.to_dict()) == cell
    if any(s in MULTI_DEVICE for s in settings_.strategies):
        assert max(settings_.replicas) >= 2
    runs = suite.runs()
    assert len(runs) == len(set(runs)) == sum(suite.repeats_of(cell) for cell in cells)


@cases(100)
@given(document=valid_suites())
def test_generated_valid_suites_parse_into_well_formed_cells(document):
    text = toml_document(document)
    for cpu_only in (False, True):
        suite = parse_suite(text, "gen.toml", cpu_only=cpu_only)
        assert suite.profile == ("cpu" if cpu_only and document.get("cpu") else "default")
        assert_well_formed(suite)


SCALARS = (
    st.none()  # stands for "delete the key"
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.dates()
    | st.sampled_from([*STRATEGIES, *BACKENDS, *MODEL_NAMES, "host", "gpu0", "float32"])
)
VALUES = st.recursive(
    SCALARS.filter(lambda v: v is not None),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=6,
)
KEYS = st.sampled_from(
    [
        "name",
        "description",
        "strategies",
        "replicas",
        "batch_per_replica",
        "warmup_steps",
        "timed_steps",
        "repeats",
        "input",
        "weights",
        "dtype",
        "timeout_s",
        "placement",
        "backend",
        "image_size",
        "classes",
        "models",
    ]
) | st.text(min_size=1, max_size=8)


@st.composite
def broken_suites(draw: st.DrawFn) -> dict[str, Any]:
    document = draw(valid_suites())
    for _ in range(draw(st.integers(1, 3))):
        tables: list[dict[str, Any]] = [document]
        tables += [v for v in document.values() if isinstance(v, dict)]
        entries = document.get("models")
        tables += [v for v in entries if isinstance(v, dict)] if isinstance(entries, list) else []
        table = draw(st.sampled_from(tables))
        key = draw(KEYS)
        value = draw(SCALARS | VALUES)
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return document


def check_suite_through_cli(run_cli: Callable[..., Any], text: str | bytes) -> None:
    """Either the suite parses into well-formed cells, or ``mgbench run`` refuses it in one line
    that names the file (and, past TOML syntax, the table and key)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gen.toml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        for cpu_only in (False, True):
            try:
                suite = load_suite(path, cpu_only=cpu_only)
            except SuiteError as error:
                message = str(error)
                assert message.startswith(f"{path}: ")
                assert "\n" not in message
                if cpu_only:  # what `--profile cpu` meets, whatever hardware runs the test
                    out = Path(folder) / "out"
                    result = run_cli("run", path, "--profile", "cpu", "--output", out)
                    assert_clean_refusal(result)
                    assert result.err == f"mgbench: error: {message}\n"
                    assert not out.exists()
            else:
                assert_well_formed(suite)


@cases(150)
@given(document=broken_suites())
def test_broken_suites_are_refused_in_one_line_naming_file_table_and_key(run_cli, document):
    check_suite_through_cli(run_cli, toml_document(document))


@cases(40)
@given(text=st.text(max_size=200) | st.binary(max_size=200))
def test_junk_suite_files_are_refused_in_one_line(run_cli, text):
    check_suite_through_cli(run_cli, text)


# -- results files ------------------------------------------------------------------------------

MIB = 2**20
TEMPLATE = json.loads((DATA / "small_results.jsonl").read_text().splitlines()[1])


@st.composite
def ok_parts(draw: st.DrawFn, images_per_step: int) -> dict[str, Any]:
    steps = draw(st.lists(st.floats(1e-3, 10.0), min_size=1, max_size=12))
    wall = sum(steps) * draw(st.floats(1.0, 1.1))
    peaks = draw(
        st.dictionaries(
            st.sampled_from(["GPU:0", "GPU:1", "GPU:2"]), st.integers(1, 4096 * MIB), max_size=3
        )
    )
    traced = draw(st.booleans())
    return {
        "timing": {
            "first_step_s": draw(st.floats(1e-3, 60.0)),
            "warmup_step_s": draw(st.lists(st.floats(1e-3, 10.0), max_size=3)),
            "step_s": steps,
            "timed_wall_s": wall,
            "images_per_step": images_per_step,
            "images_per_s": images_per_step * len(steps) / wall,
        },
        "memory": {
            "tf_peak_bytes": peaks or None,
            "tf_peak_reason": None if peaks else "CPU: TensorFlow keeps no peak",
            "nvml": {
                str(i): {
                    "name": "Synthetic GPU",
                    "total_bytes": 80 * 2**30,
                    "process_peak_bytes": peak + 300 * MIB,
                    "device_used_peak_bytes": None,
                }
                for i, peak in enumerate(peaks.values())
            }
            or None,
            "nvml_reason": None if peaks else "NVML not found",
            "host_rss_peak_bytes": draw(st.none() | st.integers(1, 2**36)),
        },
        "placement": TEMPLATE["placement"] if traced else None,
        "placement_reason": None if traced else "not traced",
    }


@st.composite
def valid_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A run as the launcher writes it: one machine, a few cells, repeats interleaved."""
    device_mode = draw(st.sampled_from(["gpu", "cpu"]))
    strategies = draw(
        st.lists(st.sampled_from(GENERATED_STRATEGIES), min_size=1, max_size=4, unique=True)
    )
    batch = draw(st.integers(1, 64))
    replicas = draw(st.integers(2, 4))
    backend = draw(st.sampled_from(GENERATED_BACKENDS))
    records = []
    for repeat in range(draw(st.integers(1, 4))):
        for strategy in strategies:
            cell = Cell(
                **{
                    **TEMPLATE["cell"],
                    "batch_per_replica": batch,
                    "strategy": strategy,
                    "replicas": 1 if strategy == "single" else replicas,
                    "backend": backend,
                }
            )
            status = draw(st.sampled_from(["ok", "ok", "ok", "failed", "timeout", "skipped"]))
            record = {
                "schema_version": 1,
                "cell_id": cell.cell_id,
                "repeat": repeat,
                "status": status,
                "cell": dataclasses.asdict(cell),
                "reason": None if status == "ok" else f"{status}: synthetic",
                "error_tail": "Traceback: synthetic" if status == "failed" else None,
                "suite": "synthetic",
                "profile": "cpu" if device_mode == "cpu" else "default",
                "run_id": "synthetic",
                "device_mode": device_mode,
                "jit_compile": False,
                "wall_s": draw(st.floats(0.1, 100.0)),
                "environment": TEMPLATE["environment"],
            }
            if status == "ok":
                record.update(draw(ok_parts(cell.global_batch)))
            records.append(record)
    return json.loads(json.dumps(records))  # no two records share a nested dict


def jsonl(records: list[Any]) -> bytes:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()


def check_results_through_cli(
    run_cli: Callable[..., Any], content: bytes, baseline: bytes | None = None
) -> None:
    """``report``, both ``gate`` s and ``export`` on a results file: a result or a clean refusal."""
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        run.mkdir()
        (run / "results.jsonl").write_bytes(content)
        base = Path(folder) / "base"
        base.mkdir()
        (base / "results.jsonl").write_bytes(baseline if baseline is not None else content)
        for args, allowed in (
            (("report", run, "--no-plots"), {0}),
            (("gate", base, run), {0, 1, 3}),
            (("gate", run, "--ratio", "inplace/concat"), {0, 1, 3}),
            (("export", run, "--output", Path(folder) / "export.json"), {0}),
        ):
            result = run_cli(*args)
            if result.code == 2:
                assert_clean_refusal(result)
            else:
                assert result.code in allowed, (args, result)
                assert "Traceback" not in result.err


@cases(15)
@given(records=valid_records(), baseline=valid_records())
def test_valid_results_files_report_gate_and_export(run_cli, records, baseline):
    check_results_through_cli(run_cli, jsonl(records), jsonl(baseline))


@cases(15)
@given(records=valid_records(), cut=st.floats(0.0, 1.0))
def test_truncated_results_files_keep_every_whole_record(run_cli, records, cut):
    content = jsonl(records)
    check_results_through_cli(run_cli, content[: int(len(content) * cut)])


def json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=5,
    )


@st.composite
def records_with_wrong_types(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A valid run where one field somewhere holds another type, or is missing."""
    records = draw(valid_records())
    record = draw(st.sampled_from(records))
    table = record
    while True:
        key = draw(st.sampled_from(sorted(table)))
        if isinstance(table[key], dict) and table[key] and draw(st.booleans()):
            table = table[key]
            continue
        break
    if draw(st.booleans()):
        del table[key]
    else:
        value = draw(json_values())
        assume(type(value) is not type(table[key]))
        table[key] = value
    return records


@cases(30)
@given(records=records_with_wrong_types())
def test_records_with_wrong_types_are_refused_naming_the_line(run_cli, records):
    check_results_through_cli(run_cli, jsonl(records))


@cases(20)
@given(lines=st.lists(json_values().filter(lambda v: not isinstance(v, dict)), min_size=1))
def test_json_lines_that_are_not_records_are_refused(run_cli, lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.jsonl"
        path.write_bytes(jsonl(lines) + SMALL_RESULTS)
        for args in (
            ("report", path, "--no-plots"),
            ("gate", path, path),
            ("gate", path, "--ratio", "inplace/concat"),
            ("export", path, "--output", Path(folder) / "export.json"),
        ):
            assert_clean_refusal(run_cli(*args), f"{path}:1")


@cases(20)
@given(junk=st.binary(max_size=200).map(lambda tail: b"\xff" + tail))
def test_junk_bytes_are_refused_naming_the_file(run_cli, junk):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.jsonl"
        path.write_bytes(junk)
        for args in (
            ("report", path, "--no-plots"),
            ("gate", path, path),
            ("gate", path, "--ratio", "inplace/concat"),
            ("export", path, "--output", Path(folder) / "export.json"),
        ):
            assert_clean_refusal(run_cli(*args), str(path))


def holds_no_json(text: str) -> bool:
    for line in text.splitlines():
        try:
            json.loads(line)
        except ValueError:
            continue
        return False
    return True


@cases(25)
@given(junk=st.text(max_size=200).filter(holds_no_json))
def test_junk_lines_before_records_are_refused_or_skipped(run_cli, junk):
    """A line that is not JSON is refused, unless it is blank or the file's torn last line."""
    check_results_through_cli(run_cli, junk.encode() + b"\n" + SMALL_RESULTS)


SMALL_RESULTS = (DATA / "small_results.jsonl").read_bytes()
