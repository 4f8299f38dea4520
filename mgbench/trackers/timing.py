"""Per-step wall times of a training loop, with the clock injected (a fake one in tests).

Step 0 is the first step (tracing, graph building) and is reported on its own; the next
``warmup_steps`` are excluded; the rest are timed. Every step is closed by a sync (the caller
reads the loss) before its end time is taken, so a time covers the device work too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mgbench.platform.hardware import Clock, monotonic


@dataclass(frozen=True)
class StepTiming:
    first_step_s: float
    warmup_step_s: tuple[float, ...]
    step_s: tuple[float, ...]
    timed_wall_s: float  # from the start of the first timed step to the end of the last
    images_per_step: int
    losses: tuple[float, ...] = ()  # what each step's sync read, when it read a loss
    nonfinite_losses: int = 0  # steps whose loss was nan or inf (the model diverged)

    @property
    def images_per_s(self) -> float:
        """Images in the timed steps / their wall time (gaps between steps included)."""
        return self.images_per_step * len(self.step_s) / self.timed_wall_s

    def to_dict(self) -> dict[str, object]:
        return {
            "first_step_s": self.first_step_s,
            "warmup_step_s": list(self.warmup_step_s),
            "step_s": list(self.step_s),
            "timed_wall_s": self.timed_wall_s,
            "images_per_step": self.images_per_step,
            "images_per_s": self.images_per_s,
            # The first and last loss show the model trained (a multiworker cell's workers
            # must agree on the gradients for it to fall).
            "first_loss": _finite(self.losses[0]) if self.losses else None,
            "last_loss": _finite(self.losses[-1]) if self.losses else None,
            "nonfinite_losses": self.nonfinite_losses,
        }


@dataclass
class StepTimer:
    warmup_steps: int
    timed_steps: int
    images_per_step: int
    clock: Clock = monotonic
    on_timed_start: Callable[[], None] | None = None
    on_timed_end: Callable[[], None] | None = None
    _begins: list[float] = field(default_factory=list)
    _ends: list[float] = field(default_factory=list)
    _losses: list[float] = field(default_factory=list)

    @property
    def total_steps(self) -> int:
        return 1 + self.warmup_steps + self.timed_steps

    @property
    def first_timed_step(self) -> int:
        return 1 + self.warmup_steps

    @property
    def steps_begun(self) -> int:
        return len(self._begins)

    @property
    def steps_ended(self) -> int:
        return len(self._ends)

    def begin(self, step: int) -> None:
        if step != self.steps_begun:
            raise RuntimeError(f"step {step} began out of order (expected {self.steps_begun})")
        if step == self.first_timed_step and self.on_timed_start:
            self.on_timed_start()
        self._begins.append(self.clock())

    def end(self, step: int, sync: Callable[[], object] = lambda: None) -> None:
        read = sync()
        self._ends.append(self.clock())
        if isinstance(read, float):
            self._losses.append(read)
        if step == self.total_steps - 1 and self.on_timed_end:
            self.on_timed_end()

    def result(self) -> StepTiming:
        if len(self._ends) < self.total_steps:
            raise RuntimeError(f"only {len(self._ends)} of {self.total_steps} steps finished")
        durations = [end - begin for begin, end in zip(self._begins, self._ends, strict=True)]
        first = self.first_timed_step
        return StepTiming(
            first_step_s=durations[0],
            warmup_step_s=tuple(durations[1:first]),
            step_s=tuple(durations[first : self.total_steps]),
            timed_wall_s=self._ends[self.total_steps - 1] - self._begins[first],
            images_per_step=self.images_per_step,
            losses=tuple(self._losses),
            nonfinite_losses=sum(not math.isfinite(loss) for loss in self._losses),
        )


def _finite(loss: float) -> float | None:
    """JSON has no nan: a diverged loss is None here and counted in ``nonfinite_losses``."""
    return loss if math.isfinite(loss) else None


def keras_callback(timer: StepTimer, keras: Any) -> Any:
    """A Keras callback (Keras 3 or tf_keras) that feeds ``timer`` from ``fit``."""

    class StepTimes(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            timer.begin(batch)

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            # Reading the loss waits for the step's device work: the sync that ends the step.
            timer.end(batch, sync=lambda: float(logs["loss"]))

    return StepTimes()


def timed_fit(model: Any, dataset: Any, timer: StepTimer, keras: Any) -> StepTiming:
    """Train ``timer.total_steps`` steps with ``fit`` (the real loop), timing every step."""
    model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=timer.total_steps,
        verbose=0,
        shuffle=False,
        callbacks=[keras_callback(timer, keras)],
    )
    return timer.result()
