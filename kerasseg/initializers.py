"""Weight initializers. Registered, so models using them reload."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="kerasseg")
class BilinearUpsampling(keras.initializers.Initializer):
    """Initializes a transposed convolution to bilinear interpolation.

    For a `Conv2DTranspose` with stride `s` and kernel `2 * s`, each output
    channel starts as the bilinear interpolation of the input channel of
    the same index (other channel pairs start at zero), as FCN's upsampling
    layers are initialized (Long et al., 2015).

    Example:

    >>> layer = keras.layers.Conv2DTranspose(
    ...     1, 4, strides=2, padding="same", use_bias=False,
    ...     kernel_initializer=kerasseg.initializers.BilinearUpsampling())
    >>> layer(np.ones((1, 3, 3, 1)))[0, 1:5, 1:5, 0].numpy().tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], \
[1.0, 1.0, 1.0, 1.0]]
    """

    def __call__(self, shape, dtype=None):
        height, width, outputs, inputs = shape
        kernel = np.zeros(shape, "float32")
        grid = np.outer(_triangle(height), _triangle(width))
        for channel in range(min(outputs, inputs)):
            kernel[:, :, channel, channel] = grid
        return keras.ops.convert_to_tensor(kernel, dtype=dtype)

    def get_config(self):
        return {}


def _triangle(size):
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    return 1 - np.abs(np.arange(size) - center) / factor
