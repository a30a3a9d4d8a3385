"""Freezing and unfreezing encoders for two-stage fine-tuning."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.encoders.applications import layer_strides


def _model():
    # A pretrained-style encoder with batch norm at every level.
    return kerasseg.models.deeplabv3plus(
        num_classes=2,
        encoder="mobilenetv2",
        encoder_options={"alpha": 0.35},
        filters=8,
        low_level_filters=4,
    )


def _fit(model, steps=3):
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 2, (4, 32, 32)).astype("int32")
    model.fit(x, y, batch_size=4, epochs=steps, verbose=0)


def _snapshot(model):
    return {
        w.path: keras.ops.convert_to_numpy(w)
        for w in model.get_layer("encoder").weights
    }


def _changed(before, model):
    after = _snapshot(model)
    return {
        path for path in before if not np.array_equal(before[path], after[path])
    }


def _is_bn_statistic(path):
    return path.endswith("moving_mean") or path.endswith("moving_variance")


def test_frozen_encoder_keeps_weights_and_batch_norm_statistics():
    model = kerasseg.freeze_encoder(_model())
    before = _snapshot(model)
    decoder = keras.ops.convert_to_numpy(
        model.get_layer("decoder_aspp_project_conv").kernel
    )
    _fit(model)
    assert _changed(before, model) == set()
    # ...while the rest of the model trained.
    after = keras.ops.convert_to_numpy(
        model.get_layer("decoder_aspp_project_conv").kernel
    )
    assert not np.array_equal(decoder, after)


@pytest.mark.slow
def test_unfreezing_from_a_level_trains_only_that_level_and_deeper():
    model = kerasseg.freeze_encoder(_model())
    model = kerasseg.unfreeze_encoder(model, from_level="P4")
    encoder = model.get_layer("encoder")
    strides = {
        w.path: stride
        for layer, stride in layer_strides(encoder)
        for w in layer.weights
    }
    before = _snapshot(model)
    _fit(model)
    changed = _changed(before, model)
    deep = {
        p for p, s in strides.items() if s >= 16 and not _is_bn_statistic(p)
    }
    trainable = {w.path for w in encoder.trainable_weights}
    assert changed and changed <= deep
    # Every trainable weight is deep, every deep kernel is trainable.
    assert trainable <= deep
    assert {p for p in deep if p.endswith("kernel")} <= trainable
    # Batch norm stays frozen by default: statistics fixed.
    assert not any(_is_bn_statistic(p) for p in changed)


@pytest.mark.slow
def test_unfreezing_batch_norm_updates_its_statistics():
    model = kerasseg.freeze_encoder(_model())
    model = kerasseg.unfreeze_encoder(model, batch_norm=True)
    before = _snapshot(model)
    _fit(model, steps=1)
    changed = _changed(before, model)
    assert any(_is_bn_statistic(p) for p in changed)
    encoder = model.get_layer("encoder")
    assert len(encoder.trainable_weights) == len(encoder.weights) - sum(
        _is_bn_statistic(w.path) for w in encoder.weights
    )


def test_unfreeze_names_the_levels_it_accepts():
    model = kerasseg.build("unet_tiny", num_classes=2)
    with pytest.raises(ValueError, match=r"\['P0', 'P1', 'P2', 'P3'\]"):
        kerasseg.unfreeze_encoder(model, from_level="P5")


def test_layer_strides_follow_pooling_in_the_conv_encoder():
    encoder = kerasseg.encoders.conv_encoder(depth=2, base_filters=2)
    strides = {layer.name: stride for layer, stride in layer_strides(encoder)}
    assert strides["block0_conv1"] == 1
    assert strides["block1_pool"] == 2
    assert strides["block2_conv2"] == 4
