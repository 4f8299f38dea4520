"""The Keras 3 backend (TensorFlow, eager with traced steps): the wrappers of
:mod:`mgbench.wrappers`, placed in ``call()`` and compiled with XLA off (placement must survive).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from mgbench import models
from mgbench.backends.base import Built, ModelSpec
from mgbench.backends.tf_base import LEARNING_RATE, TensorFlowBackend, weights_device_name
from mgbench.platform import lazy
from mgbench.vocabulary import Strategy

if TYPE_CHECKING:
    from mgbench.placement import TracedStep


class Keras3Backend(TensorFlowBackend):
    name = "keras3"
    # XLA compiles the step for one device and would erase the placement (DESIGN §2.3).
    compile_options: ClassVar[dict[str, Any]] = {"jit_compile": False}

    def keras(self) -> ModuleType:
        return lazy.keras()

    def bare_template_device(self, weights: str) -> str | None:
        # Keras 3 places only the variables by a construction-time scope, not the ops.
        return weights_device_name(weights)

    def wrap(
        self,
        strategy: str,
        template: Any,
        replica_devices: tuple[str, ...],
        input_device: str | None,
    ) -> Any:
        from mgbench.wrappers import MultiGpuModel, ParallelModel, WholeBatchModel

        count, names = len(replica_devices), list(replica_devices)
        if strategy == Strategy.INPLACE:
            return MultiGpuModel(template, count, devices=names, input_device=input_device)
        if strategy == Strategy.WHOLEBATCH:
            return WholeBatchModel(template, count, devices=names)
        if strategy == Strategy.CONCAT:
            return ParallelModel(template, count, devices=names)
        raise ValueError(f"{strategy!r} is not a wrapper the keras3 backend builds")

    def optimizer(self, built: Built) -> Any:
        return self.keras().optimizers.SGD(learning_rate=LEARNING_RATE)

    def trace_model_step(self, model: Any, x: Any, y: Any) -> TracedStep:
        from mgbench import placement

        return placement.trace_step(model, x, y)

    def watch_model_step(self, model: Any) -> None:
        from mgbench import placement

        placement.watch_train_step(model)

    def fitted_model_step(self, spec: ModelSpec, model: Any) -> TracedStep | None:
        from mgbench import placement

        return placement.fitted_step(model)

    def step_function(self, spec: ModelSpec, built: Built) -> Callable[[], float]:
        tf = lazy.tensorflow()
        dataset = models.synthetic_dataset(spec.image_size, spec.classes, spec.global_batch)
        if built.distribution is not None:
            dataset = built.distribution.experimental_distribute_dataset(dataset)
        x, y = models.synthetic_batch(spec.image_size, spec.classes, spec.global_batch)
        built.model._symbolic_build(data_batch=(tf.constant(x), tf.constant(y)))
        built.model.make_train_function()
        iterator = iter(dataset)
        return lambda: float(built.model.train_function(iterator)["loss"])
