"""VGG16 (Simonyan and Zisserman, 2015) from keras.applications."""

import keras

from kerasseg.encoders.applications import application_encoder

# The output of each block's max pool: pool3, pool4 and pool5 are the
# taps of FCN (Long et al., 2015).
_TAPS = {level: f"block{level}_pool" for level in range(1, 6)}


def vgg16_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    name="encoder",
):
    """keras.applications.VGG16 without its top, as a kerasseg encoder.

    Takes raw 0–255 RGB pixels ("caffe" preprocessing in the graph, as for
    ResNet50). Features are the outputs of the five max pools.

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained first convolution.
        weights: None, "imagenet", a keras.applications VGG16 `.h5` file
            without top, or a `.weights.h5` file saved from an encoder of
            the same settings.
        output_stride: None (32), 16 or 8; the pools beyond it keep stride
            1 and later convolutions are dilated (DeepLab v1's recipe).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{"P1": 64, "P2": 128, "P3": 256,
        "P4": 512, "P5": 512 channels}`.

    Example:

    >>> encoder = kerasseg.encoders.vgg16_encoder()
    >>> [tuple(v.shape) for v in encoder(np.zeros((1, 64, 64, 3))).values()]
    [(1, 32, 32, 64), (1, 16, 16, 128), (1, 8, 8, 256), (1, 4, 4, 512), \
(1, 2, 2, 512)]

    Reference:
        Simonyan and Zisserman, "Very Deep Convolutional Networks for
        Large-Scale Image Recognition", ICLR 2015.
        https://arxiv.org/abs/1409.1556
    """
    return application_encoder(
        keras.applications.VGG16,
        _TAPS,
        input_shape,
        weights=weights,
        output_stride=output_stride,
        preprocessing="caffe",
        name=name,
    )
