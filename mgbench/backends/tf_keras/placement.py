"""Placement of a tf_keras graph-mode training step, read from the TF1 graph itself."""

from __future__ import annotations

import re
from typing import Any

from mgbench import devices
from mgbench.placement import OpInfo, PlacementReport, analyse
from mgbench.platform import lazy


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


def trace_train_step(model: Any) -> PlacementReport:
    """Placement of ``model``'s compiled Keras 2 train function (built here if needed)."""
    tf = lazy.tensorflow()
    model._make_train_function()
    function = model.train_function
    infos = []
    for op in _step_ops([*function.outputs, function.updates_op]):
        groups = [g.decode() for g in op.colocation_groups()]
        target = groups[0].removeprefix("loc:@") if groups else None
        is_variable = op.type in ("VarHandleOp", "VariableV2")
        infos.append(
            OpInfo(
                name=op.name,
                type="Placeholder" if is_variable else op.type,  # like a captured handle
                requested_device=op.device,
                colocated_with=None if target == op.name else target,
                inputs=tuple(t.op.name for t in op.inputs),
                captured_device=(op.device or devices.HOST_DEVICE) if is_variable else None,
            )
        )
    default = "/device:GPU:0" if tf.config.list_logical_devices("GPU") else devices.HOST_DEVICE
    replicas = getattr(model, "replica_devices", None)
    return analyse(
        infos,
        replica_devices=replicas or (default,),
        default_device=default,
        writable_captures=[v.handle.op.name for v in model.trainable_weights],
        variable_devices=[v.device for v in model.trainable_weights],
        # Keras 2 graph mode names a bare model's forward ops after its layers.
        model_scope=None if replicas else "|".join(re.escape(layer.name) for layer in model.layers),
    )
