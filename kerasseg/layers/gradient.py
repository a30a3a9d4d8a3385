"""Gradient reversal (Ganin & Lempitsky, 2015), for domain-adversarial
training."""

import keras

from kerasseg import _validation as check


@keras.saving.register_keras_serializable(package="kerasseg")
class GradientReversal(keras.layers.Layer):
    """The identity forward; backward, the gradient times `-weight`.

    Placed between a feature extractor and a domain classifier, it lets one
    optimizer step train the classifier to tell the domains apart while the
    features learn to make that impossible (DANN). `weight` (λ in the
    paper) is a non-trainable variable, so a schedule can change it during
    training (`kerasseg.training.recipes.dann_weight`); it is saved with
    the layer.

    Written with `keras.ops.stop_gradient` alone, so it runs on every
    backend: `s + (-λ) * (x - s)` with `s = stop_gradient(x)` is exactly `x`
    forward (`x - s` is zero) and has gradient `-λ`.

    Args:
        weight: the reversal weight λ ≥ 0 (0 stops the gradient).
        **kwargs: layer arguments (`name`, `dtype`).

    Example:

    >>> layer = kerasseg.layers.GradientReversal(0.5)
    >>> x = np.array([[1.0, -2.0]], "float32")
    >>> np.asarray(layer(x)).tolist()
    [[1.0, -2.0]]
    """

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self._initial_weight = check.non_negative("weight", weight)
        self.reversal_weight = self.add_weight(
            name="reversal_weight",
            shape=(),
            initializer=keras.initializers.Constant(self._initial_weight),
            trainable=False,
            dtype="float32",
            # A schedule sets it to one value on every replica.
            aggregation="only_first_replica",
        )

    def call(self, inputs):
        held = keras.ops.stop_gradient(inputs)
        weight = keras.ops.cast(self.reversal_weight, inputs.dtype)
        return held - weight * (inputs - held)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "weight": self._initial_weight}
