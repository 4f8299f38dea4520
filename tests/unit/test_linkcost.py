"""Link-cost prediction: hand-computed copy times and speed-ups for synthetic rows on a synthetic
profile (round numbers: 1 GB at 10 GB/s is 0.1 s), shared uplinks, peers through the host, over
PCIe, an NVSwitch and one chip, the threshold crossings, the sweep, and rows from records."""

from __future__ import annotations

import pytest

from mgbench.analysis import linkcost
from mgbench.analysis.linkcost import LinkCostError
from mgbench.config.hardware_specs import parse_spec
from mgbench.records.record import Record
from mgbench.transfers import Transfer

GB = 10**9

# 4 GPUs: host->GPU 10 GB/s, GPU->host 20 GB/s each; GPUs 2 and 3 behind one uplink of the same
# rates; GPUs 0 and 1 joined by 2 NVLinks of 25 GB/s (50 GB/s); every other pair via {via}.
TOY = """
name = "toy"
description = "synthetic"
gpus = 4
gpus_per_chip = {chip}

[host_link]
h2d_gb_s = 10
d2h_gb_s = 20

[[shared_uplink]]
name = "sw"
gpus = [2, 3]
h2d_gb_s = 10
d2h_gb_s = 20

[peer]
via = "{via}"
{peer_rate}
nvlink_gb_s = 25
nvlinks = [[0, 1, 2]]

[[reference]]
model = "ResNet50"
image_size = 224
batch_per_gpu = 100
gpus = 4
img_s = 400
after_img_s = 440
precision = "fp32"
source = "synthetic"
{measured}
"""


def toy(via: str = "host", rate: float | None = None, chip: int = 1, measured: str = ""):
    """The toy spec; ``measured``: the split whose step the reference measured."""
    peer_rate = "" if rate is None else f"gb_s = {rate}"
    split = f'includes_copies_of = "{measured}"' if measured else ""
    text = TOY.format(via=via, peer_rate=peer_rate, chip=chip, measured=split)
    return parse_spec(text, "toy.toml")


def row(src: str, dst: str, role: str, gigabytes: float) -> Transfer:
    return Transfer(src, dst, role, int(gigabytes * GB))


# The claim's pattern on GPUs 0 and 1: in-place sends each replica its half from the host; concat
# sends the whole batch to GPU:0, which sends half on to GPU:1 (over their NVLink).
INPLACE = [row("CPU:0", "GPU:0", "slices", 1), row("CPU:0", "GPU:1", "slices", 1)]
CONCAT = [row("CPU:0", "GPU:0", "batch", 2), row("GPU:0", "GPU:1", "slices", 1)]
BOTH = {"inplace": INPLACE, "concat": CONCAT}
PAIR = ("inplace", "concat")


def test_the_claims_pattern_known_answers():
    profile = toy()
    inplace = linkcost.strategy_cost(INPLACE, profile, "inplace")
    concat = linkcost.strategy_cost(CONCAT, profile, "concat")
    # in-place: two 0.1 s copies on separate links
    assert inplace.serial_s == pytest.approx(0.2)
    assert inplace.parallel_s == pytest.approx(0.1)
    assert inplace.bytes_by_class == {"host->GPU": 2 * GB, "GPU->GPU": 0, "GPU->host": 0}
    # concat: 2 GB at 10 GB/s, then 1 GB over 50 GB/s of NVLink, which waits for the batch
    assert concat.serial_s == pytest.approx(0.22)
    assert concat.parallel_s == pytest.approx(0.22)
    assert [(p.phase, p.busiest_link) for p in concat.phases] == [
        ("inputs", "GPU:0 link in"),
        ("slices", "NVLink GPU:0->GPU:1"),
    ]
    assert concat.bytes_by_class["GPU->GPU"] == GB


def test_speedup_and_crossings_known_answers():
    prediction = linkcost.predict(BOTH, toy(), compute_s=0.78, pair=PAIR)
    # parallel: (0.78 + 0.22) / (0.78 + 0.1) - 1
    assert prediction.speedup_pct("parallel") == pytest.approx((1 / 0.88 - 1) * 100)
    assert prediction.speedup_pct("serial") == pytest.approx((1.0 / 0.98 - 1) * 100)
    assert prediction.max_speedup_pct("parallel") == pytest.approx(120.0)
    # c = (t_concat - (1 + s) t_inplace) / s
    assert prediction.crossings_s["parallel"][5.0] == pytest.approx((0.22 - 0.105) / 0.05)
    assert prediction.crossings_s["parallel"][12.0] == pytest.approx((0.22 - 0.112) / 0.12)
    assert prediction.crossings_s["serial"][5.0] == pytest.approx((0.22 - 0.21) / 0.05)
    assert prediction.crossings_s["serial"][12.0] is None  # 0.22 / 0.2 is only +10%
    assert prediction.saved_s("parallel") == pytest.approx(0.12)


def test_at_the_crossing_the_speedup_is_the_threshold():
    for inplace_s, concat_s in ((0.1, 0.3), (0.0, 0.05), (0.02, 0.021)):
        for target in (5.0, 12.0):
            c = linkcost.crossing_compute_s(inplace_s, concat_s, target)
            if c is not None:
                assert linkcost.speedup_pct(c, inplace_s, concat_s) == pytest.approx(target)
                assert linkcost.speedup_pct(c / 2, inplace_s, concat_s) > target


def test_crossings_are_none_when_never_reached():
    assert linkcost.crossing_compute_s(0.2, 0.1, 5.0) is None  # in-place copies more
    assert linkcost.crossing_compute_s(0.1, 0.1, 5.0) is None
    assert linkcost.crossing_compute_s(0.0, 0.0, 5.0) is None
    assert linkcost.crossing_compute_s(0.25, 0.3125, 25.0) == 0.0  # only with no compute
    assert linkcost.speedup_pct(0.0, 0.0, 0.0) == 0.0
    with pytest.raises(ValueError, match="target"):
        linkcost.crossing_compute_s(0.1, 0.2, 0.0)


def test_gpus_behind_a_shared_uplink_split_it():
    rows = [row("CPU:0", "GPU:2", "slices", 1), row("CPU:0", "GPU:3", "slices", 1)]
    cost = linkcost.strategy_cost(rows, toy())
    assert cost.serial_s == pytest.approx(0.2)
    assert cost.parallel_s == pytest.approx(0.2)  # not 0.1: both cross the one uplink
    assert cost.phases[0].busiest_link == "sw down"
    spread = [row("CPU:0", "GPU:0", "slices", 1), row("CPU:0", "GPU:2", "slices", 1)]
    assert linkcost.strategy_cost(spread, toy()).parallel_s == pytest.approx(0.1)


def test_a_peer_copy_through_the_host_pays_both_hops():
    rows = [row("GPU:0", "GPU:2", "slices", 1)]  # no NVLink between 0 and 2
    cost = linkcost.strategy_cost(rows, toy(via="host"))
    # down at 20 GB/s (0.05 s), then up at 10 GB/s through GPU:2's link and uplink (0.1 s)
    assert cost.serial_s == pytest.approx(0.15)
    assert cost.parallel_s == pytest.approx(0.1)  # streamed: the slower hop
    assert cost.bytes_by_class == {"host->GPU": 0, "GPU->GPU": GB, "GPU->host": 0}


def test_pcie_peer_to_peer_crosses_uplinks_only_between_switches():
    profile = toy(via="pcie")
    same_switch = linkcost.strategy_cost([row("GPU:2", "GPU:3", "x", 1)], profile)
    assert same_switch.serial_s == pytest.approx(0.1)  # min(20 out, 10 in)
    assert "sw down" not in same_switch.phases[0].busiest_link
    across = [row("GPU:0", "GPU:2", "x", 1), row("CPU:0", "GPU:3", "x", 1)]
    # GPU:0 -> GPU:2 enters through the uplink, which the host copy to GPU:3 also uses
    assert linkcost.strategy_cost(across, profile).parallel_s == pytest.approx(0.2)
    capped = linkcost.strategy_cost([row("GPU:2", "GPU:3", "x", 1)], toy(via="pcie", rate=4))
    assert capped.serial_s == pytest.approx(0.25)


def test_an_nvswitch_port_is_shared_by_a_gpus_copies():
    rows = [row("GPU:0", f"GPU:{i}", "slices", 1) for i in (2, 3)]
    rows.append(row("GPU:0", "GPU:1", "slices", 1))  # the NVLink pair keeps its own link
    cost = linkcost.strategy_cost(rows, toy(via="switch", rate=100))
    assert cost.serial_s == pytest.approx(0.01 + 0.01 + 0.02)
    assert cost.parallel_s == pytest.approx(0.02)  # NVLink 1 GB at 50; port 2 GB at 100


def test_copies_inside_one_chip_share_its_memory():
    rows = [row("GPU:0", f"GPU:{i}", "slices", 1) for i in (1, 2, 3)]
    cost = linkcost.strategy_cost(rows[1:], toy(via="chip", rate=1000))
    assert cost.serial_s == pytest.approx(0.002)
    assert cost.parallel_s == pytest.approx(0.002)


def test_phases_follow_one_another():
    rows = [
        row("CPU:0", "GPU:0", "weights", 1),  # inputs: 0.1 s
        row("GPU:0", "CPU:0", "outputs", 1),  # outputs: 0.05 s
        row("GPU:1", "CPU:0", "gradients", 2),  # gradients: 0.1 s
        row("CPU:0", "GPU:1", "mystery", 1),  # other: 0.1 s
        row("CPU:0", "CPU:0", "other", 5),  # nowhere to go
    ]
    cost = linkcost.strategy_cost(rows, toy())
    assert [p.phase for p in cost.phases] == ["inputs", "outputs", "gradients", "other"]
    assert cost.parallel_s == pytest.approx(0.35)
    assert cost.serial_s == pytest.approx(0.35)
    assert cost.total_bytes == 5 * GB


def test_devices_beyond_the_profile_are_refused_in_one_line():
    with pytest.raises(LinkCostError, match=r"GPU:4 is beyond toy's 4 GPUs \(GPU:0..GPU:3\)"):
        linkcost.strategy_cost([row("CPU:0", "GPU:4", "slices", 1)], toy())
    with pytest.raises(LinkCostError, match="not a host"):
        linkcost.strategy_cost([row("TPU:0", "GPU:1", "slices", 1)], toy())
    with pytest.raises(LinkCostError, match="no transfer rows for concat"):
        linkcost.predict({"inplace": INPLACE}, toy(), pair=PAIR)


def test_reference_compute_scales_shares_and_reads_the_claim():
    exact = linkcost.reference_compute(toy(), "ResNet50", 224, 100, 4)
    assert exact.step_s == pytest.approx(100 / (400 / 4))
    assert exact.claimed_speedup_pct == pytest.approx(10.0)
    assert not exact.scaled
    other = linkcost.reference_compute(toy(), "ResNet50", 224, 50, 2)
    assert other.step_s == pytest.approx(0.5)
    assert other.scaled and other.claimed_speedup_pct is None
    shared = linkcost.reference_compute(toy(chip=4), "ResNet50", 224, 50, 2)
    assert shared.step_s == pytest.approx(2 * 50 / 100)  # two replicas on one chip's compute
    assert linkcost.reference_compute(toy(), "ResNet50", 32, 100, 4) is None  # > 2x the pixels
    near = linkcost.reference_compute(toy(), "ResNet50", 299, 100, 4)
    assert near.pixels_from == 224 and near.claimed_speedup_pct is None
    assert near.step_s == pytest.approx(1.0 * (299 / 224) ** 2)
    prediction = linkcost.predict(BOTH, toy(), compute=exact, pair=PAIR)
    assert prediction.compute_s == pytest.approx(1.0) and prediction.compute is exact
    given = linkcost.predict(BOTH, toy(), compute_s=0.3, compute=exact, pair=PAIR)
    assert given.compute_s == 0.3 and given.compute is None


# The whole batch (2 GB) to each of GPUs 0 and 1: 0.2 s a link, 0.4 s serial, 0.2 s parallel.
WHOLE = [row("CPU:0", "GPU:0", "batch", 2), row("CPU:0", "GPU:1", "batch", 2)]


def test_a_reference_of_a_splits_step_has_that_splits_copies_taken_out():
    """The reference (400 img/s at 100 x 4: a 1.0 s step) measured the whole-batch split: its
    copies (0.4 s serial, 0.2 s parallel) come out, leaving compute 0.6 s / 0.8 s."""
    spec = toy(measured="wholebatch")
    estimate = linkcost.reference_compute(spec, "ResNet50", 224, 100, 4)
    assert estimate.includes_copies_of == "wholebatch"
    rows = {"inplace": INPLACE, "wholebatch": WHOLE, "concat": CONCAT}
    claim = linkcost.predict(rows, spec, compute=estimate, pair=("inplace", "wholebatch"))
    assert claim.removed == pytest.approx({"serial": 0.4, "parallel": 0.2})
    assert claim.compute_by == pytest.approx({"serial": 0.6, "parallel": 0.8})
    assert claim.compute_s is None  # the assumptions differ
    # in-place copies 0.2 s serial, 0.1 s parallel: the step it predicts against the measured one
    assert claim.speedup_pct("serial") == pytest.approx((1.0 / 0.8 - 1) * 100)
    assert claim.speedup_pct("parallel") == pytest.approx((1.0 / 0.9 - 1) * 100)
    assert claim.claimed_speedup_pct == pytest.approx(10.0)  # 440 / 400: about this pair
    seed = linkcost.predict(rows, spec, compute=estimate, pair=("inplace", "concat"))
    assert seed.compute_by == claim.compute_by and seed.claimed_speedup_pct is None
    unaudited = linkcost.predict(BOTH, spec, compute=estimate, pair=PAIR)
    assert unaudited.removed == {} and unaudited.compute_s == pytest.approx(1.0)
    tiny = linkcost.reference_compute(spec, "ResNet50", 224, 10, 4)  # a 0.1 s step
    swamped = linkcost.predict(rows, spec, compute=tiny, pair=("inplace", "wholebatch"))
    assert swamped.compute_by == {"serial": None, "parallel": None}  # copies exceed the step
    assert swamped.speedup_pct("serial") is None


def test_the_sweep_adds_and_labels_the_compute_time_and_crossings():
    prediction = linkcost.predict(BOTH, toy(), compute_s=0.78, pair=PAIR)
    points = linkcost.sweep(prediction)
    times = [p.compute_s for p in points]
    assert times == sorted(times)
    assert set(linkcost.DEFAULT_SWEEP_S) <= set(times)
    labelled = {p.labels: p for p in points if p.labels}
    assert labelled[("compute used",)].compute_s == 0.78
    assert labelled[("5% (parallel)",)].speedup_pct["parallel"] == pytest.approx(5.0)
    explicit = linkcost.sweep(prediction, [0.1, 1.0])
    assert [p.compute_s for p in explicit] == [0.1, 1.0]
    assert explicit[1].speedup_pct["serial"] == pytest.approx((1.22 / 1.2 - 1) * 100)


def _record(strategy: str, repeat: int, rows, status: str = "ok") -> Record:
    cell = {
        "model": "TinyCNN",
        "image_size": 32,
        "classes": 10,
        "batch_per_replica": 16,
        "strategy": strategy,
        "replicas": 2,
        "warmup_steps": 1,
        "timed_steps": 2,
        "input": "host",
        "weights": "cpu",
        "dtype": "float32",
        "timeout_s": 60.0,
        "placement": True,
    }
    data = {
        "schema_version": 1,
        "cell_id": f"TinyCNN-32px-b16-{strategy}-x2",
        "repeat": repeat,
        "status": status,
        "cell": cell,
        "timing": {
            "first_step_s": 1.0,
            "step_s": [0.1, 0.1],
            "timed_wall_s": 0.2,
            "images_per_step": 32,
            "images_per_s": 160.0,
        },
        "transfers": None
        if rows is None
        else {
            "as_run": [],
            "on_gpus": [
                {"src": r.src, "dst": r.dst, "role": r.role, "bytes": r.bytes} for r in rows
            ],
        },
    }
    return Record.from_json(data)


def test_workload_transfers_take_the_first_audited_ok_record_per_strategy():
    records = [
        _record("inplace", 0, None),  # an old record: no audit
        _record("inplace", 1, INPLACE),
        _record("inplace", 2, INPLACE[:1]),
        _record("concat", 0, CONCAT, status="failed"),
        _record("concat", 1, CONCAT),
    ]
    (workload,) = linkcost.workload_transfers(records)
    assert workload.key.label == "TinyCNN-32px-b16-x2"
    assert workload.rows["inplace"] == tuple(INPLACE)
    assert workload.rows["concat"] == tuple(CONCAT)
    assert workload.has(("inplace", "concat"))
    assert linkcost.workload_transfers(records[:1]) == []
