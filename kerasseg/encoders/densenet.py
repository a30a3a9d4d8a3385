"""DenseNet121/169/201 (Huang et al., 2017) from keras.applications."""

import functools

import keras

from kerasseg.encoders.applications import application_encoder
from kerasseg.encoders.applications import family_encoder

# The stem's activation (stride 2), then each dense block's output as its
# transition normalizes it before the 1×1 convolution and the pooling
# (strides 4, 8, 16), and the final activation (stride 32): the levels
# segmentation_models.pytorch taps. The names are the same in every
# member; only the blocks' lengths differ.
_TAPS = {
    1: "conv1_relu",
    2: "pool2_relu",
    3: "pool3_relu",
    4: "pool4_relu",
    5: "relu",
}
# Channels at P1 … P5.
CHANNELS = {
    121: (64, 256, 512, 1024, 1024),
    169: (64, 256, 512, 1280, 1664),
    201: (64, 256, 512, 1792, 1920),
}


def _densenet(layers):
    return family_encoder(
        f"densenet{layers}_encoder",
        f"""keras.applications.DenseNet{layers} without its top, as an
    encoder.

    Takes raw 0–255 pixels (ImageNet's "torch" normalization, as
    keras.applications' DenseNet preprocessing, in the graph).

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained first convolution.
        weights: None, "imagenet", a keras.applications DenseNet{layers}
            `.h5` file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; deeper blocks are dilated (the
            transitions' average pooling keeps stride 1).
        batch_norm_momentum: None keeps keras.applications' momentum of
            the BatchNormalization statistics, a number in [0, 1) sets it.
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{{"P1": …, "P5": …}}` with
        {", ".join(map(str, CHANNELS[layers]))} channels.

    Reference:
        Huang et al., "Densely Connected Convolutional Networks", CVPR
        2017. https://arxiv.org/abs/1608.06993
    """,
        functools.partial(
            application_encoder,
            getattr(keras.applications, f"DenseNet{layers}"),
            _TAPS,
            preprocessing="torch",
        ),
    )


densenet121_encoder = _densenet(121)
densenet169_encoder = _densenet(169)
densenet201_encoder = _densenet(201)
