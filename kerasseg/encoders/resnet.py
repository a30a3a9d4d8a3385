"""ResNet50 (He et al., 2016) from keras.applications as an encoder."""

import keras

from kerasseg.encoders.applications import application_encoder

# Stage outputs: the stem's activation at stride 2, then conv2_x … conv5_x.
_TAPS = {
    1: "conv1_relu",
    2: "conv2_block3_out",
    3: "conv3_block4_out",
    4: "conv4_block6_out",
    5: "conv5_block3_out",
}


def resnet50_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    batch_norm_momentum=None,
    name="encoder",
):
    """keras.applications.ResNet50 without its top, as a kerasseg encoder.

    Takes raw 0–255 RGB pixels: the "caffe" preprocessing the ImageNet
    weights expect (RGB → BGR, ImageNet mean subtracted) is the encoder's
    first layer.

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. With "imagenet" weights and 1 or 4+ channels, the first
            convolution's pretrained kernel is adapted (summed over RGB for
            one channel, RGB cycled and rescaled for more).
        weights: None (random), "imagenet" (keras.applications' download
            with its hash check), the path of a keras.applications ResNet50
            `.h5` file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; deeper stages are dilated.
        batch_norm_momentum: None keeps keras.applications' momentum of
            the BatchNormalization statistics, a number in [0, 1) sets it
            (see `kerasseg.encoders.applications.application_encoder`).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{"P1": 64, "P2": 256, "P3": 512,
        "P4": 1024, "P5": 2048 channels}` (keys follow the actual stride
        when `output_stride` is set).

    Example:

    >>> encoder = kerasseg.encoders.resnet50_encoder(output_stride=16)
    >>> features = encoder(np.zeros((1, 64, 64, 3)))
    >>> {key: tuple(value.shape) for key, value in features.items()}
    {'P1': (1, 32, 32, 64), 'P2': (1, 16, 16, 256), 'P3': (1, 8, 8, 512), \
'P4': (1, 4, 4, 2048)}

    Reference:
        He et al., "Deep Residual Learning for Image Recognition", CVPR
        2016. https://arxiv.org/abs/1512.03385
    """
    return application_encoder(
        keras.applications.ResNet50,
        _TAPS,
        input_shape,
        weights=weights,
        output_stride=output_stride,
        preprocessing="caffe",
        name=name,
        batch_norm_momentum=batch_norm_momentum,
    )
