"""Precise BatchNorm statistics (`kerasseg.training.batch_norm`) and
`train.batch_norm_recalibration`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg.training import batch_norm
from kerasseg.training import config as config_module
from kerasseg.training import run
from tests.training.conftest import small_config


def _model():
    """image → BN "outer"; image → nested model (BN "inner"); image → BN
    "frozen" (trainable=False); summed."""
    inputs = keras.Input((4, 4, 2))
    inner_in = keras.Input((4, 4, 2))
    inner = keras.Model(
        inner_in, keras.layers.BatchNormalization(name="inner")(inner_in)
    )
    frozen = keras.layers.BatchNormalization(name="frozen")
    frozen.trainable = False
    outputs = keras.layers.Add()(
        [
            keras.layers.BatchNormalization(name="outer")(inputs),
            inner(inputs),
            frozen(inputs),
        ]
    )
    return keras.Model(inputs, outputs)


def _batches():
    rng = np.random.default_rng(0)
    return [
        rng.normal(mean, scale, (5, 4, 4, 2)).astype("float32")
        for mean, scale in ((0.0, 1.0), (3.0, 2.0), (-1.0, 0.5))
    ]


def test_statistics_become_the_average_of_the_batch_statistics():
    model = _model()
    batches = _batches()
    assert batch_norm.recalibrate(model, batches) == 3
    mean = np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0)
    var = np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0)
    inner = model.layers[2].get_layer("inner")
    for layer in (model.get_layer("outer"), inner):
        np.testing.assert_allclose(layer.moving_mean, mean, atol=1e-5)
        np.testing.assert_allclose(layer.moving_variance, var, atol=1e-4)
        assert layer.momentum == 0.99  # restored
    frozen = model.get_layer("frozen")
    np.testing.assert_array_equal(frozen.moving_mean, [0, 0])
    np.testing.assert_array_equal(frozen.moving_variance, [1, 1])


def test_pairs_are_read_as_inputs_and_nothing_else_changes():
    model = _model()
    before = [np.asarray(w) for w in model.trainable_weights]
    batches = [(b, np.zeros(5)) for b in _batches()]
    batch_norm.recalibrate(
        model,
        tf.data.Dataset.from_generator(
            lambda: iter(batches),
            output_signature=(
                tf.TensorSpec((5, 4, 4, 2)),
                tf.TensorSpec((5,), tf.float64),
            ),
        ),
    )
    for a, b in zip(before, model.trainable_weights):
        np.testing.assert_array_equal(a, b)
    want = np.mean([b.mean(axis=(0, 1, 2)) for b, _ in batches], axis=0)
    np.testing.assert_allclose(
        model.get_layer("outer").moving_mean, want, atol=1e-5
    )


def test_no_batches_is_an_error_and_leaves_the_statistics():
    model = _model()
    with pytest.raises(ValueError, match="no batches"):
        batch_norm.recalibrate(model, [])
    np.testing.assert_array_equal(model.get_layer("outer").moving_mean, [0, 0])


def test_config_refuses_a_negative_count(tmp_path):
    config = small_config(tmp_path, tmp_path, batch_norm_recalibration=-1)
    with pytest.raises(config_module.ConfigError, match="batch_norm_recal"):
        config_module.load(raw=config)


@pytest.mark.slow
def test_the_saved_model_holds_recalibrated_statistics(folder, tmp_path):
    images, masks = folder
    config = small_config(
        images, masks, epochs=1, batch_size=4, batch_norm_recalibration=2
    )
    config["model"]["name"] = "unet_tiny"
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    y = (x[..., 0] > 128).astype("int32")

    def data(epoch):
        # The same batches every epoch: the recalibration's are knowable.
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    run_dir = tmp_path / "run"
    run.train(config, run_dir, train_data=data)
    saved = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    expected = kerasseg.build("unet_tiny", num_classes=2)
    expected.load_weights(run_dir / "best.weights.h5")
    batch_norm.recalibrate(expected, [x[:4], x[4:]])
    layers = batch_norm.batch_norm_layers(saved)
    assert layers
    for got, want in zip(layers, batch_norm.batch_norm_layers(expected)):
        np.testing.assert_allclose(
            got.moving_mean, want.moving_mean, atol=1e-4, err_msg=got.name
        )
    # The best weights are the training's, before recalibration.
    trained = kerasseg.build("unet_tiny", num_classes=2)
    trained.load_weights(run_dir / "best.weights.h5")
    first = batch_norm.batch_norm_layers(trained)[0]
    assert not np.allclose(first.moving_mean, layers[0].moving_mean)
