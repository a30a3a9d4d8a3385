"""Input corruption for denoising autoencoders."""

import keras

from kerasseg._validation import rate as check_rate


@keras.saving.register_keras_serializable(package="kerasseg")
class RandomMasking(keras.layers.Layer):
    """Sets a random fraction of pixels to zero, at training time only.

    The masking noise of denoising autoencoders (Vincent et al., 2008): each
    pixel is zeroed in all its channels with probability `rate`. Unlike
    `keras.layers.Dropout`, kept pixels are *not* rescaled by
    `1 / (1 - rate)`, so the corrupted image keeps the intensity range of the
    clean one the model must reconstruct. At inference the layer is the
    identity.

    Args:
        rate: probability in [0, 1) that a pixel is zeroed.
        seed: optional integer seed for reproducible masks.
        **kwargs: standard layer arguments (`name`, `dtype`, …).

    Example:

    >>> layer = kerasseg.layers.RandomMasking(0.5, seed=1)
    >>> images = np.ones((1, 4, 4, 3), "float32")
    >>> bool((np.asarray(layer(images, training=False)) == images).all())
    True
    >>> masked = np.asarray(layer(images, training=True))
    >>> sorted(set(masked.ravel().tolist()))
    [0.0, 1.0]
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        shape = keras.ops.shape(inputs)
        noise = keras.random.uniform(
            (shape[0], shape[1], shape[2], 1), seed=self.seed_generator
        )
        keep = keras.ops.cast(noise >= self.rate, inputs.dtype)
        return inputs * keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
