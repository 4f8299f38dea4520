"""Suite files: expansion into cells, interleaving, the cpu profile, and every kind of bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mgbench.analysis.claim import PR_10230
from mgbench.config.suite import Cell, SuiteError, load_suite, parse_suite
from mgbench.vocabulary import WRAPPERS

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[suite]
name = "demo"
strategies = ["single", "inplace", "concat"]
replicas = [2, 4]
batch_per_replica = 8
repeats = 2

[[models]]
name = "ResNet50"
image_size = 224
classes = 1000
batch_per_replica = [96, 8]

[[models]]
name = "TinyCNN"
image_size = 32

[cpu]
models = ["ResNet50"]
image_size = 32
batch_per_replica = 4
replicas = [2]
repeats = 1
"""


def isolated(cells):
    return [c for c in cells if not c.paired]


def test_cells_cover_the_matrix_and_single_runs_once_per_model_and_batch():
    suite = parse_suite(GOOD, "demo.toml")
    ids = [c.cell_id for c in isolated(suite.cells())]
    assert ids[:5] == [
        "ResNet50-224px-b96-single-x1",
        "ResNet50-224px-b96-inplace-x2",
        "ResNet50-224px-b96-concat-x2",
        "ResNet50-224px-b96-inplace-x4",
        "ResNet50-224px-b96-concat-x4",
    ]
    assert len(ids) == len(set(ids)) == 3 * 5  # (ResNet50 x2 batches + TinyCNN) x (1 + 2x2)
    tiny = [c for c in isolated(suite.cells()) if c.model == "TinyCNN"]
    assert {c.batch_per_replica for c in tiny} == {8}  # the suite default
    assert tiny[0].classes == 1000 and tiny[0].timed_steps == 30


def test_each_group_gets_one_paired_cell_per_comparison_and_replica_count():
    suite = parse_suite(GOOD, "demo.toml")
    paired = [c for c in suite.cells() if c.paired]
    assert [c.cell_id for c in paired] == [
        "ResNet50-224px-b96-inplace-vs-concat-x2",
        "ResNet50-224px-b96-inplace-vs-concat-x4",
        "ResNet50-224px-b8-inplace-vs-concat-x2",
        "ResNet50-224px-b8-inplace-vs-concat-x4",
        "TinyCNN-32px-b8-inplace-vs-concat-x2",
        "TinyCNN-32px-b8-inplace-vs-concat-x4",
    ]
    first = paired[0]
    assert (first.strategy, first.versus, first.rounds, first.block_steps) == (
        "inplace",
        "concat",
        20,
        5,
    )
    assert (first.warmup_steps, first.timed_steps) == (5, 30)
    assert suite.settings.compare == (("inplace", "concat"),)  # resolved, so suite.json shows it
    assert suite.settings.pairs == 3


def test_comparisons_default_only_with_both_wrappers_and_can_be_turned_off_or_calibrated():
    no_concat = GOOD.replace('"single", "inplace", "concat"', '"single", "inplace"')
    assert parse_suite(no_concat, "a.toml").settings.compare == ()
    assert not [c for c in parse_suite(no_concat, "a.toml").cells() if c.paired]
    off = GOOD.replace("repeats = 2", "repeats = 2\ncompare = []")
    assert not [c for c in parse_suite(off, "b.toml").cells() if c.paired]
    calibration = GOOD.replace("repeats = 2", 'repeats = 2\ncompare = [["inplace", "inplace"]]')
    ids = [c.cell_id for c in parse_suite(calibration, "c.toml").cells() if c.paired]
    assert ids[0] == "ResNet50-224px-b96-inplace-vs-inplace-x2"
    settings = 'compare = [["concat", "inplace"]]\npairs = 5\nrounds = 40\nblock_steps = 3'
    cpu = parse_suite(
        GOOD.replace("repeats = 1", f"repeats = 1\n{settings}"), "d.toml", cpu_only=True
    )
    (cell,) = [c for c in cpu.cells() if c.paired]
    assert (cell.cell_id, cell.rounds, cell.block_steps) == (
        "ResNet50-32px-b4-concat-vs-inplace-x2",
        40,
        3,
    )
    assert cpu.settings.pairs == 5


THREE_WAY = GOOD.replace(
    '"single", "inplace", "concat"', '"single", "inplace", "wholebatch", "concat"'
)


def paired_ids(text):
    return [c.cell_id for c in parse_suite(text, "k.toml").cells() if c.paired]


def test_comparisons_of_three_wrappers_share_one_process_that_holds_them_all():
    text = THREE_WAY.replace(
        "repeats = 2", 'repeats = 2\ncompare = [["inplace", "wholebatch"], ["inplace", "concat"]]'
    )
    suite = parse_suite(text, "k.toml")
    paired = [c for c in suite.groups()[0] if c.paired]
    (cell,) = paired
    assert cell.cell_id == "ResNet50-224px-b96-inplace-vs-wholebatch-vs-concat-x2"
    assert (cell.strategy, cell.versus, cell.also) == ("inplace", "wholebatch", ("concat",))
    assert cell.paired_strategies == ("inplace", "wholebatch", "concat")
    assert suite.repeats_of(cell) == suite.settings.pairs == 3
    # the default comparisons of three wrappers (every pair) make the same one process
    assert paired_ids(THREE_WAY) == paired_ids(text)
    # the process holds them in the vocabulary's order, however the comparisons name them
    reversed_ = text.replace('["inplace", "concat"]', '["concat", "wholebatch"]')
    assert paired_ids(reversed_) == paired_ids(text)


def test_an_aa_pair_stays_a_process_of_its_own_beside_a_three_way_one():
    compare = '[["inplace", "inplace"], ["inplace", "wholebatch"], ["concat", "inplace"]]'
    text = THREE_WAY.replace("repeats = 2", f"repeats = 2\ncompare = {compare}")
    assert paired_ids(text)[:2] == [
        "ResNet50-224px-b96-inplace-vs-inplace-x2",
        "ResNet50-224px-b96-inplace-vs-wholebatch-vs-concat-x2",
    ]
    assert len(paired_ids(text)) == 2 * 6  # (ResNet50 x2 batches + TinyCNN) x 2 replica counts


def test_comparisons_of_two_wrappers_keep_one_process_each_and_their_ids():
    both_ways = '[["inplace", "concat"], ["concat", "inplace"], ["inplace", "inplace"]]'
    text = THREE_WAY.replace("repeats = 2", f"repeats = 2\ncompare = {both_ways}")
    assert paired_ids(text)[:3] == [
        "ResNet50-224px-b96-inplace-vs-concat-x2",
        "ResNet50-224px-b96-concat-vs-inplace-x2",
        "ResNet50-224px-b96-inplace-vs-inplace-x2",
    ]
    assert not any(c.also for c in parse_suite(text, "k.toml").cells())


def test_a_three_way_cell_reads_back_and_a_cell_of_two_writes_what_it_wrote_before():
    three = next(c for c in parse_suite(THREE_WAY, "k.toml").cells() if c.paired)
    data = three.to_dict()
    assert data["also"] == ["concat"]  # as JSON holds it
    assert Cell.from_dict(data) == three and three.also == ("concat",)
    two = next(c for c in parse_suite(GOOD, "demo.toml").cells() if c.paired)
    assert list(two.to_dict()) == [*OLD_PAIRED_KEYS]
    assert Cell.from_dict(two.to_dict()) == two and two.also == ()
    assert two.paired_strategies == ("inplace", "concat")
    assert isolated(parse_suite(GOOD, "demo.toml").cells())[0].paired_strategies == ("single",)


# A paired cell's dict before k-way processes, key for key in order.
OLD_PAIRED_KEYS = (
    *("model", "image_size", "classes", "batch_per_replica", "strategy", "replicas"),
    *("warmup_steps", "timed_steps", "input", "weights", "dtype", "timeout_s", "placement"),
    *("backend", "versus", "rounds", "block_steps"),
)


def test_a_three_way_process_runs_as_one_paired_process_in_the_rounds():
    suite = parse_suite(THREE_WAY.replace("repeats = 2", "repeats = 2\npairs = 3"), "k.toml")
    group = suite.groups()[0]
    runs = [(c.cell_id, r) for c, r in suite.runs()][:10]
    three = "ResNet50-224px-b96-inplace-vs-wholebatch-vs-concat-x2"
    # round 0: the 4 isolated cells shuffled, then the process; round 1 alike; round 2: it only
    assert [cell_id for cell_id, _ in runs[4::5]] == [three, three]
    assert [c.cell_id for c in group][-1] == three and len(group) == 5


def test_rounds_interleave_shuffled_isolated_cells_with_the_paired_processes():
    suite = parse_suite(GOOD.replace("repeats = 2", "repeats = 2\npairs = 3"), "demo.toml")
    group = [c.cell_id for c in suite.groups()[0]]
    assert group[3] == "ResNet50-224px-b96-inplace-vs-concat-x2"
    runs = [(c.cell_id, r) for c, r in suite.runs()]
    # round 0: the 3 isolated cells shuffled, then pair 0; round 1 alike; round 2: pair 2 only
    first_group = runs[:9]
    assert [r for _, r in first_group] == [0, 0, 0, 0, 1, 1, 1, 1, 2]
    for start in (0, 4):
        assert sorted(i for i, _ in first_group[start : start + 3]) == sorted(group[:3])
        assert first_group[start + 3][0] == group[3]
    assert first_group[8][0] == group[3]
    paired = [c for c in suite.cells() if c.paired]
    assert len(runs) == 2 * len(isolated(suite.cells())) + 3 * len(paired)
    assert [suite.repeats_of(c) for c in suite.groups()[0]] == [2, 2, 2, 3]


def test_the_run_order_is_shuffled_per_round_and_fixed_by_the_seed():
    def order(seed):
        text = GOOD.replace("repeats = 2", f"repeats = 8\nseed = {seed}")
        return [(c.cell_id, r) for c, r in parse_suite(text, "demo.toml").runs()]

    assert order(0) == order(0)
    assert order(0) != order(1)
    rounds = [tuple(i for i, r in order(0)[:40] if r == k) for k in range(8)]
    assert len(set(rounds)) > 1  # not the same order every round
    assert sorted(order(0)) == sorted(order(1))  # the same runs, only the order differs


def test_selecting_other_groups_keeps_a_groups_order():
    text = GOOD.replace("repeats = 2", "repeats = 4\nseed = 7")
    full = [(c.cell_id, r) for c, r in parse_suite(text, "demo.toml").runs()]
    tiny = [
        (c.cell_id, r) for c, r in parse_suite(text, "d.toml").select(models=["TinyCNN"]).runs()
    ]
    assert tiny == [run for run in full if run[0].startswith("TinyCNN")]


def test_both_backends_make_separate_cells_side_by_side():
    suite = parse_suite(
        GOOD.replace("repeats = 2", 'repeats = 2\nbackend = ["keras3", "tf_keras"]'), "b.toml"
    )
    ids = [c.cell_id for c in isolated(suite.cells())]
    assert "ResNet50-224px-b96-inplace-x2" in ids
    assert "ResNet50-224px-b96-inplace-x2-tf_keras" in ids
    assert len(ids) == 2 * 15
    assert {c.backend for c in suite.cells()} == {"keras3", "tf_keras"}


def test_cpu_profile_overrides_and_merges_entries():
    suite = parse_suite(GOOD, "demo.toml", cpu_only=True)
    assert suite.profile == "cpu"
    assert [c.cell_id for c in suite.cells()] == [
        "ResNet50-32px-b4-single-x1",
        "ResNet50-32px-b4-inplace-x2",
        "ResNet50-32px-b4-concat-x2",
        "ResNet50-32px-b4-inplace-vs-concat-x2",
    ]
    assert suite.settings.repeats == 1
    assert parse_suite(GOOD, "demo.toml").profile == "default"


@pytest.mark.parametrize("path", sorted((ROOT / "suites").glob("*.toml")), ids=lambda p: p.name)
@pytest.mark.parametrize("cpu_only", [False, True])
def test_shipped_suites_are_valid(path, cpu_only):
    suite = load_suite(path, cpu_only=cpu_only)
    assert suite.cells()
    isolated = {c.strategy for c in suite.cells() if not c.paired}
    assert isolated == set(suite.settings.strategies)
    if path.name == "jax-gpu.toml":  # Keras 3 on JAX alone, for a GPU machine without TF
        assert {c.backend for c in suite.cells()} == {"jax"}
        assert isolated == {"single", "dataparallel"}
        return
    if path.name not in ("ci.toml", "gpu-quick.toml"):  # CI's gate: two wrappers, on purpose
        assert {"single", "inplace", "concat"} <= isolated
    assert "single" in isolated or path.name == "ci.toml"  # one device to normalise by
    if path.name in ("claim.toml", "imagenet.toml", "smoke.toml", "gpu-quick.toml"):
        assert {"inplace", "wholebatch"} <= isolated  # the claim's memory half, split by split
        (held,) = {c.paired_strategies for c in suite.cells() if c.paired}
        assert held == WRAPPERS  # one paired process holds all three splits
    if path.name in ("imagenet.toml", "smoke.toml", "modern.toml"):
        assert "mirrored" in isolated
    if path.name == "smoke.toml":  # the smoke suite checks the multi-process paths too
        (multi,) = [c for c in suite.cells() if c.strategy == "multiworker"]
        assert (multi.backend, multi.workers, multi.replicas) == ("tf_keras", 2, 2)
        jax = [(c.strategy, c.replicas, c.workers) for c in suite.cells() if c.backend == "jax"]
        assert jax == [("single", 1, 1), ("dataparallel", 2, 1), ("dataparallel", 2, 2)]
    if path.name == "modern.toml":  # today's recipe beside the 2018 ones
        assert "dataparallel" in isolated and "mirrored" in isolated
    assert [(c.strategy, c.versus) for c in suite.cells() if c.paired]


PR_ROWS = {(e.model, e.image_size, e.batch_per_replica) for e in PR_10230}


def test_imagenet_suite_holds_the_prs_six_rows():
    cells = load_suite(ROOT / "suites" / "imagenet.toml").cells()
    settings = {(c.model, c.image_size, c.batch_per_replica) for c in cells if c.replicas == 4}
    assert settings >= PR_ROWS
    assert ("InceptionV3", 299, 64) not in settings and ("InceptionV3", 224, 96) not in settings
    assert {c.replicas for c in cells} == {1, 2, 4, 8}


def test_the_claim_suite_is_the_prs_six_rows_through_the_three_splits():
    suite = load_suite(ROOT / "suites" / "claim.toml")
    cells = suite.cells()
    assert {(c.model, c.image_size, c.batch_per_replica) for c in cells} == PR_ROWS
    assert {c.replicas for c in cells if c.strategy != "single"} == {4}
    assert {c.classes for c in cells} == {1000}
    assert {c.strategy for c in cells if not c.paired} == {"single", *WRAPPERS}
    assert sum(c.paired for c in cells) == 6  # one three-way paired cell per row
    cpu = load_suite(ROOT / "suites" / "claim.toml", cpu_only=True)
    assert {c.model for c in cpu.cells()} == {"ResNet50", "InceptionV3"}
    assert {c.replicas for c in cpu.cells() if c.strategy != "single"} == {2}


BAD = [
    (
        "[suite]\nname='x'\ntimed_step = 3\n[[models]]\nname='TinyCNN'",
        r"\[suite\] timed_step: unknown key",
    ),
    (
        "[suite]\ntimed_steps = 'ten'\n[[models]]\nname='TinyCNN'",
        r"\[suite\] timed_steps: expected an integer, got 'ten'",
    ),
    (
        "[suite]\nrepeats = 0\n[[models]]\nname='TinyCNN'",
        r"\[suite\] repeats: expected an integer >= 1, got 0",
    ),
    (
        "[suite]\nstrategies = ['inplace', 'horovod']\n[[models]]\nname='TinyCNN'",
        r"\[suite\] strategies: unknown strategy 'horovod'",
    ),
    (
        "[suite]\nreplicas = [1]\n[[models]]\nname='TinyCNN'",
        r"\[suite\] replicas: multi-device strategies need a count >= 2",
    ),
    (
        "[suite]\ninput = 'disk'\n[[models]]\nname='TinyCNN'",
        r"\[suite\] input: expected one of 'host', 'device', got 'disk'",
    ),
    (
        "[suite]\ntimeout_s = -5\n[[models]]\nname='TinyCNN'",
        r"\[suite\] timeout_s: expected a number > 0",
    ),
    ("[suite]\n[[models]]\nname='ResNet5O'", r"\[models.0\] name: unknown model 'ResNet5O'"),
    (
        "[suite]\n[[models]]\nname='InceptionV3'\nimage_size=32",
        r"\[models.0\] image_size: InceptionV3 needs images of at least 75px",
    ),
    (
        "[suite]\n[[models]]\nname='TinyCNN'\nbatch_per_replica=[]",
        r"\[models.0\] batch_per_replica: expected a non-empty list",
    ),
    ("[suite]\n[[models]]\nname='TinyCNN'\ncolour='red'", r"\[models.0\] colour: unknown key"),
    ("[suite]\nname='x'", r"\[models\]: at least one \[\[models\]\] table is required"),
    ("[[models]]\nname='TinyCNN'", r"\[suite\]: a \[suite\] table is required"),
    (
        "[suite]\n[[models]]\nname='TinyCNN'\n[cpu]\nmodels=['VGG16']",
        r"\[cpu\] models: 'VGG16' is not among",
    ),
    ("[suite]\n[[models]]\nname='TinyCNN'\n[cpu]\ngpu=1", r"\[cpu\] gpu: unknown key"),
    ("[suite\nname='x'", r"not valid TOML"),
    (
        "[suite]\nbackend = 'pytorch'\n[[models]]\nname='TinyCNN'",
        r"\[suite\] backend: expected 'keras3' or 'tf_keras' or 'jax'",
    ),
    (
        "[suite]\nbackend = 'jax'\n[[models]]\nname='TinyCNN'",
        r"\[suite\] strategies: 'inplace' runs on the keras3 or tf_keras backend only; add "
        r"'keras3' or 'tf_keras' to backend",
    ),
    (
        "[suite]\ncompare = [['inplace', 'mirrored']]\n[[models]]\nname='TinyCNN'",
        r"\[suite\] compare: 'mirrored' cannot be paired: only inplace, wholebatch and concat",
    ),
    (
        "[suite]\ncompare = ['inplace', 'concat']\n[[models]]\nname='TinyCNN'",
        r"\[suite\] compare: expected a list of \[A, B\] strategy pairs.*got the item 'inplace'",
    ),
    (
        "[suite]\ncompare = 'inplace/concat'\n[[models]]\nname='TinyCNN'",
        r"\[suite\] compare: expected a list of \[A, B\] strategy pairs",
    ),
    (
        "[suite]\n[[models]]\nname='TinyCNN'\n[cpu]\ncompare = [['single', 'concat']]",
        r"\[cpu\] compare: 'single' cannot be paired",
    ),
    (
        "[suite]\npairs = 0\n[[models]]\nname='TinyCNN'",
        r"\[suite\] pairs: expected an integer >= 1, got 0",
    ),
    (
        "[suite]\n[[models]]\nname='TinyCNN'\n[cpu]\nrounds = 1",
        r"\[cpu\] rounds: expected an integer >= 2 \(a paired process's spread",
    ),
    (
        "[suite]\nblock_steps = 2.5\n[[models]]\nname='TinyCNN'",
        r"\[suite\] block_steps: expected an integer, got 2.5",
    ),
    (
        "[suite]\nseed = -1\n[[models]]\nname='TinyCNN'",
        r"\[suite\] seed: expected an integer >= 0, got -1",
    ),
    # found by tests/unit/test_properties.py
    (
        "[suite]\ntimeout_s = nan\n[[models]]\nname='TinyCNN'",
        r"\[suite\] timeout_s: expected a number > 0, got nan",
    ),
    (
        "[suite]\nstrategies=['single']\nreplicas=[1]\n[[models]]\nname='TinyCNN'\n"
        "[cpu]\nstrategies=['inplace']",
        r"\[cpu\] replicas: multi-device strategies need a count >= 2",
    ),
    (
        "[suite]\n\"two\\nlines\" = 1\n[[models]]\nname='TinyCNN'",
        r'\[suite\] "two\\nlines": unknown key',
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_malformed_suites_name_the_file_table_and_key(text, message):
    with pytest.raises(SuiteError, match=message) as error:
        parse_suite(text, "bad.toml")
    assert str(error.value).startswith("bad.toml: ")


def test_cli_exits_2_with_one_message_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[suite]\nwarmup_steps = -1\n[[models]]\nname = 'TinyCNN'\n")
    result = subprocess.run(
        [sys.executable, "-m", "mgbench.cli", "run", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"mgbench: error: {bad}: [suite] warmup_steps: expected an integer >= 0, got -1"
    )
    missing = subprocess.run(
        [sys.executable, "-m", "mgbench.cli", "run", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "cannot read the suite file" in missing.stderr


def test_a_suite_file_that_is_not_utf8_is_refused_by_name(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("[suite]\ndescription = 'caf\u00e9'\n".encode("latin-1"))
    with pytest.raises(SuiteError, match=r"latin1\.toml: not UTF-8 text \(byte 26\)"):
        load_suite(path)


def test_select_keeps_chosen_models_and_replica_counts():
    suite = parse_suite(GOOD, "demo.toml").select(models=["TinyCNN"], replicas=[4], pairs=6)
    assert [c.cell_id for c in suite.cells()] == [
        "TinyCNN-32px-b8-single-x1",
        "TinyCNN-32px-b8-inplace-x4",
        "TinyCNN-32px-b8-concat-x4",
        "TinyCNN-32px-b8-inplace-vs-concat-x4",
    ]
    assert suite.settings.pairs == 6
    with pytest.raises(SuiteError, match="--pairs: expected an integer >= 1, got 0"):
        parse_suite(GOOD, "demo.toml").select(pairs=0)
    assert parse_suite(GOOD, "demo.toml").select(repeats=5).settings.repeats == 5
    with pytest.raises(SuiteError, match="--repeats: expected an integer >= 1, got 0"):
        parse_suite(GOOD, "demo.toml").select(repeats=0)
    with pytest.raises(SuiteError, match=r"--models: 'VGG16' is not in demo\.toml"):
        parse_suite(GOOD, "demo.toml").select(models=["VGG16"])
    with pytest.raises(
        SuiteError, match=r"--replicas: 8 is not among the suite's replica counts \[2, 4\]"
    ):
        parse_suite(GOOD, "demo.toml").select(replicas=[8])


def test_entries_that_would_merge_into_one_cell_are_refused():
    text = (
        "[suite]\n[[models]]\nname='TinyCNN'\nclasses=10\n[[models]]\nname='TinyCNN'\nclasses=5\n"
    )
    with pytest.raises(SuiteError, match=r"\[models\]: two entries make the same cell"):
        parse_suite(text, "dup.toml")


def test_the_imagenet_cpu_profile_pairs_the_three_splits_for_both_models():
    suite = load_suite(ROOT / "suites" / "imagenet.toml", cpu_only=True)
    paired = [c for c in suite.cells() if c.paired]
    assert [c.cell_id for c in paired] == [
        "ResNet50-32px-b8-inplace-vs-wholebatch-vs-concat-x2",
        "MobileNetV2-32px-b8-inplace-vs-wholebatch-vs-concat-x2",
    ]
    assert (suite.settings.pairs, paired[0].rounds, paired[0].block_steps) == (3, 8, 5)
    assert len(suite.runs()) == 10 + 2 * 3  # one process per isolated cell, three per group


def test_gpu_quick_holds_the_pr_rows_on_four_replicas_and_a_tiny_cpu_profile():
    path = ROOT / "suites" / "gpu-quick.toml"
    cells = load_suite(path).cells()
    rows = {(c.model, c.image_size, c.batch_per_replica) for c in cells}
    assert rows == {("ResNet50", 224, 96), ("InceptionV3", 299, 96)} and rows <= PR_ROWS
    assert {c.replicas for c in cells} == {1, 4}
    assert {c.strategy for c in cells if not c.paired} == {"single", "inplace", "wholebatch"}
    assert [c.cell_id for c in cells if c.paired] == [
        "ResNet50-224px-b96-inplace-vs-wholebatch-vs-concat-x4",
        "InceptionV3-299px-b96-inplace-vs-wholebatch-vs-concat-x4",
    ]
    assert len(load_suite(path).runs()) == 6 + 2  # one process per cell and per paired group
    cpu = load_suite(path, cpu_only=True)
    assert cpu.profile == "cpu" and {c.model for c in cpu.cells()} == {"ResNet50"}
    assert len(cpu.runs()) == 3 + 2
    # the imagenet cpu profile's cells, so that suite's runs cost them (--plan-from)
    imagenet = load_suite(ROOT / "suites" / "imagenet.toml", cpu_only=True)
    assert {c.cell_id for c in cpu.cells()} <= {c.cell_id for c in imagenet.cells()}
