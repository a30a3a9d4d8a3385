"""ResNet50V2/101V2/152V2 (He et al., 2016, pre-activation) from
keras.applications."""

import functools

import keras

from kerasseg.encoders.applications import application_encoder
from kerasseg.encoders.applications import family_encoder

# Bottleneck blocks per stage. keras.applications' V2 puts each stage's
# stride in its *last* block, so the block before it is the last at the
# stage's input stride.
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _taps(layers):
    """P1 the stem convolution (stride 2; V2 normalizes inside the
    blocks), P2–P4 the last block output at strides 4, 8 and 16, P5 the
    final normalization and activation."""
    two, three, four, _ = BLOCKS[layers]
    return {
        1: "conv1_conv",
        2: f"conv2_block{two - 1}_out",
        3: f"conv3_block{three - 1}_out",
        4: f"conv4_block{four - 1}_out",
        5: "post_relu",
    }


def _resnet_v2(layers):
    return family_encoder(
        f"resnet{layers}v2_encoder",
        f"""keras.applications.ResNet{layers}V2 without its top, as an
    encoder.

    Takes raw 0–255 pixels (scaled to [-1, 1] in the graph, as
    keras.applications' ResNetV2 preprocessing).

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained first convolution.
        weights: None, "imagenet", a keras.applications ResNet{layers}V2
            `.h5` file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; deeper stages are dilated.
        batch_norm_momentum: None keeps keras.applications' momentum of
            the BatchNormalization statistics, a number in [0, 1) sets it.
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{{"P1": …, "P5": …}}` with 64,
        256, 512, 1024 and 2048 channels.

    Reference:
        He et al., "Identity Mappings in Deep Residual Networks", ECCV
        2016. https://arxiv.org/abs/1603.05027
    """,
        functools.partial(
            application_encoder,
            getattr(keras.applications, f"ResNet{layers}V2"),
            _taps(layers),
            preprocessing="tf",
        ),
    )


resnet50v2_encoder = _resnet_v2(50)
resnet101v2_encoder = _resnet_v2(101)
resnet152v2_encoder = _resnet_v2(152)
