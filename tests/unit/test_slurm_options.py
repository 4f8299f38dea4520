"""The ``[slurm]`` table and the ``--slurm-*`` flags: parsing, every refusal, and the merge of
the flags over the table. Pure: no submitit, no Slurm, no TensorFlow."""

from __future__ import annotations

import pytest

from mgbench.config.slurm import SlurmOptions, merge_overrides
from mgbench.config.suite import SuiteError, parse_suite

SUITE = """
[suite]
name = "slurmy"
strategies = ["inplace", "concat"]
replicas = [2]
timeout_s = 240
compare = []
[[models]]
name = "TinyMLP"
image_size = 8
"""

TABLE = """
[slurm]
partition = "gpu"
account = "proj42"
gpus_per_node = 8
time_min = 30
sbatch = ["--qos=high", "--constraint=h100", "--exclusive-user"]
setup = ["module load cuda/12.4", "source /shared/venv/bin/activate"]
"""


def slurm_of(table: str) -> SlurmOptions:
    # a top-level key must come before the first table, or TOML puts it in that table
    text = SUITE + table if table.startswith("[") else table + "\n" + SUITE
    return parse_suite(text, "bad.toml").slurm


def test_a_full_table_is_read_into_the_options():
    assert slurm_of(TABLE) == SlurmOptions(
        partition="gpu",
        account="proj42",
        gpus_per_node=8,
        time_min=30,
        sbatch_lines=("--qos=high", "--constraint=h100", "--exclusive-user"),
        setup=("module load cuda/12.4", "source /shared/venv/bin/activate"),
    )
    assert slurm_of(TABLE).sbatch_parameters() == {
        "qos": "high",
        "constraint": "h100",
        "exclusive-user": True,
    }


def test_no_table_and_an_empty_table_ask_for_nothing():
    assert parse_suite(SUITE, "ok.toml").slurm == SlurmOptions()
    assert slurm_of("[slurm]\n") == SlurmOptions()


BAD = [
    ("slurm = 3", r"\[slurm\]: expected a table"),
    (
        "[slurm]\nqueue = 'gpu'",
        r"\[slurm\] queue: unknown key; allowed: account, gpus_per_node, partition, sbatch, "
        r"setup, time_min",
    ),
    ("[slurm]\npartition = 3", r"\[slurm\] partition: expected a string, got 3"),
    ("[slurm]\npartition = ''", r"\[slurm\] partition: expected a name without spaces"),
    (
        "[slurm]\naccount = 'my proj'",
        r"\[slurm\] account: expected a name without spaces, got 'my proj'",
    ),
    ("[slurm]\ngpus_per_node = 0", r"\[slurm\] gpus_per_node: expected an integer >= 1, got 0"),
    ("[slurm]\ngpus_per_node = true", r"\[slurm\] gpus_per_node: expected an integer, got True"),
    ("[slurm]\ngpus_per_node = 2.5", r"\[slurm\] gpus_per_node: expected an integer, got 2\.5"),
    ("[slurm]\ntime_min = 0", r"\[slurm\] time_min: expected an integer >= 1, got 0"),
    ("[slurm]\ntime_min = '1:00:00'", r"\[slurm\] time_min: expected an integer, got '1:00:00'"),
    ("[slurm]\nsbatch = '--qos=high'", r"\[slurm\] sbatch: expected a list of strings, got"),
    ("[slurm]\nsbatch = [3]", r"\[slurm\] sbatch: expected a list of strings, got the item 3"),
    (
        "[slurm]\nsbatch = ['qos=high']",
        r"\[slurm\] sbatch: expected an sbatch option like '--qos=high', got 'qos=high'",
    ),
    (
        "[slurm]\nsbatch = ['-q high']",
        r"\[slurm\] sbatch: expected an sbatch option like '--qos=high', got '-q high'",
    ),
    (
        "[slurm]\nsbatch = ['--qos high']",
        r"\[slurm\] sbatch: expected '--name' or '--name=value' \(no spaces around '='\)",
    ),
    (
        '[slurm]\nsbatch = ["--qos=high\\n#SBATCH --nodes=4"]',
        r"\[slurm\] sbatch: a line must not hold a line break, got '--qos=high\\n#SBATCH",
    ),
    (
        "[slurm]\nsbatch = ['--time=60']",
        r"\[slurm\] sbatch: '--time=60': --time is set by the time_min key",
    ),
    (
        "[slurm]\nsbatch = ['--partition=gpu']",
        r"\[slurm\] sbatch: '--partition=gpu': --partition is set by the partition key",
    ),
    (
        "[slurm]\nsbatch = ['--nodes=2']",
        r"\[slurm\] sbatch: '--nodes=2': --nodes is set by mgbench \(one node per job; a "
        r"multiworker cell's job, one per worker\)",
    ),
    (
        "[slurm]\nsbatch = ['--exclusive']",
        r"\[slurm\] sbatch: '--exclusive': --exclusive is set by mgbench \(every job takes",
    ),
    ("[slurm]\nsetup = ['']", r"\[slurm\] setup: a line must not be empty"),
    (
        '[slurm]\nsetup = ["module load a\\rmodule load b"]',
        r"\[slurm\] setup: a line must not hold a line break",
    ),
    ("[slurm]\nsetup = [[]]", r"\[slurm\] setup: expected a list of strings, got the item \[\]"),
]


@pytest.mark.parametrize(("table", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_table_names_the_file_table_and_key(table, message):
    with pytest.raises(SuiteError, match=message) as error:
        slurm_of(table)
    assert str(error.value).startswith("bad.toml: [slurm]")
    assert "\n" not in str(error.value)


def test_flags_override_the_table_and_add_sbatch_lines_after_its():
    merged = merge_overrides(
        slurm_of(TABLE),
        {
            "partition": "debug",
            "gpus_per_node": 4,
            "time_min": 10,
            "sbatch": ["--qos=low", "--mail-type=END"],
        },
    )
    assert (merged.partition, merged.account, merged.gpus_per_node, merged.time_min) == (
        "debug",
        "proj42",
        4,
        10,
    )
    assert merged.sbatch_lines[-2:] == ("--qos=low", "--mail-type=END")
    # the flag's line wins over the table's for the same option
    assert merged.sbatch_parameters()["qos"] == "low"
    assert merged.setup == slurm_of(TABLE).setup
    assert merge_overrides(slurm_of(TABLE), {}) == slurm_of(TABLE)


BAD_FLAGS = [
    ({"partition": "a b"}, r"^--slurm-partition: expected a name without spaces"),
    ({"account": ""}, r"^--slurm-account: expected a name without spaces, got ''"),
    ({"gpus_per_node": 0}, r"^--slurm-gpus-per-node: expected an integer >= 1, got 0"),
    ({"time_min": -5}, r"^--slurm-time: expected an integer >= 1, got -5"),
    (
        {"sbatch": ["qos=high"]},
        r"^--slurm-sbatch: expected an sbatch option like '--qos=high', got 'qos=high'",
    ),
    ({"sbatch": ["--account=x"]}, r"^--slurm-sbatch: '--account=x': --account is set by the"),
    ({"setup": ["module load x"]}, r"^no --slurm-\* flag sets 'setup'"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_FLAGS, ids=[m for _, m in BAD_FLAGS])
def test_a_bad_flag_value_is_refused_naming_the_flag(overrides, message):
    with pytest.raises(ValueError, match=message):
        merge_overrides(SlurmOptions(), overrides)


def test_the_time_limit_is_the_cell_timeout_plus_a_minute_unless_a_longer_one_is_given():
    assert SlurmOptions().time_limit_min(240) == 5
    assert SlurmOptions().time_limit_min(241) == 6
    assert SlurmOptions(time_min=5).time_limit_min(240) == 5
    assert SlurmOptions(time_min=60).time_limit_min(240) == 60
    with pytest.raises(
        ValueError,
        match=r"^4 min is shorter than the timeout of cell X \(240 s\) plus 1 min: expected at "
        r"least 5, or leave it out$",
    ):
        SlurmOptions(time_min=4).time_limit_min(240, "cell X")


# -- the command line: bad settings exit 2 with one line and no traceback ------------------------


@pytest.fixture
def suite_file(tmp_path):
    def write(table: str = "") -> str:
        path = tmp_path / "slurmy.toml"
        path.write_text(SUITE + table, encoding="utf-8")
        return str(path)

    return write


def test_a_bad_slurm_table_exits_2_with_one_line(run_cli, suite_file, tmp_path):
    path = suite_file("[slurm]\ngpus_per_node = 0\n")
    result = run_cli("run", path, "--output", tmp_path / "run")
    assert result.code == 2
    assert result.err.strip() == (
        f"mgbench: error: {path}: [slurm] gpus_per_node: expected an integer >= 1, got 0"
    )
    assert not (tmp_path / "run").exists()


SLURM_RUN = ["--executor", "slurm"]
CLI_REFUSALS = [
    (["--slurm-partition", "gpu"], "--slurm-partition: only with --executor slurm"),
    (
        ["--executor", "submitit-local", "--slurm-sbatch=--qos=high"],
        "--slurm-sbatch: only with --executor slurm",
    ),
    (
        [*SLURM_RUN, "--slurm-gpus-per-node", "0"],
        "--slurm-gpus-per-node: expected an integer >= 1, got 0",
    ),
    (
        [*SLURM_RUN, "--slurm-sbatch=qos=high"],
        "--slurm-sbatch: expected an sbatch option like '--qos=high', got 'qos=high'",
    ),
    (
        [*SLURM_RUN, "--slurm-time", "4"],
        "--slurm-time: 4 min is shorter than the timeout of cell TinyMLP-8px-b32-inplace-x2 "
        "(240 s) plus 1 min: expected at least 5, or leave it out",
    ),
]


@pytest.mark.parametrize(("flags", "message"), CLI_REFUSALS, ids=[m for _, m in CLI_REFUSALS])
def test_bad_slurm_flags_exit_2_with_one_line(run_cli, suite_file, tmp_path, flags, message):
    result = run_cli("run", suite_file(), "--output", tmp_path / "run", *flags)
    assert result.code == 2
    assert result.err.strip() == f"mgbench: error: {message}"
    assert not (tmp_path / "run").exists()


def test_a_too_short_table_time_is_refused_naming_the_file(run_cli, suite_file, tmp_path):
    path = suite_file("[slurm]\ntime_min = 2\n")
    result = run_cli("run", path, "--output", tmp_path / "run", *SLURM_RUN)
    assert result.code == 2
    assert result.err.strip().startswith(
        f"mgbench: error: {path}: [slurm] time_min: 2 min is shorter than the timeout of cell "
    )


def test_a_slurm_flag_that_is_not_a_number_is_a_usage_error(run_cli, suite_file):
    result = run_cli("run", suite_file(), *SLURM_RUN, "--slurm-time", "1:00:00")
    assert result.code == 2
    assert "argument --slurm-time: invalid int value: '1:00:00'" in result.err


def test_the_slurm_executor_without_slurm_on_path_exits_2_saying_so(
    run_cli, suite_file, tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run_cli("run", suite_file(), "--output", tmp_path / "run", *SLURM_RUN)
    assert result.code == 2
    assert result.err.strip() == (
        "mgbench: error: --executor slurm: sbatch, sacct, scancel, srun not found on PATH; "
        "run mgbench where Slurm's commands are (a login node), from a shared file system"
    )
