"""Functional building blocks shared by encoders and decoders.

Each block adds standard Keras layers to the graph it is called in and names
them `{name}_conv1`, `{name}_bn1`, `{name}_relu1`, … so the graph reads well.
"""

import keras


def conv_block(x, filters, *, batch_norm, name, convs=2):
    """`convs` × (3×3 convolution → optional batch norm → ReLU).

    With batch norm the convolutions have no bias: the norm's offset does
    that job.
    """
    for i in range(1, convs + 1):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=not batch_norm,
            name=f"{name}_conv{i}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def upsample(x, filters, *, factor, mode, name):
    """Upsamples by an integer `factor` and maps to `filters` channels.

    Args:
        mode: "transpose" for a `factor`×`factor` transposed convolution
            with stride `factor` (the U-Net paper's "up-convolution"), or
            "bilinear" for bilinear resizing followed by a 3×3 convolution
            (no checkerboard artefacts).
    """
    if mode == "transpose":
        return keras.layers.Conv2DTranspose(
            filters, factor, strides=factor, name=f"{name}_transpose"
        )(x)
    x = keras.layers.UpSampling2D(
        factor, interpolation="bilinear", name=f"{name}_resize"
    )(x)
    return keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(
        x
    )
