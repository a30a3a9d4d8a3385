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


def test_every_configuration_has_a_tiny_variant():
    full = [n for n in kerasseg.list_models() if not n.endswith("_tiny")]
    assert [n for n in full if f"{n}_tiny" not in TINY] == []


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("name", TINY)
def test_output_shape_and_dtype_at_any_size(name, channels):
    model = harness.build(name, channels)
    out = harness.output_channels(name, channels)
    for height, width in [(64, 64), (65, 97), (17, 9)]:
        y = model(np.zeros((2, height, width, channels), "float32"))
        assert tuple(y.shape) == (2, height, width, out)
        assert y.dtype == "float32"


@pytest.mark.parametrize("name", TINY)
def test_static_input_shape_gives_static_output_shape(name):
    model = harness.build(name, input_shape=(65, 97, 3))
    out = harness.output_channels(name, 3)
    assert tuple(model.output.shape) == (None, 65, 97, out)


@pytest.mark.parametrize("name", TINY)
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
    direct = np.asarray(model(x, training=False))
    by_hand = np.asarray(model(padded.astype("float32"), training=False))
    np.testing.assert_allclose(direct, by_hand[:, :65, :97], atol=1e-5)


def _gradients(model, loss_fn, x, y):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return loss, tape.gradient(loss, model.trainable_variables)
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]

        def compute(values):
            pred, _ = model.stateless_call(values, frozen, x, training=True)
            return loss_fn(y, pred)

        return jax.value_and_grad(compute)(trainable)
    pytest.skip(f"gradient check not written for the {backend} backend")


@pytest.mark.parametrize("name", TINY)
def test_every_trainable_variable_gets_a_gradient(name):
    model = harness.build(name)
    x, y = harness.batch(name)
    loss, grads = _gradients(model, harness.loss_for(name), x, y)
    assert np.isfinite(float(loss))
    assert len(grads) == len(model.trainable_variables) > 0
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad is not None, f"{variable.path} gets no gradient"
        grad = np.asarray(grad)
        assert np.isfinite(grad).all(), f"{variable.path}: non-finite grad"
        assert np.abs(grad).max() > 0, f"{variable.path}: all-zero gradient"


@pytest.mark.parametrize("name", TINY)
def test_a_few_steps_lower_the_loss(name):
    model = harness.build(name)
    model.compile(keras.optimizers.Adam(1e-2), harness.loss_for(name))
    x, y = harness.batch(name)
    losses = [float(model.train_on_batch(x, y)) for _ in range(30)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.8 * losses[0], losses


@pytest.mark.parametrize("name", TINY)
def test_jit_compiled_training_step(name):
    model = harness.build(name)
    model.compile("adam", harness.loss_for(name), jit_compile=True)
    x, y = harness.batch(name)
    assert np.isfinite(float(model.train_on_batch(x, y)))


@pytest.mark.parametrize("name", TINY)
def test_mixed_float16(name):
    keras.config.set_dtype_policy("mixed_float16")
    model = harness.build(name)
    encoder = model.get_layer("encoder")
    assert encoder.get_layer("block0_conv1").compute_dtype == "float16"
    x, y = harness.batch(name)
    out = model(x)
    assert out.dtype == "float32"
    assert np.isfinite(np.asarray(out)).all()
    if registry.get_spec(name).task == "segmentation":
        # kerasseg's own loss and metric, computed in float32.
        classes = harness.NUM_CLASSES
        model.compile(
            "adam",
            kerasseg.losses.DiceCrossEntropy(num_classes=classes),
            metrics=[kerasseg.metrics.MeanIoU(classes)],
        )
    else:
        model.compile("adam", harness.loss_for(name))
    logs = model.train_on_batch(x, y, return_dict=True)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs


@pytest.mark.parametrize("name", TINY)
def test_config_round_trip(name):
    model = harness.build(name)
    config = model.get_config()
    # from_config consumes the dict it is given, so hand it a copy.
    clone = keras.Model.from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x, _ = harness.batch(name)
    np.testing.assert_allclose(
        np.asarray(clone(x, training=False)),
        np.asarray(model(x, training=False)),
        atol=1e-6,
    )


_RELOAD_SCRIPT = """
import json, sys
import keras, numpy as np
import kerasseg  # registers the custom layers; nothing else is passed
folder, names = sys.argv[1], json.loads(sys.argv[2])
x = np.load(f"{folder}/x.npy")
for name in names:
    model = keras.saving.load_model(f"{folder}/{name}.keras", safe_mode=True)
    assert model.optimizer is not None, "compile state lost"
    out = np.asarray(model(x, training=False))
    np.save(f"{folder}/{name}.reloaded.npy", out)
"""


@pytest.fixture(scope="module")
def reloaded_in_fresh_process(tmp_path_factory):
    """Saves every tiny model, reloads all in one fresh Python process."""
    folder = tmp_path_factory.mktemp("saved")
    x, _ = harness.batch(TINY[0], shape=(2, 40, 56, 3))
    np.save(folder / "x.npy", x)
    expected = {}
    for name in TINY:
        model = harness.build(name)
        model.compile("adam", harness.loss_for(name))
        model.save(folder / f"{name}.keras")
        expected[name] = np.asarray(model(x, training=False))
    result = subprocess.run(
        [sys.executable, "-c", _RELOAD_SCRIPT, str(folder), json.dumps(TINY)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, expected


@pytest.mark.parametrize("name", TINY)
def test_keras_file_reloads_in_fresh_process(name, reloaded_in_fresh_process):
    folder, expected = reloaded_in_fresh_process
    reloaded = np.load(folder / f"{name}.reloaded.npy")
    np.testing.assert_allclose(reloaded, expected[name], atol=1e-6, rtol=0)
