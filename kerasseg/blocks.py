"""Functional building blocks shared by encoders and decoders.

Each block adds standard Keras layers to the graph it is called in and names
them `{name}_conv1`, `{name}_bn1`, `{name}_relu1`, … so the graph reads well.
"""

import keras

from kerasseg.layers.resize import BilinearUpsample


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


def conv_bn_relu(
    x,
    filters,
    kernel,
    *,
    name,
    conv=keras.layers.Conv2D,
    epsilon=1e-3,
    **options,
):
    """One 'same'-padded convolution without bias → batch norm → ReLU,
    named f"{name}_conv", f"{name}_bn", f"{name}_relu".

    Args:
        conv: the convolution class (e.g. a `kerasseg.layers.atrous`
            layer); `options` go to it (e.g. `dilation_rate`).
        epsilon: the batch norm's epsilon (1e-5 where a layout follows
            PyTorch's).
    """
    x = conv(
        filters,
        kernel,
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
        **options,
    )(x)
    x = keras.layers.BatchNormalization(epsilon=epsilon, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def upsample(x, filters, *, factor, mode, name):
    """Upsamples by an integer `factor` and maps to `filters` channels.

    Args:
        mode: "transpose" for a `factor`×`factor` transposed convolution
            with stride `factor` (the U-Net paper's "up-convolution"),
            "bilinear" for bilinear resizing followed by a 3×3 convolution
            (no checkerboard artefacts), or "nearest" for nearest-neighbour
            repetition alone, which keeps the channels (`filters` unused;
            segmentation_models' U-Net decoders, whose next convolution
            sets the width).
    """
    if mode == "transpose":
        return keras.layers.Conv2DTranspose(
            filters, factor, strides=factor, name=f"{name}_transpose"
        )(x)
    if mode == "nearest":
        return keras.layers.UpSampling2D(
            factor, interpolation="nearest", name=f"{name}_nearest"
        )(x)
    x = BilinearUpsample(factor, name=f"{name}_resize")(x)
    return keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(
        x
    )


def scse(x, *, reduction=16, name):
    """Concurrent spatial and channel squeeze & excitation (Roy et al.).

    `x * channel_gate(x) + x * spatial_gate(x)`: the channel gate comes
    from global average pooling and a bottleneck of `channels //
    reduction` units, the spatial gate from a 1×1 convolution to one
    channel; both sigmoid.

    Reference:
        Roy, Navab and Wachinger, "Concurrent Spatial and Channel 'Squeeze &
        Excitation' in Fully Convolutional Networks", MICCAI 2018.
        https://arxiv.org/abs/1803.02579
    """
    channels = x.shape[-1]
    gate = keras.layers.GlobalAveragePooling2D(
        keepdims=True, name=f"{name}_pool"
    )(x)
    gate = keras.layers.Conv2D(
        max(1, channels // reduction),
        1,
        activation="relu",
        name=f"{name}_squeeze",
    )(gate)
    gate = keras.layers.Conv2D(
        channels, 1, activation="sigmoid", name=f"{name}_excite"
    )(gate)
    spatial = keras.layers.Conv2D(
        1, 1, activation="sigmoid", name=f"{name}_spatial"
    )(x)
    return keras.layers.Add(name=f"{name}_add")(
        [
            keras.layers.Multiply(name=f"{name}_channel_gate")([x, gate]),
            keras.layers.Multiply(name=f"{name}_spatial_gate")([x, spatial]),
        ]
    )
