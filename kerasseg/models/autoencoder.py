"""Convolutional (denoising) autoencoder."""

import functools

import keras

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.decoders.unet import UPSAMPLING_MODES
from kerasseg.decoders.unet import unet_decoder
from kerasseg.encoders.conv import conv_encoder
from kerasseg.layers.noise import RandomMasking
from kerasseg.models.base import compose
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def conv_autoencoder(
    input_shape=(None, None, 3),
    *,
    depth=4,
    base_filters=64,
    batch_norm=True,
    upsampling="transpose",
    denoising=False,
    noise_stddev=0.1,
    mask_rate=0.0,
    activation=None,
    output_scale=1.0,
    name="conv_autoencoder",
):
    """Convolutional autoencoder that reconstructs its input.

    The encoder is the same `kerasseg.encoders.conv_encoder` that `unet`
    uses (same `depth`, `base_filters`, `batch_norm` and input channels give
    the same weights layout), so a trained autoencoder's encoder can start a
    segmenter: see `kerasseg.copy_encoder_weights`. The decoder mirrors the
    encoder without skip connections, so everything the output needs has to
    pass through the deepest feature map.

    With `denoising=True` the input is corrupted *at training time only*
    (Vincent et al., 2008): Gaussian noise of standard deviation
    `noise_stddev` is added and/or a fraction `mask_rate` of the pixels is
    zeroed. The model is trained to output the clean image
    (`model.fit(images, images)`); at inference it sees the image unchanged.

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None, and any size works (padded and cropped in the graph).
        depth: number of 2× down-sampling stages.
        base_filters: channels of the first level, doubled at each level.
        batch_norm: batch normalization after every 3×3 convolution.
        upsampling: "transpose" or "bilinear" (see `kerasseg.models.unet`).
        denoising: corrupt the input during training.
        noise_stddev: standard deviation of the additive Gaussian noise
            when `denoising` (0 for none).
        mask_rate: fraction of pixels zeroed when `denoising` (0 for none).
        activation: None for a linear output (default), or e.g. "sigmoid"
            for images scaled to [0, 1].
        output_scale: the pixel scale of the images the output is
            multiplied by (e.g. 255 for the 0–255 pixels kerasseg pipelines
            give), so the last convolution trains at unit scale; see
            `kerasseg.heads.reconstruction_head`.
        name: the model's name.

    Returns:
        A Functional `keras.Model` from `(batch, height, width, channels)`
        to a float32 reconstruction of the same shape.

    Raises:
        ValueError: for an argument out of range, or `denoising=True` with
            neither noise nor masking.

    Example:

    >>> model = kerasseg.models.conv_autoencoder(
    ...     (None, None, 1), depth=2, base_filters=4, denoising=True)
    >>> images = np.random.default_rng(0).random((2, 28, 28, 1))
    >>> tuple(model(images).shape)
    (2, 28, 28, 1)

    Reference:
        Vincent et al., "Extracting and Composing Robust Features with
        Denoising Autoencoders", ICML 2008.
    """
    input_shape = check.image_shape(input_shape)
    check.one_of("upsampling", upsampling, UPSAMPLING_MODES)
    noise_stddev = check.non_negative("noise_stddev", noise_stddev)
    mask_rate = check.rate("mask_rate", mask_rate)
    corruption = []
    if denoising:
        if noise_stddev == 0 and mask_rate == 0:
            raise ValueError(
                "denoising=True needs noise_stddev > 0 or mask_rate > 0. "
                f"Received: noise_stddev={noise_stddev}, "
                f"mask_rate={mask_rate}"
            )
        if mask_rate > 0:
            corruption.append(RandomMasking(mask_rate, name="mask_noise"))
        if noise_stddev > 0:
            corruption.append(
                keras.layers.GaussianNoise(noise_stddev, name="gaussian_noise")
            )
    channels = input_shape[-1]
    encoder = conv_encoder(
        (None, None, channels),
        depth=depth,
        base_filters=base_filters,
        batch_norm=batch_norm,
    )
    return compose(
        input_shape,
        encoder=encoder,
        decoder=functools.partial(
            unet_decoder,
            batch_norm=batch_norm,
            upsampling=upsampling,
            skips=False,
        ),
        head=functools.partial(
            heads.reconstruction_head,
            channels=channels,
            activation=activation,
            scale=output_scale,
            # Named like multitask_unet's reconstruction head, so that
            # kerasseg.export can tell a reconstruction from class scores.
            name="reconstruction",
        ),
        name=name,
        corruption=corruption,
    )


conv_autoencoder = with_weights(conv_autoencoder)

# === Registered configurations ===
register_model(
    "conv_autoencoder",
    conv_autoencoder,
    task="reconstruction",
    description="Convolutional autoencoder with the U-Net encoder "
    "(64 base filters, depth 4).",
)
register_model(
    "conv_autoencoder_tiny",
    conv_autoencoder,
    task="reconstruction",
    description="A tiny denoising autoencoder for tests (base 4, depth 3).",
    depth=3,
    base_filters=4,
    denoising=True,
    mask_rate=0.1,
)

__all__ = ["conv_autoencoder"]
