"""The layers of test-time augmentation inside the graph
(`kerasseg.inference.tta`): the eight symmetries of the square and the
merge of the predictions made through them."""

import keras

from kerasseg import _validation as check

# The eight elements of the dihedral group D4 as (transpose, flip up-down,
# flip left-right), applied in that order.
D4 = {
    "identity": (False, False, False),
    "flip_horizontal": (False, False, True),
    "flip_vertical": (False, True, False),
    "rotate_180": (False, True, True),
    "transpose": (True, False, False),
    "rotate_90": (True, True, False),  # counter-clockwise
    "rotate_270": (True, False, True),
    "transverse": (True, True, True),  # transpose about the anti-diagonal
}


@keras.saving.register_keras_serializable(package="kerasseg")
class D4Transform(keras.layers.Layer):
    """One symmetry of the square on `(batch, height, width, channels)`
    maps, or its inverse.

    Args:
        transform: a name of `D4` ("identity", "flip_horizontal",
            "flip_vertical", "rotate_180", "transpose", "rotate_90",
            "rotate_270", "transverse").
        inverse: apply the inverse (what maps a prediction on the
            transformed image back onto the image).
        **kwargs: layer arguments.

    Example:

    >>> x = np.arange(6.0).reshape(1, 2, 3, 1)
    >>> layer = kerasseg.layers.D4Transform("rotate_90")
    >>> np.asarray(layer(x))[0, ..., 0].tolist()
    [[2.0, 5.0], [1.0, 4.0], [0.0, 3.0]]
    >>> back = kerasseg.layers.D4Transform("rotate_90", inverse=True)
    >>> bool((np.asarray(back(layer(x))) == x).all())
    True
    """

    def __init__(self, transform, inverse=False, **kwargs):
        super().__init__(**kwargs)
        self.transform = check.one_of("transform", transform, tuple(D4))
        self.inverse = bool(inverse)

    def _steps(self):
        transpose, up_down, left_right = D4[self.transform]
        steps = []
        if transpose:
            steps.append("transpose")
        if up_down:
            steps.append("up_down")
        if left_right:
            steps.append("left_right")
        # Each step is its own inverse: the inverse runs them backwards.
        return steps[::-1] if self.inverse else steps

    def call(self, inputs):
        x = inputs
        for step in self._steps():
            if step == "transpose":
                x = keras.ops.transpose(x, (0, 2, 1, 3))
            elif step == "up_down":
                x = keras.ops.flip(x, axis=1)
            else:
                x = keras.ops.flip(x, axis=2)
        return x

    def compute_output_shape(self, input_shape):
        if D4[self.transform][0]:
            b, h, w, c = input_shape
            return (b, w, h, c)
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "transform": self.transform,
            "inverse": self.inverse,
        }


MERGES = ("mean",)
ACTIVATIONS = ("softmax", "sigmoid", None)


@keras.saving.register_keras_serializable(package="kerasseg")
class MergeScores(keras.layers.Layer):
    """Averages several predictions of one output as probabilities and
    returns the average as logits of the same kind.

    Each input is turned into probabilities with `activation` (softmax
    over classes, a sigmoid each; with `from_logits=False` the inputs
    already are that activation's probabilities; None: values averaged
    as they are, e.g. images), averaged, and returned as logits whose
    `activation` gives the average back: `log p̄` for a softmax,
    `log(p̄ / (1 - p̄))` for a sigmoid, p̄ itself for None. A head
    activation after it then gives what the model's own head gives
    (logits stay logits, a softmax head gives p̄).

    Args:
        activation: "softmax", "sigmoid" or None.
        from_logits: whether the inputs are logits (else probabilities).
        merge: "mean".
        epsilon: the probabilities are clipped to [ε, 1 − ε] before the
            logarithm (so a certain class gives a finite logit).
        **kwargs: layer arguments (float32: probabilities average in it).

    Example:

    >>> layer = kerasseg.layers.MergeScores("softmax")
    >>> a = np.log(np.array([[0.2, 0.8]], "float32"))
    >>> b = np.log(np.array([[0.6, 0.4]], "float32"))
    >>> logits = np.asarray(layer([a, b]))
    >>> p = np.exp(logits.astype("float64"))
    >>> (p / p.sum()).round(4).tolist()
    [[0.4, 0.6]]
    """

    def __init__(
        self,
        activation,
        from_logits=True,
        merge="mean",
        epsilon=1e-7,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.activation = check.one_of("activation", activation, ACTIVATIONS)
        self.from_logits = bool(from_logits)
        self.merge = check.one_of("merge", merge, MERGES)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        values = [keras.ops.cast(x, "float32") for x in inputs]
        if not self.from_logits:
            pass
        elif self.activation == "softmax":
            values = [keras.ops.softmax(x, axis=-1) for x in values]
        elif self.activation == "sigmoid":
            values = [keras.ops.sigmoid(x) for x in values]
        mean = keras.ops.mean(keras.ops.stack(values, axis=0), axis=0)
        if self.activation is None:
            return mean
        p = keras.ops.clip(mean, self.epsilon, 1.0 - self.epsilon)
        if self.activation == "softmax":
            return keras.ops.log(p)
        return keras.ops.log(p) - keras.ops.log(1.0 - p)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "activation": self.activation,
            "from_logits": self.from_logits,
            "merge": self.merge,
            "epsilon": self.epsilon,
        }
