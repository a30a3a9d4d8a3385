"""Additive attention gate for U-Net skip connections."""

import keras

from kerasseg._validation import positive_int


@keras.saving.register_keras_serializable(package="kerasseg")
class AttentionGate(keras.layers.Layer):
    """Additive attention gate (Oktay et al., 2018) on a skip connection.

    Computes a per-pixel coefficient in (0, 1) from the skip features `x` and
    a gating signal `g` and returns `x` scaled by it:

        alpha = sigmoid(psi(relu(theta(x) + phi(g))))
        output = x * alpha

    where `theta`, `phi` and `psi` are 1×1 convolutions (`psi` to one
    channel). The gating signal is the decoder's feature at the skip's
    resolution (after upsampling), as in keras-unet-collection's
    `att_unet_2d`; the paper instead reads `g` at the coarser scale and
    resamples the coefficients. Taking `g` at the skip's resolution needs no
    strided convolution and no resampling of `alpha`.

    Args:
        inter_channels: channels of the intermediate `theta(x) + phi(g)` map.
        **kwargs: standard layer arguments (`name`, `dtype`, …).

    Call arguments:
        inputs: a list `[x, g]` of tensors with the same batch, height and
            width; channels may differ.

    Returns:
        A tensor shaped like `x`.

    Example:

    >>> gate = kerasseg.layers.AttentionGate(inter_channels=4)
    >>> skip, gating = np.ones((2, 8, 8, 6)), np.ones((2, 8, 8, 12))
    >>> tuple(gate([skip, gating]).shape)
    (2, 8, 8, 6)

    Reference:
        Oktay et al., "Attention U-Net: Learning Where to Look for the
        Pancreas", MIDL 2018. https://arxiv.org/abs/1804.03999
    """

    def __init__(self, inter_channels, **kwargs):
        super().__init__(**kwargs)
        self.inter_channels = positive_int("inter_channels", inter_channels)
        policy = self.dtype_policy
        # theta and phi are summed, so one bias (on phi) is enough.
        self.theta = keras.layers.Conv2D(
            self.inter_channels, 1, use_bias=False, dtype=policy, name="theta"
        )
        self.phi = keras.layers.Conv2D(
            self.inter_channels, 1, dtype=policy, name="phi"
        )
        self.psi = keras.layers.Conv2D(1, 1, dtype=policy, name="psi")

    def build(self, input_shape):
        x_shape, g_shape = input_shape
        for axis in (1, 2):
            a, b = x_shape[axis], g_shape[axis]
            if a is not None and b is not None and a != b:
                raise ValueError(
                    "AttentionGate needs `x` and `g` at the same resolution. "
                    f"Received: x.shape={tuple(x_shape)}, "
                    f"g.shape={tuple(g_shape)}"
                )
        self.theta.build(x_shape)
        self.phi.build(g_shape)
        self.psi.build(tuple(x_shape[:-1]) + (self.inter_channels,))

    def call(self, inputs):
        x, g = inputs
        f = keras.ops.relu(self.theta(x) + self.phi(g))
        alpha = keras.ops.sigmoid(self.psi(f))
        return x * alpha

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "inter_channels": self.inter_channels}
