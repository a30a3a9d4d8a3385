"""The plain convolutional encoder of the classic U-Net."""

import keras

from kerasseg import _validation as check
from kerasseg.blocks import conv_block
from kerasseg.encoders.base import key_of


def conv_encoder(
    input_shape=(None, None, 3),
    *,
    depth=4,
    base_filters=64,
    batch_norm=True,
    dropout=0.0,
    name="encoder",
):
    """The contracting path of U-Net as a stride-keyed feature extractor.

    Level 0 runs at full resolution; each of the `depth` further levels
    halves the resolution with a 2×2 max pool and doubles the width. Every
    level is two 3×3 convolutions (each optionally batch-normalized) with
    ReLU.

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None.
        depth: number of 2× down-sampling stages; the deepest feature map
            has stride `2**depth`.
        base_filters: channels of level 0; level n has
            `base_filters * 2**n`.
        batch_norm: add batch normalization after every convolution.
        dropout: dropout rate applied to the deepest level's output (the
            paper's "drop-out layers at the end of the contracting path").
        name: the model's name; builders keep "encoder" so that
            `model.get_layer("encoder")` finds it.

    Returns:
        A `keras.Model` mapping images to `{"P0": …, f"P{depth}": …}`.

    Example:

    >>> encoder = kerasseg.encoders.conv_encoder(depth=2, base_filters=4)
    >>> features = encoder(np.zeros((1, 32, 32, 3)))
    >>> {key: tuple(value.shape) for key, value in features.items()}
    {'P0': (1, 32, 32, 4), 'P1': (1, 16, 16, 8), 'P2': (1, 8, 8, 16)}
    """
    input_shape = check.image_shape(input_shape)
    depth = check.positive_int("depth", depth)
    base_filters = check.positive_int("base_filters", base_filters)
    dropout = check.rate("dropout", dropout)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    features = {}
    for level in range(depth + 1):
        if level > 0:
            x = keras.layers.MaxPooling2D(2, name=f"block{level}_pool")(x)
        x = conv_block(
            x,
            base_filters * 2**level,
            batch_norm=batch_norm,
            name=f"block{level}",
        )
        if level == depth and dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"block{level}_dropout")(x)
        features[key_of(level)] = x
    return keras.Model(inputs, features, name=name)
