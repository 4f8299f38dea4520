"""Checks of the tf_keras (graph-mode) wrappers, run in a fresh process by test_legacy.py.

Graph mode is process-wide and must start before any TF op, so these cannot share the eager
test process. Prints one JSON object of measured facts; the test asserts on them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()

from mgbench import devices  # noqa: E402

devices.simulate(3)

import tf_keras as keras  # noqa: E402

from mgbench import backends  # noqa: E402
from mgbench.backends.base import BuildSpec  # noqa: E402
from mgbench.backends.tf_keras import trace_train_step  # noqa: E402
from mgbench.vocabulary import WRAPPERS  # noqa: E402
from mgbench.wrappers import graph_mode as wrappers  # noqa: E402

REPLICAS = ["/device:CPU:1", "/device:CPU:2", "/device:CPU:3"]
BUILDS = (
    ("inplace", wrappers.multi_gpu_model),
    ("wholebatch", wrappers.whole_batch_model),
    ("concat", wrappers.parallel_model),
)


def template(seed: int = 0, device: str | None = "/cpu:0"):
    """A small MLP template, built under ``device`` (None: no device scope at all)."""
    keras.utils.set_random_seed(seed)
    with tf.device(device) if device else contextlib.nullcontext():
        inputs = keras.Input((4,), name="features")
        hidden = keras.layers.Dense(8, activation="tanh")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, name="out")(hidden))


def batches(size: int):
    rng = np.random.default_rng(size)
    return [
        (
            rng.standard_normal((size, 4)).astype("float32"),
            rng.standard_normal((size, 3)).astype("float32"),
        )
        for _ in range(3)
    ]


def equivalence(build, replicas: int, size: int) -> float:
    """Largest weight difference to the bare template after 3 SGD steps from equal weights."""
    inner, reference = template(), template(1)
    reference.set_weights(inner.get_weights())
    model = build(inner, REPLICAS[:replicas])
    model.compile(optimizer=wrappers.colocating_sgd(0.1), loss="mse")
    reference.compile(optimizer=wrappers.colocating_sgd(0.1), loss="mse")
    for x, y in batches(size):
        model.train_on_batch(x, y)
        reference.train_on_batch(x, y)
    moved = max(
        float(np.abs(a - b).max())
        for a, b in zip(inner.get_weights(), template().get_weights(), strict=True)
    )
    assert moved > 1e-3, "training must move the weights"
    return max(
        float(np.abs(a - b).max())
        for a, b in zip(inner.get_weights(), reference.get_weights(), strict=True)
    )


def devices_by_replica(report, role: str) -> dict[str, list[str]]:
    found: dict[int, set[str]] = {}
    for op in report.ops_for(role):
        index = report.replica_of(op)
        if index is not None:
            found.setdefault(index, set()).add(op.device)
    return {str(i): sorted(d) for i, d in sorted(found.items())}


def audit(report) -> dict:
    return {
        "forward": devices_by_replica(report, "forward"),
        "backward": devices_by_replica(report, "backward"),
        "slice": sorted({(op.device, op.placed_by) for op in report.ops_for("slice")}),
        # op by op: (the replica scope it is in, or None, its device, the rule that placed it)
        "slice_ops": sorted(
            {(report.replica_of(op), op.device, op.placed_by) for op in report.ops_for("slice")},
            key=str,
        ),
        "grad_aggregate": report.devices_for("grad_aggregate"),
        "update": report.devices_for("update"),
        "merge": report.devices_for("merge"),
        "backward_unplaced": sum(op.placed_by == "default" for op in report.ops_for("backward")),
        "backward_total": len(report.ops_for("backward")),
    }


def pair_over_one_template() -> dict:
    """build_many: both wrappers over one template, each trains it, each placed as if alone."""
    backend = backends.get("tf_keras")
    spec = BuildSpec(model="TinyMLP", image_size=8, classes=5, replicas=2, batch_per_replica=4)
    pair = backend.build_many(spec, WRAPPERS)
    template = pair[0].model.inner_model
    x = np.random.default_rng(0).standard_normal((8, 8, 8, 3)).astype("float32")
    y = np.arange(8, dtype="int32") % 5
    out: dict = {
        "same_template": all(b.model.inner_model is template for b in pair),
        "same_replicas": pair[0].replica_devices == pair[1].replica_devices,
        "trained": {},
        "placement_as_alone": {},
    }
    for built in pair:
        before = template.get_weights()
        built.model.train_on_batch(x, y)
        moved = max(
            float(np.abs(a - b).max()) for a, b in zip(template.get_weights(), before, strict=True)
        )
        out["trained"][built.strategy] = moved > 1e-6
        alone = backend.build_compiled(dataclasses.replace(spec, strategy=built.strategy))
        got, want = (audit(trace_train_step(b.model)) for b in (built, alone))
        out["placement_as_alone"][built.strategy] = got == want
    return out


def transfer_rows(model, global_batch: int, labels=None) -> dict:
    from mgbench import transfers
    from mgbench.backends.tf_keras import trace_step

    traced = trace_step(model, labels=labels)
    found = transfers.audits(traced, global_batch=global_batch)
    out: dict = {
        resolution: [row.to_json() for row in found[resolution].rows] for resolution in found
    }
    out["unresolved"] = [name for each in found.values() for name in each.unresolved]
    out["split"] = {
        "on_gpus": transfers.resolved_split(found["on_gpus"].rows, len(traced.replica_devices)),
        "as_run": transfers.resolved_split(found["as_run"].rows, traced.replica_devices),
    }
    return out


def transfer_checks() -> dict:
    """The transfer audit of the graph-mode wrappers: TinyCNN through the backend, and a
    two-input template through the wrappers themselves."""
    backend = backends.get("tf_keras")
    spec = BuildSpec(model="TinyCNN", image_size=32, classes=10, replicas=2, batch_per_replica=8)
    out: dict = {"tinycnn": {}, "two_inputs": {}}
    for built in backend.build_many(spec, WRAPPERS):
        labels = np.zeros(spec.global_batch, dtype="int32")
        out["tinycnn"][built.strategy] = transfer_rows(built.model, spec.global_batch, labels)
        out["tinycnn"]["param_bytes"] = int(
            sum(np.prod(w.shape) * 4 for w in built.model.trainable_weights)
        )
    for name, build in BUILDS:
        with tf.device("/cpu:0"):
            image = keras.Input((6,), name="image")
            meta = keras.Input((2,), name="meta")
            joined = keras.layers.Concatenate()([keras.layers.Dense(5)(image), meta])
            two = keras.Model([image, meta], keras.layers.Dense(3)(joined))
        model = build(two, REPLICAS[:2])
        model.compile(optimizer=wrappers.colocating_sgd(), loss="mse")
        out["two_inputs"][name] = transfer_rows(model, 16)
    return out


def seed_fidelity() -> dict:
    """The seed's in-place split over a template built with no device scope (Keras 2.0.9-2.1.6's
    whole-batch split, with a warning naming the input) and under the host (in place, silent),
    on 3 replicas, batch 6 of 4 float32: the audit's rows, its resolved split, the warnings."""
    out: dict = {}
    for name, device in (("unscoped", None), ("host", "/cpu:0")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = wrappers.multi_gpu_model(template(device=device), REPLICAS)
        model.compile(optimizer=wrappers.colocating_sgd(), loss="mse")
        out[name] = transfer_rows(model, 6, labels=np.zeros((6, 3), dtype="float32"))
        out[name]["warnings"] = [
            [w.category.__name__, str(w.message)] for w in caught if "multi_gpu_model" in str(w)
        ]
        out[name]["placement"] = audit(trace_train_step(model))
    return out


def main() -> None:
    out: dict = {"equivalence": {}, "placement": {}}
    for name, build in BUILDS:
        for replicas in (2, 3):
            out["equivalence"][f"{name}-x{replicas}"] = equivalence(build, replicas, 6)
        model = build(template(), REPLICAS[:2])
        model.compile(optimizer=wrappers.colocating_sgd(), loss="mse")
        out["placement"][name] = audit(trace_train_step(model))
    for name, build in BUILDS[:2]:  # the splits that take any batch size
        out["equivalence"][f"{name}-x3-uneven7"] = equivalence(build, 3, 7)
        out["equivalence"][f"{name}-x3-tiny2"] = equivalence(build, 3, 2)
    model = wrappers.whole_batch_model(template(), REPLICAS)
    model.compile(optimizer=wrappers.colocating_sgd(), loss="mse")
    out["placement"]["wholebatch-x3"] = audit(trace_train_step(model))
    out["fidelity"] = seed_fidelity()

    # The trap: Keras 2's 'sgd' string builds an optimizer whose gradients are not colocated.
    refused = build = wrappers.multi_gpu_model(template(), REPLICAS[:2])
    try:
        refused.compile(optimizer="sgd", loss="mse")
        out["sgd_string_refused"] = False
    except ValueError as error:
        out["sgd_string_refused"] = "optimizer_v1" in str(error)
    super(type(build), build).compile(optimizer="sgd", loss="mse")  # bypass the refusal
    out["placement"]["inplace_sgd_string"] = audit(trace_train_step(build))
    bare = template()
    bare.compile(optimizer="sgd", loss="mse")
    out["placement"]["single_sgd_string"] = audit(trace_train_step(bare))
    bare = template()
    bare.compile(optimizer=wrappers.colocating_sgd(), loss="mse")
    out["placement"]["single_colocating"] = audit(trace_train_step(bare))

    # Save through the wrapper, load into a fresh template: same predictions.
    model = wrappers.multi_gpu_model(template(), REPLICAS[:2])
    x, _ = batches(6)[0]
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"mgbench-legacy-{os.getpid()}.h5")
    model.save_weights(path)
    fresh = template(5)
    fresh.load_weights(path)
    os.remove(path)
    out["save_load_max_diff"] = float(np.abs(fresh.predict(x) - model.predict(x)).max())
    out["pair"] = pair_over_one_template()
    out["transfers"] = transfer_checks()
    print("MGBENCH_JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
