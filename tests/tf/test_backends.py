"""The backend registry and the Keras 3 backend's builds, on simulated CPU replicas."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mgbench import backends, models
from mgbench.backends.base import Backend, BuildSpec
from mgbench.config.suite import BACKENDS as SUITE_BACKENDS
from mgbench.vocabulary import WRAPPERS

SPEC = BuildSpec(model="TinyMLP", image_size=8, classes=5, replicas=2, batch_per_replica=4)


def test_the_registry_knows_every_backend():
    assert backends.names() == ("keras3", "tf_keras", "jax")
    for name in backends.names():
        backend = backends.get(name)
        assert backend.name == name
        assert isinstance(backend, Backend)
        assert backends.get(name) is backend  # one instance per name


def test_suites_accept_exactly_the_registered_backends():
    assert tuple(SUITE_BACKENDS) == backends.names()


def test_an_unknown_backend_is_a_clear_error_naming_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown backend 'torch'; known backends: keras3, tf_keras, jax"
    ):
        backends.get("torch")


def test_an_unknown_strategy_is_refused_before_anything_is_built():
    with pytest.raises(ValueError, match=r"unknown strategy 'ring'; known: single, inplace"):
        backends.get("keras3").build_compiled(dataclasses.replace(SPEC, strategy="ring"))


@pytest.mark.parametrize("strategies", [("single", "inplace"), ("mirrored",), ()])
def test_only_wrappers_share_a_template(strategies):
    with pytest.raises(ValueError, match="build_many shares one template between wrappers"):
        backends.get("keras3").build_many(SPEC, strategies)


def test_single_build_records_where_it_lives():
    built = backends.get("keras3").build_compiled(
        dataclasses.replace(SPEC, strategy="single", replicas=1)
    )
    assert built.strategy == "single" and built.distribution is None
    assert built.weights_device == "/device:CPU:0"
    assert built.model.jit_compile is False


def test_the_wrappers_over_one_template_share_its_variables_each_trains_placed_as_alone():
    backend = backends.get("keras3")
    built = backend.build_many(SPEC, WRAPPERS)
    inplace, wholebatch, concat = built
    template = inplace.model.inner_model
    assert tuple(b.strategy for b in built) == ("inplace", "wholebatch", "concat")
    assert [type(b.model).__name__ for b in built] == [
        "MultiGpuModel",
        "WholeBatchModel",
        "ParallelModel",
    ]
    for other in (wholebatch, concat):
        assert other.model.inner_model is template
        assert other.replica_devices == inplace.replica_devices
        assert [id(v) for v in other.model.trainable_variables] == [
            id(v) for v in inplace.model.trainable_variables
        ]
    assert len({id(b.model.optimizer) for b in built}) == 3  # each compiled on its own
    x, y = models.synthetic_batch(SPEC.image_size, SPEC.classes, SPEC.global_batch)
    for each in built:
        report, reason = backend.trace_placement(each, x, y)
        alone = backend.build_compiled(dataclasses.replace(SPEC, strategy=each.strategy))
        expected, _ = backend.trace_placement(alone, x, y)
        assert reason is None
        assert report.summary() == expected.summary(), each.strategy
        assert report.devices_for("grad_aggregate") == ["CPU:0"]
    assert backend.trace_placement(wholebatch, x, y)[0].devices_for("slice") == [
        "CPU:1",
        "CPU:2",
    ]
    for each in (inplace, wholebatch, concat, inplace):  # alternately, as a paired run trains
        before = template.get_weights()
        loss = each.model.train_on_batch(x, y, return_dict=True)["loss"]
        assert np.isfinite(loss)
        moved = [not np.allclose(a, b) for a, b in zip(template.get_weights(), before, strict=True)]
        assert any(moved), each.strategy


def test_mirrored_placement_is_not_traced_and_says_why():
    backend = backends.get("keras3")
    built = backend.build_compiled(dataclasses.replace(SPEC, strategy="mirrored"))
    x, y = models.synthetic_batch(SPEC.image_size, SPEC.classes, SPEC.global_batch)
    assert built.weights_device == "mirrored"
    assert backend.trace_placement(built, x, y) == (
        None,
        "MirroredStrategy: placement is tf.distribute's, not traced by mgbench",
    )


def test_the_graph_mode_backend_refuses_a_shared_eager_process():
    with pytest.raises(ValueError, match="TF1 graph mode"):
        backends.get("tf_keras").prepare_shared_process(2)
