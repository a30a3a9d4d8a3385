"""Every public kerasseg layer: config round trip, `.keras` save and
reload with equal outputs, one graph for unknown sizes. Parametrized over
`kerasseg.layers.__all__`, so a new layer must bring an example here
(the first test fails until it does)."""

import keras
import numpy as np
import pytest

from kerasseg import layers


def _x(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


# layer name → (a layer, its inputs: one array or a list of arrays)
EXAMPLES = {
    "AdaptiveAveragePooling2D": (
        lambda: layers.AdaptiveAveragePooling2D(3),
        lambda: _x(2, 7, 5, 3),
    ),
    "AttentionGate": (
        lambda: layers.AttentionGate(4),
        lambda: [_x(2, 8, 8, 6), _x(2, 8, 8, 12, seed=1)],
    ),
    "BilinearUpsample": (
        lambda: layers.BilinearUpsample(2),
        lambda: _x(2, 5, 7, 3),
    ),
    "CropToReference": (
        lambda: layers.CropToReference(),
        lambda: [_x(2, 16, 16, 3), _x(2, 13, 11, 1)],
    ),
    "D4Transform": (
        lambda: layers.D4Transform("rotate_90", inverse=True),
        lambda: _x(2, 5, 7, 3),
    ),
    "GradientReversal": (
        lambda: layers.GradientReversal(0.7),
        lambda: _x(2, 4, 4, 3),
    ),
    "HeadOutput": (
        lambda: layers.HeadOutput("softmax", meaning="segmentation"),
        lambda: _x(2, 5, 5, 3) / 255,
    ),
    "ImageNetPreprocessing": (
        lambda: layers.ImageNetPreprocessing("caffe"),
        lambda: _x(2, 6, 6, 3),
    ),
    "MergeScores": (
        lambda: layers.MergeScores("softmax"),
        lambda: [_x(2, 4, 4, 3) / 50, _x(2, 4, 4, 3, seed=1) / 50],
    ),
    "PadToMultiple": (lambda: layers.PadToMultiple(8), lambda: _x(2, 13, 9, 2)),
    "PercentileNormalization": (
        lambda: layers.PercentileNormalization(2.0, 98.0, min_range=4.0),
        lambda: _x(2, 12, 10, 2),
    ),
    "PositionEmbedding2D": (
        lambda: layers.PositionEmbedding2D("learned", (4, 4)),
        lambda: _x(2, 6, 5, 8) / 255,
    ),
    "RandomMasking": (
        lambda: layers.RandomMasking(0.3),
        lambda: _x(2, 6, 6, 1),
    ),
    "ResizeBy": (
        lambda: layers.ResizeBy(0.75),
        lambda: _x(2, 9, 7, 3),
    ),
    "ResizeToReference": (
        lambda: layers.ResizeToReference(),
        lambda: [_x(2, 4, 4, 3), _x(2, 9, 7, 1)],
    ),
    "TransformerBlock": (
        lambda: layers.TransformerBlock(num_heads=2, mlp_dim=16),
        lambda: _x(2, 3, 4, 8) / 255,
    ),
}
LAYERS = sorted(n for n in layers.__all__ if n[0].isupper())


def test_every_public_layer_has_an_example():
    assert sorted(EXAMPLES) == LAYERS


def _model(name, inputs):
    layer = EXAMPLES[name][0]()
    arrays = inputs if isinstance(inputs, list) else [inputs]
    symbolic = [keras.Input((None, None, a.shape[-1])) for a in arrays]
    out = layer(symbolic if isinstance(inputs, list) else symbolic[0])
    return layer, keras.Model(symbolic, out)


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trip(name):
    layer = EXAMPLES[name][0]()
    again = layer.__class__.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    assert keras.saving.get_registered_name(type(layer)).startswith("kerasseg>")


@pytest.mark.parametrize("name", LAYERS)
def test_saves_and_reloads_with_equal_outputs_at_unknown_size(name, tmp_path):
    inputs = EXAMPLES[name][1]()
    _, model = _model(name, inputs)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    # Inference mode: random layers (RandomMasking) act only in training.
    np.testing.assert_allclose(
        again.predict(inputs, verbose=0),
        model.predict(inputs, verbose=0),
        rtol=1e-6,
        atol=1e-5,
    )
