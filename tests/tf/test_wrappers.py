"""The three wrappers on simulated CPU replicas: numbers, structure, errors, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import templates
from templates import arrays, keras, tf

from mgbench.wrappers import MultiGpuModel, ParallelModel, WholeBatchModel

WRAPPERS = [MultiGpuModel, WholeBatchModel, ParallelModel]
# The splits that cut any batch, the last replica taking the remainder.
ANY_BATCH = [MultiGpuModel, WholeBatchModel]


def sgd() -> keras.optimizers.Optimizer:
    return keras.optimizers.SGD(learning_rate=0.1)


def train_pair(build, wrapper, replicas, batches, loss):
    """Train the wrapper and, from identical weights, the bare template on the same batches."""
    template = build()
    reference = build()
    reference.set_weights(template.get_weights())
    model = wrapper(template, replicas)
    model.compile(optimizer=sgd(), loss=loss)
    reference.compile(optimizer=sgd(), loss=loss)
    losses = []
    for x, y in batches:
        got = model.train_on_batch(x, y, return_dict=True)["loss"]
        want = reference.train_on_batch(x, y, return_dict=True)["loss"]
        losses.append((got, want))
    return template, reference, losses


def assert_same_weights(a, b):
    for got, want in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("replicas", [2, 3])
def test_sgd_steps_match_the_bare_template(wrapper, replicas):
    batches = [arrays((6, 4), (6, 3), seed=s) for s in range(4)]
    template, reference, losses = train_pair(templates.mlp, wrapper, replicas, batches, "mse")
    assert_same_weights(template, reference)
    assert not np.allclose(template.get_weights()[0], templates.mlp().get_weights()[0])
    for got, want in losses:
        assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("wrapper", ANY_BATCH)
@pytest.mark.parametrize("batch", [7, 5, 2])
def test_in_place_and_whole_batch_splits_train_uneven_and_tiny_batches(wrapper, batch):
    batches = [arrays((batch, 4), (batch, 3), seed=s) for s in range(3)]
    template, reference, _ = train_pair(templates.mlp, wrapper, 3, batches, "mse")
    assert_same_weights(template, reference)


@pytest.mark.parametrize("wrapper", ANY_BATCH)
def test_the_last_replica_takes_the_remainder(wrapper):
    model = wrapper(templates.mlp(), 3)
    (x,) = arrays((8, 4))
    pieces = model.split_inputs([tf.constant(x)])
    assert [p[0].shape[0] for p in pieces] == [2, 2, 4]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in pieces]), x)


def test_the_whole_batch_split_cuts_each_slice_on_its_replica():
    model = WholeBatchModel(templates.mlp(), 3)

    @tf.function
    def cut(x):
        return model.split_inputs([x])

    graph = cut.get_concrete_function(tf.TensorSpec((8, 4), tf.float32)).graph
    slices = [op for op in graph.get_operations() if op.type == "StridedSlice"]
    # two per replica: the batch size read from tf.shape, then the replica's rows
    by_replica = {(op.name.split("/")[0], op.device.rsplit("/", 1)[-1]) for op in slices}
    assert by_replica == {(f"replica_{i}", f"device:CPU:{i + 1}") for i in range(3)}
    assert all("/mgbench_split/" in op.name for op in slices)


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_fit_reports_the_real_loss_and_metric(wrapper):
    x, y = arrays((12, 4), (12, 3))
    template = templates.mlp()
    reference = templates.mlp()
    reference.set_weights(template.get_weights())
    model = wrapper(template, 2)
    for m in (model, reference):
        m.compile(optimizer=sgd(), loss="mse", metrics=["mae"])
    got = model.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0).history
    want = reference.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0).history
    for key in ("loss", "mae"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5)
    evaluated = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    expected = reference.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    np.testing.assert_allclose(
        model.predict(x, batch_size=6, verbose=0),
        reference.predict(x, batch_size=6, verbose=0),
        rtol=1e-5,
    )


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_multi_input_multi_output_template(wrapper):
    batches = [
        ([image, meta], [score, label])
        for image, meta, score, label in (
            arrays((6, 6), (6, 2), (6, 1), (6, 3), seed=s) for s in range(3)
        )
    ]
    template, reference, losses = train_pair(
        templates.two_in_two_out, wrapper, 2, batches, ["mse", "mae"]
    )
    assert_same_weights(template, reference)
    assert losses[-1][0] == pytest.approx(losses[-1][1], rel=1e-5)


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_siamese_template_gets_unique_output_names(wrapper):
    template = templates.siamese()
    assert template.output_names == ["embed", "embed"]
    model = wrapper(template, 2)
    assert model.output_names == ["embed_1", "embed_2"]
    model.compile(optimizer=sgd(), loss={"embed_1": "mse", "embed_2": "mae"})
    left, right, y1, y2 = arrays((4, 4), (4, 4), (4, 2), (4, 2))
    reference = templates.siamese()
    reference.set_weights(template.get_weights())
    reference.compile(optimizer=sgd(), loss=["mse", "mae"])
    got = model.train_on_batch([left, right], [y1, y2], return_dict=True)
    want = reference.train_on_batch([left, right], [y1, y2], return_dict=True)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    assert_same_weights(template, reference)


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_scalar_outputs_are_averaged_and_tensors_concatenated(wrapper):
    template = templates.with_scalar_output()
    model = wrapper(template, 2)
    (x,) = arrays((6, 4))
    logits, mean = model(tf.constant(x))
    want_logits, _ = template(x)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-6)
    halves = [template(x[:3])[1], template(x[3:])[1]]
    assert float(mean) == pytest.approx(float(np.mean(halves)), rel=1e-6)
    assert mean.shape == ()


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_rnn_with_an_initial_state_input(wrapper):
    batches = [
        ([s, h], y) for s, h, y in (arrays((6, 5, 3), (6, 4), (6, 2), seed=k) for k in range(3))
    ]
    template, reference, _ = train_pair(templates.rnn_with_state, wrapper, 3, batches, "mse")
    assert_same_weights(template, reference)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_too_many_devices_names_expected_and_available(wrapper):
    with pytest.raises(ValueError) as error:
        wrapper(templates.mlp(), 5)
    message = str(error.value)
    assert "expects devices ['CPU:1', 'CPU:2', 'CPU:3', 'CPU:4', 'CPU:5']" in message
    assert "has 3 replica device(s): ['CPU:1', 'CPU:2', 'CPU:3']" in message


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("count", [1, [0]])
def test_one_device_is_refused(wrapper, count):
    with pytest.raises(ValueError, match="at least 2 replicas"):
        wrapper(templates.mlp(), count)


def test_device_ids_pick_devices():
    model = MultiGpuModel(templates.mlp(), [0, 2])
    assert [d.rsplit("/", 1)[-1] for d in model.replica_devices] == ["device:CPU:1", "device:CPU:3"]


def test_explicit_devices_must_exist():
    with pytest.raises(
        ValueError,
        match=r"\['/cpu:7'\] do not. Available devices: \['CPU:0', 'CPU:1', 'CPU:2', 'CPU:3'\]",
    ):
        ParallelModel(templates.mlp(), 2, devices=["/cpu:1", "/cpu:7"])


def test_concat_split_refuses_an_indivisible_batch_before_any_step():
    template = templates.mlp()
    before = [w.copy() for w in template.get_weights()]
    model = ParallelModel(template, 2)
    model.compile(optimizer=sgd(), loss="mse")
    x, y = arrays((5, 4), (5, 3))
    with pytest.raises(ValueError, match=r"batch size 5 is not divisible by gpu_count=2"):
        model.train_on_batch(x, y)
    x, y = arrays((10, 4), (10, 3))
    with pytest.raises(
        ValueError,
        match=r"10 samples in batches of 6 leave a last batch of 4, not divisible by gpu_count=3",
    ):
        ParallelModel(template, 3).fit(x, y, batch_size=6, verbose=0)
    for got, want in zip(template.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


# -- XLA stays off -----------------------------------------------------------------------------


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_jit_compile_true_is_refused_with_a_warning(wrapper):
    model = wrapper(templates.mlp(), 2)
    with pytest.warns(UserWarning, match="jit_compile=True ignored"):
        model.compile(optimizer=sgd(), loss="mse", jit_compile=True)
    assert model.jit_compile is False


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_xla_stays_off_when_a_gpu_is_visible(wrapper, monkeypatch):
    """Keras 3 resolves jit_compile="auto" to XLA whenever a GPU is visible (DESIGN §2.3)."""
    real = tf.config.list_physical_devices

    def with_fake_gpu(device_type=None):
        found = real(device_type)
        if device_type in (None, "GPU"):
            found = [*found, tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")]
        return found

    monkeypatch.setattr(tf.config, "list_physical_devices", with_fake_gpu)
    control = templates.mlp()
    control.compile(optimizer=sgd(), loss="mse")
    assert control.jit_compile is True, "the fake GPU must make Keras choose XLA"
    model = wrapper(templates.mlp(), 2)
    model.compile(optimizer=sgd(), loss="mse")
    assert model.jit_compile is False
    with pytest.warns(UserWarning, match="XLA stays off"):
        model.jit_compile = True
    assert model.jit_compile is False


def test_run_eagerly_is_refused():
    with pytest.raises(ValueError, match=r"compile\(run_eagerly=True\) is not supported"):
        MultiGpuModel(templates.mlp(), 2).compile(optimizer=sgd(), loss="mse", run_eagerly=True)


# -- the template owns the weights -------------------------------------------------------------


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_save_through_the_wrapper_and_load_into_a_fresh_template(wrapper, tmp_path):
    template = templates.mlp()
    model = wrapper(template, 2)
    model.compile(optimizer=sgd(), loss="mse")
    x, y = arrays((6, 4), (6, 3))
    model.train_on_batch(x, y)
    expected = model.predict(x, batch_size=6, verbose=0)

    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.name == template.name
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)

    model.save_weights(tmp_path / "model.weights.h5")
    fresh = templates.mlp(seed=1)
    assert not np.allclose(fresh.predict(x, verbose=0), expected)
    wrapper(fresh, 2).load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, rtol=1e-6)


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_the_template_weights_are_the_only_weights(wrapper):
    template = templates.mlp()
    model = wrapper(template, 3)
    assert [id(v) for v in model.weights] == [id(v) for v in template.weights]


def test_summary_names_the_whole_batch_wrapper():
    lines = []
    WholeBatchModel(templates.mlp(), 3).summary(print_fn=lambda line, **_: lines.append(line))
    assert lines[0] == "WholeBatchModel over 3 replicas: CPU:1, CPU:2, CPU:3; merge on CPU:0"


def test_summary_shows_the_wrapper_and_the_template():
    lines = []
    MultiGpuModel(templates.mlp(), 2).summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    assert "MultiGpuModel over 2 replicas: CPU:1, CPU:2; merge on CPU:0" in text
    assert "Total params" in text


def test_concat_split_accepts_a_last_batch_that_divides():
    x, y = arrays((100, 4), (100, 3))  # batches of 32, 32, 32 and 4: all even
    model = ParallelModel(templates.mlp(), 2)
    model.compile(optimizer=sgd(), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_unique_output_names_never_collide_with_existing_ones():
    from mgbench.wrappers.template import unique_output_names

    assert unique_output_names(["out", "out", "out_1"]) == ["out_2", "out_3", "out_1"]
    assert unique_output_names(["a", "b"]) == ["a", "b"]
