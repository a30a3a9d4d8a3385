"""The input normalization that ImageNet-pretrained encoders expect.

Keeping it in the graph means a model takes raw 0–255 pixels, in training,
in `predict` and after export, and nobody has to remember which of the
keras.applications `preprocess_input` functions goes with which encoder.
"""

import keras
import numpy as np

from kerasseg._validation import one_of

STYLES = ("caffe", "tf", "torch")

# Per-channel means of ImageNet in BGR order, as keras.applications'
# "caffe" preprocessing subtracts them (ResNet50, VGG16).
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# Per-channel mean and standard deviation of ImageNet in RGB order on a
# [0, 1] scale, as torchvision's weights (and keras' "torch" mode) expect.
_TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
_TORCH_RGB_STD = (0.229, 0.224, 0.225)


def _constants(style, channels):
    """(channel order, scale, offset) for `channels` input channels."""
    order = list(range(channels))
    if style == "tf":
        # MobileNetV2: [0, 255] → [-1, 1].
        return order, [1 / 127.5] * channels, [-1.0] * channels
    if style == "torch":
        # (x / 255 - mean) / std per channel; a grey image stands for
        # R = G = B (the means of the three), more than three cycle R, G, B.
        if channels == 1:
            mean, std = [np.mean(_TORCH_RGB_MEAN)], [np.mean(_TORCH_RGB_STD)]
        else:
            mean = [_TORCH_RGB_MEAN[i % 3] for i in range(channels)]
            std = [_TORCH_RGB_STD[i % 3] for i in range(channels)]
        scale = [1 / (255 * s) for s in std]
        return order, scale, [-m / s for m, s in zip(mean, std)]
    if channels == 1:
        # A grey image stands for R = G = B: subtract the mean of the means.
        return order, [1.0], [-float(np.mean(_CAFFE_BGR_MEAN))]
    if channels >= 3:
        # RGB → BGR for the first three; extra channels keep their place
        # and, like the first convolution's adapted kernel, cycle B, G, R.
        order[:3] = [2, 1, 0]
    offset = [-_CAFFE_BGR_MEAN[i % 3] for i in range(channels)]
    return order, [1.0] * channels, offset


@keras.saving.register_keras_serializable(package="kerasseg")
class ImageNetPreprocessing(keras.layers.Layer):
    """Maps raw 0–255 pixels to what an ImageNet-trained encoder expects.

    Args:
        style: "caffe" (RGB → BGR, subtract the ImageNet mean per channel;
            ResNet50 and VGG16 in keras.applications), "tf" (scale to
            [-1, 1]; MobileNetV2) or "torch" (to [0, 1], then subtract the
            ImageNet mean and divide by its standard deviation per RGB
            channel; torchvision's weights, kerasseg's ResNet18/34).
        **kwargs: standard layer arguments (`name`, `dtype`, …).

    With one input channel, "caffe" subtracts the mean of the three means;
    with more than three, the fourth and later channels cycle through the
    B, G, R means, matching how `kerasseg.encoders` adapts the pretrained
    first convolution to such inputs.

    Example:

    >>> layer = kerasseg.layers.ImageNetPreprocessing("tf")
    >>> layer(np.array([[[[0.0, 127.5, 255.0]]]])).numpy().tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, style, **kwargs):
        super().__init__(**kwargs)
        self.style = one_of("style", style, STYLES)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "ImageNetPreprocessing needs a known number of channels. "
                f"Received: input_shape={input_shape}"
            )
        order, scale, offset = _constants(self.style, channels)
        self._order = None if order == sorted(order) else order
        self._scale = np.asarray(scale, "float32")
        self._offset = np.asarray(offset, "float32")

    def call(self, inputs):
        x = inputs
        if self._order is not None:
            x = keras.ops.take(x, self._order, axis=-1)
        scale = keras.ops.cast(self._scale, x.dtype)
        offset = keras.ops.cast(self._offset, x.dtype)
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "style": self.style}
