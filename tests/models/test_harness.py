"""The shared model harness, run for every registered tiny configuration.

A new architecture gets every check here by registering a `*_tiny` name.
"""

import copy
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import registry
from kerasseg.encoders.base import total_stride
from tests.models import harness

TINY = kerasseg.list_models("*_tiny")


def test_every_architecture_has_a_tiny_variant():
    # Configurations that differ only in their encoder (deeplabv3plus over
    # ResNet50, MobileNetV2, …) share their builder's tiny variant.
    builders = {registry.get_spec(n).builder for n in kerasseg.list_models()}
    tested = {registry.get_spec(n).builder for n in TINY}
    assert sorted(b.__name__ for b in builders - tested) == []


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("name", harness.tiered(TINY))
def test_output_shape_and_dtype_at_any_size(name, channels):
    model = harness.build(name, channels)
    for height, width in [(64, 64), (65, 97), (17, 9)]:
        y = harness.as_dict(
            model(np.zeros((2, height, width, channels), "float32"))
        )
        expected = harness.expected_shapes(
            name, model, 2, height, width, channels
        )
        assert {k: v.shape for k, v in y.items()} == expected
        assert {v.dtype for v in y.values()} == {np.dtype("float32")}


@pytest.mark.parametrize("name", TINY)
def test_static_input_shape_gives_static_output_shape(name):
    model = harness.build(name, input_shape=(65, 97, 3))
    shapes = {
        k: tuple(v.shape)
        for k, v in harness.as_dict_of_tensors(model.output).items()
    }
    assert shapes == harness.expected_shapes(name, model, None, 65, 97, 3)


@pytest.mark.parametrize("name", harness.tiered(TINY))
def test_one_graph_serves_every_size(name):
    # What tf.data pipelines with random crops and exported SavedModels
    # need: a graph traced with unknown batch, height and width.
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow graph tracing")
    import tensorflow as tf

    model = harness.build(name)
    serve = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((None, None, None, 3))],
    )
    for shape in [(1, 64, 64, 3), (2, 65, 97, 3)]:
        x, _ = harness.batch(name, shape=shape)
        expected = harness.as_dict(model(x, training=False))
        for key, value in harness.as_dict(serve(x)).items():
            np.testing.assert_allclose(value, expected[key], atol=1e-5)


@pytest.mark.parametrize("name", harness.tiered(TINY))
def test_odd_size_equals_zero_padded_input_cropped(name):
    # The in-graph padding must be zeros at the bottom and right, and the
    # crop must keep the top-left corner: check against padding by hand.
    model = harness.build(name)
    stride = total_stride(model.get_layer("encoder").output)
    x, _ = harness.batch(name, shape=(1, 65, 97, 3))
    padded = np.zeros(
        (1, -(-65 // stride) * stride, -(-97 // stride) * stride, 3)
    )
    padded[:, :65, :97] = x
    direct = harness.as_dict(model(x, training=False))
    by_hand = harness.as_dict(model(padded.astype("float32"), training=False))
    for key, value in direct.items():
        if value.ndim == 4:  # image-sized outputs: crop the padding off
            by_hand[key] = by_hand[key][:, :65, :97]
        np.testing.assert_allclose(value, by_hand[key], atol=1e-5)


def _gradients(model, loss_fn, x, y):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(model(x, training=True))
        return loss, tape.gradient(loss, model.trainable_variables)
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]

        def compute(values):
            pred, _ = model.stateless_call(values, frozen, x, training=True)
            return loss_fn(pred)

        return jax.value_and_grad(compute)(trainable)
    pytest.skip(f"gradient check not written for the {backend} backend")


def _leaves(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaves(layer)
        else:
            yield layer


@pytest.mark.parametrize("name", TINY)
def test_every_trainable_variable_gets_a_gradient(name):
    model = harness.build(name)
    x, y = harness.batch(name)
    loss, grads = _gradients(
        model, lambda pred: harness.total_loss(name, model, y, pred), x, y
    )
    assert np.isfinite(float(loss))
    assert len(grads) == len(model.trainable_variables) > 0
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad is not None, f"{variable.path} gets no gradient"
        grad = np.asarray(grad)
        assert np.isfinite(grad).all(), f"{variable.path}: non-finite grad"
        assert np.abs(grad).max() > 0, f"{variable.path}: all-zero gradient"


# Tracing a train step takes 10–20 s per tiny model on 2 CPU cores and
# XLA adds 5–30 s, so the default run trains one model in graph mode, the
# second tier (--run-slow) four more (three under XLA; and every tiny
# model under JAX's XLA in tests/test_backends.py), and --run-large every
# model both ways. (Every model's gradients reach every variable in the
# default run: test_every_trainable_variable_gets_a_gradient.)
TRAINING = [("fcn8s_tiny", False)]
SLOW_TRAINING = [
    ("unet_classic_tiny", True),
    ("fcn16s_tiny", True),
    ("conv_autoencoder_tiny", True),
    ("fcn32s_tiny", False),
]
TRAINING += [
    pytest.param(*case, marks=pytest.mark.slow) for case in SLOW_TRAINING
]
TRAINING += [
    pytest.param(name, jit, marks=pytest.mark.large)
    for name in TINY
    for jit in (False, True)
    if (name, jit) not in [*TRAINING[:1], *SLOW_TRAINING]
]


@pytest.mark.parametrize("name, jit_compile", TRAINING)
def test_a_few_training_steps_lower_the_loss(name, jit_compile):
    model = harness.build(name)
    model.compile(
        keras.optimizers.Adam(1e-2),
        **harness.compile_args(name, model),
        jit_compile=jit_compile,
    )
    x, y = harness.batch(name)
    losses = [harness.train_step(model, x, y) for _ in range(30)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.8 * losses[0], losses


@pytest.mark.parametrize("name", harness.tiered(TINY))
def test_mixed_float16(name):
    keras.config.set_dtype_policy("mixed_float16")
    model = harness.build(name)
    convs = [
        layer
        for layer in _leaves(model.get_layer("encoder"))
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert convs and {c.compute_dtype for c in convs} == {"float16"}
    x, y = harness.batch(name)
    for out in harness.as_dict(model(x)).values():
        assert out.dtype == "float32"
        assert np.isfinite(out).all()
    # kerasseg's own loss and metric, computed in float32. Run eagerly:
    # the same float16 numerics and loss scaling without tracing a graph
    # (graph and XLA training are checked elsewhere).
    model.compile(
        "adam",
        **harness.compile_args(name, model, kerasseg_losses=True),
        metrics=harness.metrics(name),
        run_eagerly=True,
    )
    logs = model.train_on_batch(x, harness.targets(model, y), return_dict=True)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs


@pytest.mark.parametrize("name", harness.tiered(TINY))
def test_config_round_trip(name):
    model = harness.build(name)
    config = model.get_config()
    # from_config consumes the dict it is given, so hand it a copy.
    clone = keras.Model.from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x, _ = harness.batch(name)
    expected = harness.as_dict(model(x, training=False))
    for key, value in harness.as_dict(clone(x, training=False)).items():
        np.testing.assert_allclose(value, expected[key], atol=1e-6)


_RELOAD_SCRIPT = """
import json, sys
import keras, numpy as np
import kerasseg  # registers the custom layers; nothing else is passed
folder, names = sys.argv[1], json.loads(sys.argv[2])
x = np.load(f"{folder}/x.npy")
for name in names:
    model = keras.saving.load_model(f"{folder}/{name}.keras", safe_mode=True)
    assert model.optimizer is not None, "compile state lost"
    out = model(x, training=False)
    out = out if isinstance(out, dict) else {"output": out}
    np.savez(f"{folder}/{name}.reloaded.npz", **out)
"""


# One worker runs them all: the fixture (30 s) is made once, not per worker.
@pytest.fixture(scope="module")
def reloaded_in_fresh_process(tmp_path_factory, pytestconfig):
    """Saves the tiny models this run checks, reloads all in one process."""
    slow = pytestconfig.getoption("--run-slow") or pytestconfig.getoption(
        "--run-large"
    )
    names = TINY if slow else [n for n in TINY if n in harness.DEFAULT_TIER]
    folder = tmp_path_factory.mktemp("saved")
    x, _ = harness.batch(TINY[0], shape=(2, 40, 56, 3))
    np.save(folder / "x.npy", x)
    expected = {}
    for name in names:
        model = harness.build(name)
        model.compile("adam", **harness.compile_args(name, model))
        model.save(folder / f"{name}.keras")
        expected[name] = harness.as_dict(model(x, training=False))
    result = subprocess.run(
        [sys.executable, "-c", _RELOAD_SCRIPT, str(folder), json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, expected


@pytest.mark.xdist_group("fresh_process")
@pytest.mark.parametrize("name", harness.tiered(TINY))
def test_keras_file_reloads_in_fresh_process(name, reloaded_in_fresh_process):
    folder, expected = reloaded_in_fresh_process
    reloaded = dict(np.load(folder / f"{name}.reloaded.npz"))
    assert sorted(reloaded) == sorted(expected[name])
    for key, value in expected[name].items():
        np.testing.assert_allclose(reloaded[key], value, atol=1e-6, rtol=0)
