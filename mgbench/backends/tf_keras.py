"""The fidelity backend: the wrappers as the original Keras 2 graph-mode code (``tf_keras``).

The claim was measured in 2018 on Keras 2 in TF1 graph mode. tf_keras 2.21 still runs that mode
after ``tf.compat.v1.disable_eager_execution()``, which must happen before any TF op, so this
backend runs only in processes of its own (workers, the placement command, subprocess tests).
Placement is read from the TF1 graph of the compiled train function.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from mgbench import devices
from mgbench.backends.base import Built, CellSkipped, DeviceSetup, ModelSpec
from mgbench.backends.tf_base import LEARNING_RATE, TensorFlowBackend
from mgbench.placement import OpInfo, PlacementReport, TracedStep, op_info
from mgbench.platform import lazy
from mgbench.vocabulary import Strategy

PAIRED_REASON = (
    "paired comparisons are keras3-only for now: the tf_keras backend runs in TF1 graph mode, "
    "which offers no per-step function to alternate two strategies (its isolated cells run)"
)


PROFILE_REASON = (
    "profiling is keras3-only for now: the tf_keras backend runs in TF1 graph mode, which offers "
    "no per-step function to run under the profiler"
)


class TfKerasBackend(TensorFlowBackend):
    name = "tf_keras"

    def keras(self) -> ModuleType:
        return lazy.tf_keras()

    def prepare_process(
        self,
        replicas: int,
        *,
        virtual_gpus: int = 0,
        virtual_gpu_memory_mb: int = 0,
        multiworker: bool = False,
    ) -> DeviceSetup:
        if not multiworker:
            # TF1 graph mode, as in 2018; it must be switched on before any TF op exists.
            # A tf.distribute worker stays eager: MultiWorkerMirroredStrategy's fit is TF2's.
            lazy.tensorflow().compat.v1.disable_eager_execution()
        return super().prepare_process(
            replicas,
            virtual_gpus=virtual_gpus,
            virtual_gpu_memory_mb=virtual_gpu_memory_mb,
            multiworker=multiworker,
        )

    def prepare_shared_process(self, replicas: int) -> DeviceSetup:
        raise ValueError(
            "the tf_keras backend runs in TF1 graph mode, process-wide: it cannot share an eager "
            "process (a test session); run it in a process of its own (mgbench run)"
        )

    def check_can_build(self) -> None:
        if lazy.tensorflow().executing_eagerly():
            raise RuntimeError(
                "the tf_keras backend runs in TF1 graph mode: call "
                "tf.compat.v1.disable_eager_execution() first in the process"
            )

    def bare_template_device(self, weights: str) -> str | None:
        # In graph mode a construction-time device scope places every op, not just the
        # variables: the bare model is built unscoped, so it runs on the default device.
        return None

    def wrap(
        self,
        strategy: str,
        template: Any,
        replica_devices: tuple[str, ...],
        input_device: str | None,
    ) -> Any:
        # input_device is not passed on: the original in-place split slices where its input lives.
        from mgbench.wrappers import graph_mode

        makers = {
            Strategy.INPLACE: graph_mode.multi_gpu_model,
            Strategy.WHOLEBATCH: graph_mode.whole_batch_model,
            Strategy.CONCAT: graph_mode.parallel_model,
        }
        if strategy not in makers:
            raise ValueError(f"{strategy!r} is not a wrapper the tf_keras backend builds")
        return makers[Strategy(strategy)](template, list(replica_devices))

    def optimizer(self, built: Built) -> Any:
        if built.distribution is not None:
            # tf.distribute reduces gradients itself; Keras 2's optimizer_v1 is not allowed here.
            return self.keras().optimizers.legacy.SGD(LEARNING_RATE)
        from mgbench.wrappers import graph_mode

        return graph_mode.colocating_sgd(LEARNING_RATE)

    def trace_model_step(self, model: Any, x: Any = None, y: Any = None) -> TracedStep:
        # The graph holds the step already; the labels only size what is fed to it.
        return trace_step(model, labels=y)

    def fitted_model_step(self, spec: ModelSpec, model: Any) -> TracedStep | None:
        # The graph holds the step fit ran; the labels fed to it were the synthetic batch's.
        import numpy as np

        return trace_step(model, labels=np.zeros(spec.global_batch, dtype="int32"))

    def check_pairable(self, spec: ModelSpec, strategies: Sequence[str]) -> None:
        raise CellSkipped(PAIRED_REASON)

    def check_steppable(self, spec: ModelSpec) -> None:
        raise CellSkipped(PROFILE_REASON)

    def step_function(self, spec: ModelSpec, built: Built) -> Callable[[], float]:
        raise ValueError(
            "the tf_keras backend runs in TF1 graph mode and cannot run in a shared eager "
            "process; time it with mgbench run"
        )


def _step_ops(fetches: list[Any]) -> list[Any]:
    """Every op the training step runs: the fetches and all they depend on."""
    seen: dict[str, Any] = {}
    stack = [f.op if hasattr(f, "op") else f for f in fetches if f is not None]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen[op.name] = op
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return list(seen.values())


def trace_step(model: Any, labels: Any = None) -> TracedStep:
    """The compiled Keras 2 train function of ``model`` (built here if needed) as plain data.

    Keras 2's label placeholders have no static shape (``(None, None)``); when ``labels`` (an
    array) is given, the one label placeholder is sized as that array fed to it.
    """
    model._make_train_function()
    function = model.train_function
    infos = []
    for op in _step_ops([*function.outputs, function.updates_op]):
        if op.type in ("VarHandleOp", "VariableV2"):
            # A variable op stands in for the captured handle an eager trace would show.
            captured = op.device or devices.HOST_DEVICE
            infos.append(op_info(op, captured_device=captured, as_type="Placeholder"))
        else:
            infos.append(op_info(op))
    default = devices.default_device()
    replicas = getattr(model, "replica_devices", None)
    features = {t.op.name for t in model.inputs}
    fed = [t.op.name for t in function.inputs if t.op.type == "Placeholder"]
    label_names = [name for name in fed if name not in features]
    if labels is not None and len(model.outputs) == 1:
        infos = [_sized_as(info, labels) if info.name == label_names[0] else info for info in infos]
    return TracedStep(
        ops=tuple(infos),
        replica_devices=tuple(replicas or (default,)),
        default_device=default,
        writable_captures=tuple(v.handle.op.name for v in model.trainable_weights),
        variable_devices=tuple(v.device for v in model.trainable_weights),
        # Keras 2 graph mode names a bare model's forward ops after its layers.
        model_scope=None if replicas else "|".join(re.escape(layer.name) for layer in model.layers),
        batch_inputs=tuple(name for name in fed if name in features),
        label_inputs=tuple(label_names),
    )


def _sized_as(info: OpInfo, array: Any) -> OpInfo:
    """``info`` with its one output shaped like ``array`` (what a feed of it becomes)."""
    (tensor,) = info.outputs
    return dataclasses.replace(
        info, outputs=(dataclasses.replace(tensor, shape=tuple(int(d) for d in array.shape)),)
    )


def trace_train_step(model: Any) -> PlacementReport:
    """Placement of ``model``'s compiled Keras 2 train function (built here if needed)."""
    return trace_step(model).placement()
