"""``mgbench doctor`` without TensorFlow: the placement comparison on synthetic steps, the NVML
section on a fake driver (a container that hides the process, a CUDA_VISIBLE_DEVICES remap by
UUID), the GPU branches' settings on fake probes, the exit status, the quiet stderr and
``mgbench --version``."""

from __future__ import annotations

import os
import re
from importlib.metadata import version

import pytest
from fakes import FakeNvml

from mgbench.analysis import readiness
from mgbench.analysis.readiness import FAIL, OK, SKIP, WARN, Check, ObservedOp
from mgbench.commands import doctor as command
from mgbench.execution import probes
from mgbench.placement import PlacedOp
from mgbench.platform import hardware, quiet
from mgbench.present.checklist import format_check, format_summary

MIB = 2**20

# -- the placement comparison ------------------------------------------------------------------

# An in-place step on two replicas, as the prediction has it: slicing, merge, loss, aggregation
# and updates on the host, each replica's forward pass and backward on its own device.
PREDICTED = [
    PlacedOp("m/mgbench_split/strided_slice", "StridedSlice", "slice", "CPU:0", "requested"),
    PlacedOp("m/mgbench_split/Const", "Const", "slice", "CPU:0", "with_consumer"),
    PlacedOp("m/replica_0/conv/Conv2D", "Conv2D", "forward", "CPU:1", "requested"),
    PlacedOp("m/replica_0/conv/BiasAdd", "BiasAdd", "forward", "CPU:1", "requested"),
    PlacedOp("m/replica_0/conv/Shape", "Shape", "forward", "CPU:1", "with_input"),
    PlacedOp("m/replica_1/conv/Conv2D", "Conv2D", "forward", "CPU:2", "requested"),
    PlacedOp("m/mgbench_merge/concat", "ConcatV2", "merge", "CPU:0", "requested"),
    PlacedOp("compile_loss/Mean", "Mean", "loss", "CPU:0", "default"),
    PlacedOp("gradients/m/replica_0/conv/Conv2D_grad/BP", "Conv2DBackpropFilter", "backward",
             "CPU:1", "colocated"),
    PlacedOp("gradients/m/replica_1/conv/Conv2D_grad/BP", "Conv2DBackpropFilter", "backward",
             "CPU:2", "colocated"),
    PlacedOp("gradients/AddN", "AddN", "grad_aggregate", "CPU:0", "default"),
    PlacedOp("sgd/AssignSubVariableOp", "AssignSubVariableOp", "update", "CPU:0", "resource"),
    PlacedOp("ReadVariableOp", "ReadVariableOp", "variable_read", "CPU:0", "resource"),
]  # fmt: skip


def _ran_as_predicted(**moved: str) -> list[ObservedOp]:
    """The executed graph: every op on its predicted device unless ``moved`` (name -> device);
    the BiasAdd was fused into the convolution by Grappler, so it is not there."""
    return [
        ObservedOp(op.name, op.type, moved.get(op.name, op.device))
        for op in PREDICTED
        if op.type != "BiasAdd"
    ] + [ObservedOp("m/replica_0/conv/Conv2D/_12", "_Send", "CPU:1")]


def test_a_step_that_ran_as_predicted_agrees_role_by_role():
    comparison = readiness.compare_placement(PREDICTED, _ran_as_predicted())
    assert comparison.agrees
    assert [r.role for r in comparison.roles] == list(readiness.COMPARED_ROLES)
    forward = comparison.role("forward")
    assert forward.predicted_devices == forward.observed_devices == ("CPU:1", "CPU:2")
    assert (forward.matched_ops, forward.predicted_ops) == (2, 3)  # BiasAdd fused away
    assert comparison.role("backward").observed_devices == ("CPU:1", "CPU:2")
    assert comparison.heuristic_ops == 2  # the slice's Const and the forward Shape
    assert comparison.matched_ops == 9


def test_a_forward_op_that_ran_on_the_host_fails_its_role_and_names_the_op():
    moved = {"m/replica_1/conv/Conv2D": "CPU:0"}
    comparison = readiness.compare_placement(PREDICTED, _ran_as_predicted(**moved))
    assert not comparison.agrees
    forward = comparison.role("forward")
    assert forward.predicted_devices == ("CPU:1", "CPU:2")
    assert forward.observed_devices == ("CPU:0", "CPU:1")
    assert forward.moved == ("m/replica_1/conv/Conv2D (Conv2D): predicted CPU:2, ran on CPU:0",)
    assert [r.role for r in comparison.roles if not r.agrees] == ["forward"]


def test_constants_and_shape_ops_the_placer_moves_are_not_compared():
    moved = {"m/mgbench_split/Const": "CPU:1", "m/replica_0/conv/Shape": "CPU:0"}
    assert readiness.compare_placement(PREDICTED, _ran_as_predicted(**moved)).agrees


def test_a_role_whose_ops_all_vanished_cannot_agree():
    observed = [o for o in _ran_as_predicted() if o.name != "m/mgbench_merge/concat"]
    merge = readiness.compare_placement(PREDICTED, observed).role("merge")
    assert (merge.matched_ops, merge.predicted_ops) == (0, 1)
    assert not merge.agrees


def test_roles_the_step_does_not_have_are_left_out():
    single = [op for op in PREDICTED if op.role in ("forward", "loss", "update")]
    comparison = readiness.compare_placement(single, _ran_as_predicted())
    assert [r.role for r in comparison.roles] == ["forward", "loss", "update"]


def test_a_mirrored_step_updates_and_computes_on_its_replicas_only():
    observed = [
        ObservedOp("replica_1/conv", "_MklNativeFusedConv2D", "CPU:2"),
        ObservedOp("conv", "_FusedConv2D", "CPU:1"),
        ObservedOp("sgd/AssignSubVariableOp", "AssignSubVariableOp", "CPU:1"),
        ObservedOp("replica_1/sgd/AssignSubVariableOp", "AssignSubVariableOp", "CPU:2"),
        ObservedOp("AddN", "AddN", "CPU:0"),  # the reduction to one device
    ]
    assert readiness.observe_mirrored(observed, ["CPU:1", "CPU:2"]).agrees
    on_host = [*observed, ObservedOp("dense/MatMul", "MatMul", "CPU:0")]
    mirrored = readiness.observe_mirrored(on_host, ["CPU:1", "CPU:2"])
    assert mirrored.compute_devices == ("CPU:0", "CPU:1", "CPU:2")
    assert not mirrored.agrees


# -- the placement child's payload -------------------------------------------------------------


def _strategy_payload(strategy: str = "inplace", **changes) -> dict:
    result = {
        "strategy": strategy,
        "replica_devices": ["GPU:0", "GPU:1"],
        "jit_compile": False,
        "loss": 2.3,
        "predicted": [[op.name, op.type, op.role, op.device, op.placed_by] for op in PREDICTED],
        "predicted_reason": None,
        "observed": [[o.name, o.type, o.device] for o in _ran_as_predicted()],
        "error": None,
    }
    return {**result, **changes}


def _placement_payload(*strategies: dict, auto_jit: str = "") -> dict:
    return {
        "mode": "virtual-gpu",
        "backend": "keras3",
        "host": "CPU:0",
        "default_device": "GPU:0",
        "auto_jit": auto_jit,
        "strategies": list(strategies) or [_strategy_payload()],
    }


def test_placement_checks_pass_a_step_that_ran_as_predicted_and_xla_off():
    checks = readiness.placement_checks(_placement_payload(), None)
    assert [(c.name, c.status) for c in checks] == [
        ("placement: inplace", OK),
        ("XLA off", OK),
    ]
    assert "virtual GPUs on one chip" in checks[0].summary
    assert checks[0].placement is not None and checks[0].placement.agrees


def test_placement_checks_fail_a_moved_role_a_failed_step_and_xla():
    moved = [[o.name, o.type, "CPU:0"] for o in _ran_as_predicted()]
    checks = readiness.placement_checks(
        _placement_payload(
            _strategy_payload("inplace", observed=moved),
            _strategy_payload("concat", error="ValueError: boom", error_tail="line\nboom"),
            _strategy_payload("single", jit_compile=True),
        ),
        None,
    )
    status = {c.name: c.status for c in checks}
    assert status == {
        "placement: inplace": FAIL,
        "placement: concat": FAIL,
        "placement: single": OK,
        "XLA off": FAIL,
    }
    assert "roles off their predicted devices: forward, backward" in checks[0].summary
    assert checks[1].details == ("line", "boom")
    assert checks[-1].summary == "jit_compile on for single"


def _whole_batch_payload(slice_devices: tuple[str, str]) -> dict:
    """A whole-batch step on CPU:1 and CPU:2 whose replicas' slices were predicted, and ran, on
    ``slice_devices``; everything else as the in-place step."""
    predicted = [op for op in PREDICTED if op.role != "slice"] + [
        PlacedOp(f"m/replica_{i}/mgbench_split/strided_slice", "StridedSlice", "slice", device,
                 "requested")
        for i, device in enumerate(slice_devices)
    ]  # fmt: skip
    return _strategy_payload(
        "wholebatch",
        replica_devices=["CPU:1", "CPU:2"],
        predicted=[[op.name, op.type, op.role, op.device, op.placed_by] for op in predicted],
        observed=[[op.name, op.type, op.device] for op in predicted],
    )


def test_the_whole_batch_split_must_slice_on_every_replica_even_when_predicted_elsewhere():
    good, on_host = (
        readiness.placement_checks(_placement_payload(_whole_batch_payload(where)), None)[0]
        for where in (("CPU:1", "CPU:2"), ("CPU:0", "CPU:0"))
    )
    assert good.status == OK and good.placement.role("slice").observed_devices == (
        "CPU:1",
        "CPU:2",
    )
    # it ran as its trace predicted, but the trace was of an in-place split
    assert on_host.placement.agrees and on_host.status == FAIL
    assert "; slicing ran on CPU:0, but the wholebatch split cuts the batch on CPU:1, CPU:2" in (
        on_host.summary
    )


def test_each_split_cuts_the_batch_where_it_says():
    where = {"host": "CPU:0", "default_device": "GPU:0", "replica_devices": ["GPU:1", "GPU:0"]}
    expected = {s: readiness.expected_slice_devices(s, **where) for s in probes.STRATEGIES}
    assert expected == {
        "single": None,
        "inplace": ("CPU:0",),
        "wholebatch": ("GPU:0", "GPU:1"),
        "concat": ("GPU:0",),
        "mirrored": None,
    }


def test_a_placement_child_that_wrote_nothing_is_one_failed_check():
    checks = readiness.placement_checks(None, "did not finish within 75 s", "last\nlines")
    assert [(c.status, c.summary, c.details) for c in checks] == [
        (FAIL, "did not finish within 75 s", ("last", "lines"))
    ]


# -- TensorFlow's own checks -------------------------------------------------------------------


def _inspection(gpus: int = 0, *, peak: int | None = 80 * MIB, cuda: bool = True):
    physical = tuple(probes.TfGpu(f"GPU:{i}", "NVIDIA H200", "9.0") for i in range(gpus))
    return probes.TfInspection(
        version="2.21.0",
        built_with_cuda=cuda,
        cuda_build="12.5.1" if cuda else None,
        cudnn_build="9" if cuda else None,
        physical_gpus=physical,
        logical_gpus=tuple(g.device for g in physical),
        cpu_devices=1,
        memory=tuple(probes.MemoryProbe(g.device, 64 * MIB, peak) for g in physical),
    )


def test_on_a_cpu_machine_the_gpu_checks_are_skipped_with_why():
    checks = readiness.tensorflow_checks(_inspection(0), nvml_gpus=0)
    assert [(c.name, c.status) for c in checks] == [
        ("TensorFlow build", OK),
        ("GPUs (TensorFlow)", SKIP),
        ("TF allocator statistics (get_memory_info)", SKIP),
    ]
    assert checks[0].summary == "TensorFlow 2.21.0; built with CUDA 12.5.1, cuDNN 9"
    assert "simulate replicas as logical CPUs" in checks[1].summary


def test_gpus_the_driver_reports_but_tensorflow_misses_fail():
    checks = readiness.tensorflow_checks(_inspection(0), nvml_gpus=2)
    assert checks[1].status == FAIL
    assert "the driver reports 2 GPU(s) but TensorFlow sees none" in checks[1].summary
    no_cuda = readiness.tensorflow_checks(_inspection(0, cuda=False), nvml_gpus=1)
    assert no_cuda[0].status == FAIL and "has no CUDA" in no_cuda[0].summary


def test_a_gpu_peak_that_misses_a_known_allocation_fails():
    good = readiness.tensorflow_checks(_inspection(2), nvml_gpus=2)
    assert [c.status for c in good] == [OK, OK, OK]
    assert good[2].details[0] == "GPU:0: peak 80 MiB after a 64 MiB allocation"
    low = readiness.tensorflow_checks(_inspection(2, peak=MIB), nvml_gpus=2)
    assert low[2].status == FAIL and "GPU:0, GPU:1" in low[2].summary


def test_the_virtual_gpu_split_is_checked_against_what_was_asked():
    payload = {
        "asked": 2,
        "memory_mb": 1024,
        "physical_gpus": 1,
        "logical_gpus": ["GPU:0", "GPU:1"],
        "memory_limits_mb": [1024, 1024],
        "ran_on": ["GPU:0", "GPU:1"],
        "late_split_refused": "mgbench.devices.simulate() was called after ...",
    }
    assert readiness.virtual_gpu_check(payload, None).status == OK
    late = readiness.virtual_gpu_check({**payload, "late_split_refused": None}, None)
    assert late.status == FAIL and "was not refused" in late.summary
    off = readiness.virtual_gpu_check({**payload, "ran_on": ["GPU:0", "GPU:0"]}, None)
    assert "tensors ran on ['GPU:0', 'GPU:0']" in off.summary


# -- NVML on a fake driver ---------------------------------------------------------------------


class DoctorNvml:
    """Two different GPUs. ``listed``: this process's bytes per NVML index (None: listed
    without a figure; absent: not listed); ``others``: other processes NVML lists per index."""

    GPUS = (
        ("NVIDIA A100-SXM4-80GB", "GPU-aaaaaaaa-1111", 80 * 2**30),
        ("NVIDIA H200", "GPU-bbbbbbbb-2222", 141 * 2**30),
    )

    def __init__(self, listed: dict[int, int | None] | None = None, others: int = 0):
        self.listed = listed or {}
        self.others = others

    def device_count(self) -> int:
        return len(self.GPUS)

    def device_name(self, index: int) -> str:
        return self.GPUS[index][0]

    def device_uuid(self, index: int) -> str:
        return self.GPUS[index][1]

    def mig_uuids(self, index: int) -> tuple[str, ...]:
        return ("MIG-cccccccc-3333",) if index == 0 else ()

    def driver_version(self) -> str:
        return "570.86"

    def memory_total_bytes(self, index: int) -> int:
        return self.GPUS[index][2]

    def memory_used_bytes(self, index: int) -> int:
        return 2 * 2**30

    def process_memory(self, index: int, pid: int) -> hardware.ProcessMemory:
        listed = index in self.listed
        return hardware.ProcessMemory(listed, self.listed.get(index), self.others)


A100, H200 = (name for name, _, _ in DoctorNvml.GPUS)
PID = 4242


def _nvml(listed=None, visible=None, order="PCI_BUS_ID", others=0):
    return probes.read_nvml(
        DoctorNvml(listed, others), pid=PID, cuda_visible_devices=visible, cuda_device_order=order
    )


def _tf_gpus(*models: str):
    return tuple(probes.TfGpu(f"GPU:{i}", model) for i, model in enumerate(models))


def test_nvml_reports_driver_gpus_and_uuids_and_maps_tf_gpus_in_order():
    snapshot = _nvml(listed={0: 300 * MIB, 1: 500 * MIB})
    assert snapshot.visible_indices == (0, 1)
    checks = readiness.nvml_checks(snapshot, None, _tf_gpus(A100, H200))
    assert [(c.name, c.status) for c in checks] == [
        ("NVML", OK),
        ("TF GPU -> NVML index", OK),
        ("NVML sees this process", OK),
    ]
    assert checks[0].summary == "driver 570.86, 2 GPU(s)"
    assert (
        checks[0].details[1]
        == "NVML 1: NVIDIA H200, 2,048 MiB / 144,384 MiB used, GPU-bbbbbbbb-2222"
    )
    assert checks[1].details == (
        "GPU:0 -> NVML 0 (NVIDIA A100-SXM4-80GB, GPU-aaaaaaaa-1111)",
        "GPU:1 -> NVML 1 (NVIDIA H200, GPU-bbbbbbbb-2222)",
    )
    assert checks[2].details == ("NVML 0: 300 MiB for pid 4242", "NVML 1: 500 MiB for pid 4242")


def test_cuda_visible_devices_by_uuid_maps_tf_gpu_0_to_the_second_nvml_gpu():
    snapshot = _nvml(listed={1: 400 * MIB}, visible="GPU-bbbbbbbb")
    assert snapshot.visible_indices == (1,)
    checks = readiness.nvml_checks(snapshot, None, _tf_gpus(H200))
    mapping, process = checks[1], checks[2]
    assert mapping.status == OK
    assert mapping.summary == "CUDA_VISIBLE_DEVICES='GPU-bbbbbbbb': matched by UUID"
    assert mapping.details == ("GPU:0 -> NVML 1 (NVIDIA H200, GPU-bbbbbbbb-2222)",)
    assert process.status == OK and process.details == ("NVML 1: 400 MiB for pid 4242",)


def test_an_index_mapping_that_contradicts_the_chip_names_fails():
    # TF's GPU:0 is the H200, but without the remap NVML index 0 is the A100.
    checks = readiness.nvml_checks(_nvml(visible="0"), None, _tf_gpus(H200))
    assert checks[1].status == FAIL
    assert checks[1].summary == "GPU:0 is a 'NVIDIA H200' but NVML 0 a 'NVIDIA A100-SXM4-80GB'"
    assert checks[2].status == SKIP


def test_an_unknown_cuda_visible_devices_entry_fails_the_mapping():
    snapshot = _nvml(visible="GPU-cccc")
    assert snapshot.visible_indices is None and "GPU-cccc" in snapshot.mapping_error
    checks = readiness.nvml_checks(snapshot, None, _tf_gpus(H200))
    assert checks[1].status == FAIL and "GPU-cccc" in checks[1].summary


def test_a_process_nvml_cannot_see_in_a_container_is_a_warning_with_the_reason():
    # NVML lists another process on each GPU but never this PID: a PID namespace hides it.
    snapshot = _nvml(listed={}, others=1)
    checks = readiness.nvml_checks(snapshot, None, _tf_gpus(A100, H200))
    process = checks[2]
    assert process.status == WARN
    assert process.summary.startswith(
        "NVML does not list pid 4242 on NVML 0, 1: it lists other processes, so a container's "
        "PID namespace hides this one; per-process GPU memory is recorded as null"
    )
    assert process.details == (
        "NVML 0: pid 4242 not listed (1 other process(es))",
        "NVML 1: pid 4242 not listed (1 other process(es))",
    )
    assert readiness.exit_code(checks) == 0


def test_the_shared_fake_nvml_in_container_mode_gives_the_same_warning():
    nvml = FakeNvml({0: {"device": [MIB]}}, pid=PID, uuids=["GPU-aaaaaaaa-1111"], container=True)
    snapshot = probes.read_nvml(
        nvml, pid=PID, cuda_visible_devices=None, cuda_device_order="PCI_BUS_ID"
    )
    assert snapshot.gpus[0].process_listed is False and snapshot.gpus[0].other_processes == 1
    process = readiness.nvml_checks(snapshot, None, _tf_gpus(None))[2]
    assert (
        process.status == WARN and "a container's PID namespace hides this one" in process.summary
    )


def test_a_process_listed_without_a_memory_figure_is_a_warning():
    checks = readiness.nvml_checks(_nvml(listed={0: None, 1: MIB}), None, _tf_gpus(A100, H200))
    assert checks[2].status == WARN
    assert "lists pid 4242 on NVML 0 without a memory figure" in checks[2].summary
    assert checks[2].details[0] == "NVML 0: pid 4242 listed without a memory figure"


def test_a_mig_instance_in_cuda_visible_devices_maps_to_its_gpu():
    snapshot = _nvml(listed={0: MIB}, visible="MIG-cccccccc-3333")
    assert snapshot.visible_indices == (0,)
    assert readiness.nvml_checks(snapshot, None, _tf_gpus(A100))[1].status == OK


def test_a_device_order_other_than_pci_bus_id_is_a_warning():
    checks = readiness.nvml_checks(
        _nvml(listed={0: MIB, 1: MIB}, order="FASTEST_FIRST"),
        None,
        _tf_gpus(A100, H200),
    )
    assert checks[1].status == WARN and "FASTEST_FIRST" in checks[1].summary


def test_without_nvml_its_checks_are_skipped_with_the_reason():
    checks = readiness.nvml_checks(None, "NVML could not start: NVML Shared Library Not Found", ())
    assert [c.status for c in checks] == [SKIP, SKIP, SKIP]
    assert checks[0].summary == "NVML could not start: NVML Shared Library Not Found"


# -- a probe's child process (mgbench.execution.child), without TF ------------------------------


def test_a_probe_child_that_fails_says_why_with_its_traceback(tmp_path):
    log = tmp_path / "doctor" / "probe.log"
    result = probes.run_child("no-such-probe", {}, log_path=log, timeout_s=60)
    assert (result.payload, result.error) == (None, "KeyError: 'no-such-probe'")
    assert result.error_tail.endswith("KeyError: 'no-such-probe'")
    assert result.log_path == log and log.exists()


# -- the command on fake probes: the GPU branches' settings and the exit status -----------------


class FakeProbes:
    """Records the children the command asks for and answers with canned payloads; TF sees
    ``models`` (NVML's chips in order: the A100, then the H200)."""

    def __init__(self, models: tuple[str, ...], placement: dict | None = None):
        self.models = models
        self.placement = placement or _placement_payload()
        self.children: list[tuple[str, dict, float]] = []

    def inspect(self):
        return _inspection_named(*self.models)

    def nvml(self):
        if not self.models:
            return None, "NVML could not start: NVML Shared Library Not Found"
        listed = {i: 300 * MIB for i in range(len(self.models))}
        return _nvml(listed=listed, visible=",".join(map(str, range(len(self.models))))), None

    def run_child(self, kind, spec, *, log_path, timeout_s):
        self.children.append((kind, spec, timeout_s))
        if kind == "virtual-gpus":
            count = spec["count"]
            payload = {
                "asked": count,
                "memory_mb": spec["memory_mb"],
                "physical_gpus": 1,
                "logical_gpus": [f"GPU:{i}" for i in range(count)],
                "memory_limits_mb": [spec["memory_mb"]] * count,
                "ran_on": [f"GPU:{i}" for i in range(count)],
                "late_split_refused": "refused",
            }
        else:
            payload = self.placement
        return probes.ChildResult(payload, None, log_path, 1.0)


def _inspection_named(*models: str):
    base = _inspection(len(models))
    gpus = tuple(probes.TfGpu(f"GPU:{i}", m, "9.0") for i, m in enumerate(models))
    return probes.TfInspection(**{**base.__dict__, "physical_gpus": gpus})


@pytest.fixture
def fake_probes(monkeypatch):
    def install(models: tuple[str, ...], placement: dict | None = None) -> FakeProbes:
        fake = FakeProbes(models, placement)
        monkeypatch.setattr(probes, "inspect_tensorflow", fake.inspect)
        monkeypatch.setattr(probes, "open_and_read_nvml", fake.nvml)
        monkeypatch.setattr(probes, "run_child", fake.run_child)
        return fake

    return install


def _run_doctor() -> tuple[int, str]:
    lines: list[str] = []
    code = command.doctor_command(verbose=True, emit=lines.append, child_timeouts_s=(30, 75))
    return code, "\n".join(lines)


def test_one_gpu_is_split_in_two_for_the_placement_step(fake_probes):
    fake = fake_probes((A100,))
    code, text = _run_doctor()
    assert code == 0, text
    assert fake.children == [
        ("virtual-gpus", {"count": 2, "memory_mb": 1024}, 30),
        ("placement", {"replicas": 2, "virtual_gpus": 2, "virtual_gpu_memory_mb": 1024}, 75),
    ]
    assert "[ ok ] virtual GPUs (child process): first GPU split in 2 x 1024 MiB" in text


def test_two_gpus_run_the_placement_step_on_both_without_splitting(fake_probes):
    fake = fake_probes((A100, H200))
    code, text = _run_doctor()
    assert code == 0, text
    placement = [spec for kind, spec, _ in fake.children if kind == "placement"]
    assert placement == [{"replicas": 2, "virtual_gpus": 0, "virtual_gpu_memory_mb": 1024}]
    assert "[ ok ] TF GPU -> NVML index: CUDA_VISIBLE_DEVICES='0,1': matched by UUID" in text


def test_without_a_gpu_only_the_placement_child_runs_and_skips_are_listed(fake_probes):
    fake = fake_probes(())
    code, text = _run_doctor()
    assert code == 0, text
    assert [kind for kind, _, _ in fake.children] == ["placement"]
    assert fake.children[0][1]["virtual_gpus"] == 0
    assert "[skip] virtual GPUs (child process): no physical GPU to split" in text
    assert "[skip] NVML: NVML could not start" in text
    assert re.search(r"doctor in \d+ s: 3 ok, 0 warn, 0 fail, 6 skip; everything", text)
    assert "skipped here (the reasons are above): GPUs (TensorFlow)," in text


def test_a_placement_that_ran_off_its_prediction_exits_1(fake_probes):
    moved = [[o.name, o.type, "CPU:0"] for o in _ran_as_predicted()]
    fake_probes((), _placement_payload(_strategy_payload(observed=moved)))
    code, text = _run_doctor()
    assert code == 1
    assert "[FAIL] placement: inplace" in text
    assert "| forward              | CPU:1, CPU:2 | CPU:0" in text
    assert "a check failed (exit 1)" in text


def test_a_tensorflow_that_cannot_start_fails_and_skips_what_needs_it(fake_probes, monkeypatch):
    fake = fake_probes(())

    def broken():
        raise ImportError("libcudart.so.12: cannot open shared object file")

    monkeypatch.setattr(probes, "inspect_tensorflow", broken)
    code, text = _run_doctor()
    assert code == 1
    assert "[FAIL] TensorFlow: TensorFlow did not start here: ImportError: libcudart" in text
    assert fake.children == []


@pytest.mark.parametrize(
    ("statuses", "code"),
    [((OK, OK), 0), ((OK, WARN, SKIP), 0), ((SKIP,), 0), ((OK, FAIL, SKIP), 1), ((), 0)],
)
def test_exit_code_is_1_only_when_a_check_failed(statuses, code):
    assert readiness.exit_code(Check(f"c{i}", s, "") for i, s in enumerate(statuses)) == code


def test_a_check_with_an_unknown_status_is_refused():
    with pytest.raises(ValueError, match="status must be one of"):
        Check("x", "passed", "")


def test_a_check_prints_its_details_and_role_table_indented():
    comparison = readiness.compare_placement(PREDICTED, _ran_as_predicted())
    text = format_check(Check("placement: inplace", OK, "fine", ("a detail",), comparison))
    lines = text.splitlines()
    assert lines[0] == "[ ok ] placement: inplace: fine"
    assert lines[1] == "       a detail"
    assert lines[2].startswith("       | role ")
    assert "| input slicing        | CPU:0        | CPU:0        | 1/1        | yes" in text
    summary = format_summary([Check("a", OK, ""), Check("b", SKIP, "why")], wall_s=3.2)
    assert summary.splitlines() == [
        "doctor in 3 s: 1 ok, 0 warn, 0 fail, 1 skip; everything that could be checked here "
        "passed (exit 0)",
        "skipped here (the reasons are above): b",
    ]


# -- the quiet stderr ---------------------------------------------------------------------------


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "mgbench"


def test_native_stderr_goes_to_the_log_and_comes_back(cache_home, capfd):
    with quiet.native_stderr_to_log("unit", verbose=False) as log:
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on.\n")
    os.write(2, b"after\n")
    assert log == cache_home / "tf-unit.log"
    assert log.read_text() == "I0000 port.cc:153] oneDNN custom operations are on.\n"
    assert capfd.readouterr().err == "after\n"


def test_a_failure_shows_the_log_tail_without_the_start_up_noise(cache_home, capfd):
    with pytest.raises(RuntimeError, match="no device"), quiet.native_stderr_to_log("unit"):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called\n")
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: CUDA error 999\n")
        raise RuntimeError("no device")
    err = capfd.readouterr().err
    assert f"[the last lines TensorFlow wrote to {cache_home / 'tf-unit.log'}]" in err
    assert "failed call to cuInit: CUDA error 999" in err
    assert "absl::InitializeLog" not in err


def test_verbose_leaves_stderr_alone(cache_home, capfd, monkeypatch):
    monkeypatch.setattr(quiet, "_verbose", True)
    with quiet.native_stderr_to_log("unit") as log:
        os.write(2, b"shown\n")
    assert log is None
    assert capfd.readouterr().err == "shown\n"
    assert not (cache_home / "tf-unit.log").exists()


# -- the command line ---------------------------------------------------------------------------


def test_version_prints_the_installed_version_and_exits_0(run_cli):
    result = run_cli("--version")
    assert result.code == 0
    assert result.out == f"mgbench {version('mgbench')}\n"


def test_doctor_is_a_command_whose_exit_status_is_the_doctors(run_cli, monkeypatch):
    monkeypatch.setattr(command, "doctor_command", lambda: 1)
    assert run_cli("doctor").code == 1


def test_verbose_is_a_global_flag_that_reaches_the_quiet_module(run_cli, monkeypatch):
    monkeypatch.setattr(quiet, "_verbose", False)
    seen = []
    monkeypatch.setattr(command, "doctor_command", lambda: seen.append(quiet.is_verbose()) or 0)
    assert run_cli("--verbose", "doctor").code == 0
    assert seen == [True]
