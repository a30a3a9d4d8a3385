"""ConvNeXt Tiny, Small, Base, Large and XLarge (Liu et al., 2022) from
keras.applications."""

import functools

import keras

from kerasseg.encoders.applications import OUTPUT
from kerasseg.encoders.applications import application_encoder
from kerasseg.encoders.applications import family_encoder
from kerasseg.encoders.applications import input_of

# Channels at P2 … P5. ConvNeXt's stem is a 4×4 convolution of stride 4,
# so it has no stride-2 level: the encoder starts at P2, and a U-Net over
# it up-samples its last blocks without a skip (as over a Swin or MiT).
CHANNELS = {
    "tiny": (96, 192, 384, 768),
    "small": (96, 192, 384, 768),
    "base": (128, 256, 512, 1024),
    "large": (192, 384, 768, 1536),
    "xlarge": (256, 512, 1024, 2048),
}


def _taps(size):
    # Each stage's output is the input of the next down-sampling block (a
    # nested LayerNormalization + 2×2 convolution of stride 2); the last
    # is keras.applications' final LayerNormalization.
    prefix = f"convnext_{size}"
    return {
        2: input_of(f"{prefix}_downsampling_block_0"),
        3: input_of(f"{prefix}_downsampling_block_1"),
        4: input_of(f"{prefix}_downsampling_block_2"),
        5: OUTPUT,
    }


def _convnext(size):
    title = size.capitalize() if size != "xlarge" else "XLarge"
    return family_encoder(
        f"convnext{size}_encoder",
        f"""keras.applications.ConvNeXt{title} without its top, as an
    encoder.

    Takes raw 0–255 pixels (ImageNet's "torch" normalization, the
    computation of keras.applications' own in-model layer, in the graph).

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained stem.
        weights: None, "imagenet", a keras.applications ConvNeXt{title}
            `.h5` file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; the last down-sampling
            convolutions keep stride 1 and later depthwise convolutions
            are dilated; the features are the undilated network's on a
            finer grid (exact à trous: at 16 its pixel 2i is the
            original's i, at 8 pixel 4i + 1).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{{"P2": …, "P5": …}}` with
        {", ".join(map(str, CHANNELS[size]))} channels (no P1: the stem
        has stride 4).

    Reference:
        Liu et al., "A ConvNet for the 2020s", CVPR 2022.
        https://arxiv.org/abs/2201.03545
    """,
        functools.partial(
            application_encoder,
            getattr(keras.applications, f"ConvNeXt{title}"),
            _taps(size),
            # keras.applications' Normalization of 0–255 pixels by
            # ImageNet's mean and standard deviation × 255 is "torch";
            # kerasseg's layer also adapts it to 1 or 4+ channels.
            preprocessing="torch",
            include_preprocessing=False,
        ),
        batch_norm=False,
    )


convnexttiny_encoder = _convnext("tiny")
convnextsmall_encoder = _convnext("small")
convnextbase_encoder = _convnext("base")
convnextlarge_encoder = _convnext("large")
convnextxlarge_encoder = _convnext("xlarge")
