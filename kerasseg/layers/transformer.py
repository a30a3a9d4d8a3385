"""Transformer layers that work on feature maps of any height and width."""

import math

import keras

from kerasseg._validation import one_of
from kerasseg._validation import positive_int
from kerasseg._validation import rate
from kerasseg.layers.resize import resize_bilinear

POSITION_MODES = ("sinusoidal", "learned")


def _gelu(x):
    # The exact GELU, x·Φ(x), written with erf: TensorFlow's own gelu uses
    # erfc, which the ONNX converter (tf2onnx) cannot translate.
    return 0.5 * x * (1.0 + keras.ops.erf(x * (1.0 / math.sqrt(2.0))))


def _tokens(x):
    shape = keras.ops.shape(x)
    return keras.ops.reshape(x, (shape[0], shape[1] * shape[2], x.shape[-1]))


@keras.saving.register_keras_serializable(package="kerasseg")
class PositionEmbedding2D(keras.layers.Layer):
    """Adds a 2-D position embedding to a feature map of any size.

    Args:
        mode: "sinusoidal" (fixed sines and cosines of the row and column
            index, no weights; channels must be a multiple of 4) or
            "learned" (a trainable `grid_size` table, bilinearly resized to
            the map's height and width, as ViT fine-tuning at a new
            resolution does).
        grid_size: `(rows, columns)` of the learned table (e.g. 14 × 14 for
            224-pixel inputs at stride 16). Ignored when sinusoidal.
        **kwargs: standard layer arguments.

    Example:

    >>> layer = kerasseg.layers.PositionEmbedding2D("sinusoidal")
    >>> tuple(layer(np.zeros((2, 5, 7, 8))).shape)
    (2, 5, 7, 8)
    """

    def __init__(self, mode="sinusoidal", grid_size=(14, 14), **kwargs):
        super().__init__(**kwargs)
        self.mode = one_of("mode", mode, POSITION_MODES)
        self.grid_size = tuple(
            positive_int("grid_size", size) for size in grid_size
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.mode == "sinusoidal" and channels % 4:
            raise ValueError(
                "A sinusoidal 2-D position embedding needs channels that "
                f"are a multiple of 4. Received: {channels} channels."
            )
        if self.mode == "learned":
            self.table = self.add_weight(
                name="table",
                shape=(*self.grid_size, channels),
                initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            )

    def _sinusoidal(self, height, width, channels, dtype):
        quarter = channels // 4
        frequencies = keras.ops.exp(
            keras.ops.arange(quarter, dtype="float32")
            * (-math.log(10000.0) / quarter)
        )
        rows = keras.ops.arange(height, dtype="float32")[:, None]
        cols = keras.ops.arange(width, dtype="float32")[:, None]
        rows, cols = rows * frequencies, cols * frequencies
        rows = keras.ops.concatenate(
            [keras.ops.sin(rows), keras.ops.cos(rows)], -1
        )
        cols = keras.ops.concatenate(
            [keras.ops.sin(cols), keras.ops.cos(cols)], -1
        )
        table = keras.ops.concatenate(
            [
                keras.ops.repeat(rows[:, None, :], width, axis=1),
                keras.ops.repeat(cols[None, :, :], height, axis=0),
            ],
            -1,
        )
        return keras.ops.cast(table, dtype)

    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        height, width = shape[1], shape[2]
        if self.mode == "learned":
            table = resize_bilinear(
                keras.ops.cast(self.table, inputs.dtype)[None], height, width
            )[0]
        else:
            table = self._sinusoidal(
                height, width, inputs.shape[-1], inputs.dtype
            )
        return inputs + table[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "grid_size": self.grid_size,
        }


@keras.saving.register_keras_serializable(package="kerasseg")
class TransformerBlock(keras.layers.Layer):
    """A pre-norm transformer encoder block over a feature map's pixels.

    Every pixel of `(batch, height, width, channels)` is a token:
    `x + MHSA(LN(x))`, then `x + MLP(LN(x))` with a GELU MLP (ViT,
    Dosovitskiy et al., 2021; TransUNet, Chen et al., 2021). The map is
    reshaped back afterwards, so any height and width work.

    Args:
        num_heads: attention heads; channels must divide evenly.
        mlp_dim: hidden units of the MLP.
        dropout: dropout rate of the attention weights and the MLP.
        **kwargs: standard layer arguments.

    Example:

    >>> block = kerasseg.layers.TransformerBlock(num_heads=2, mlp_dim=16)
    >>> tuple(block(np.zeros((2, 3, 5, 8))).shape)
    (2, 3, 5, 8)
    """

    def __init__(self, num_heads, mlp_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = positive_int("num_heads", num_heads)
        self.mlp_dim = positive_int("mlp_dim", mlp_dim)
        self.dropout = rate("dropout", dropout)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.num_heads:
            raise ValueError(
                f"TransformerBlock: {channels} channels do not split into "
                f"num_heads={self.num_heads} equal heads."
            )
        policy = self.dtype_policy
        self.norm1 = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=policy, name="norm1"
        )
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads,
            channels // self.num_heads,
            dropout=self.dropout,
            dtype=policy,
            name="attention",
        )
        self.norm2 = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=policy, name="norm2"
        )
        self.mlp1 = keras.layers.Dense(self.mlp_dim, dtype=policy, name="mlp1")
        self.mlp2 = keras.layers.Dense(channels, dtype=policy, name="mlp2")
        self.drop = keras.layers.Dropout(self.dropout, dtype=policy)
        token_shape = (None, None, channels)
        self.norm1.build(token_shape)
        self.attention.build(token_shape, token_shape)
        self.norm2.build(token_shape)
        self.mlp1.build(token_shape)
        self.mlp2.build((None, None, self.mlp_dim))

    def call(self, inputs, training=None):
        x = _tokens(inputs)
        y = self.norm1(x)
        x = x + self.attention(y, y, training=training)
        y = self.drop(_gelu(self.mlp1(self.norm2(x))), training=training)
        x = x + self.drop(self.mlp2(y), training=training)
        return keras.ops.reshape(x, keras.ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "dropout": self.dropout,
        }
