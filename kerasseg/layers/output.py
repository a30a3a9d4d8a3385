"""The last layer of every head: its activation and what the output means."""

import keras

from kerasseg import _validation as check

# What a head's output is (kerasseg.outputs reads it):
# "segmentation": class scores per pixel, (batch, height, width, classes);
# "labels": image-level scores, (batch, labels);
# "reconstruction": an image, (batch, height, width, channels);
# "distance": each object's distance to its boundary, normalized to 1 at
# its centre (kerasseg.postprocess.normalized_distance), (batch, height,
# width, 1), for the watershed that cuts a mask into objects.
MEANINGS = ("segmentation", "labels", "reconstruction", "distance")


@keras.saving.register_keras_serializable(package="kerasseg")
class HeadOutput(keras.layers.Activation):
    """A head's output activation, marked with what the output means.

    An `Activation` ("linear" for logits, "softmax", "sigmoid", …) that
    also records `meaning`, one of `MEANINGS`, so prediction, tiling and
    the export signatures read what an output is from the head that made
    it (`kerasseg.outputs.describe`) rather than from layer names.

    Args:
        activation: the activation (None or "linear" for logits or an
            image as it is).
        meaning: one of `MEANINGS`: "segmentation", "labels",
            "reconstruction" or "distance".
        multilabel: the channels are independent labels (a sigmoid each),
            not one class among several (a softmax over them).
        **kwargs: layer arguments (`name`, `dtype`: heads use float32).

    Example:

    >>> layer = kerasseg.layers.HeadOutput("softmax", meaning="segmentation")
    >>> layer.meaning, layer.get_config()["activation"]
    ('segmentation', 'softmax')
    """

    def __init__(
        self,
        activation="linear",
        meaning="segmentation",
        multilabel=False,
        **kwargs,
    ):
        super().__init__(activation or "linear", **kwargs)
        self.meaning = check.one_of("meaning", meaning, MEANINGS)
        self.multilabel = bool(multilabel)

    def get_config(self):
        return {
            **super().get_config(),
            "meaning": self.meaning,
            "multilabel": self.multilabel,
        }
