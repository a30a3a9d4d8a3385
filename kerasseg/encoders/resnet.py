"""ResNets (He et al., 2016) as encoders: ResNet50 from keras.applications,
and ResNet18 and ResNet34 (basic blocks, the encoders of the most used
segmentation_models.pytorch U-Nets) written here with keras.layers.
"""

import functools

import keras

from kerasseg.encoders.applications import application_encoder
from kerasseg.encoders.applications import check_weights
from kerasseg.encoders.applications import family_encoder
from kerasseg.encoders.torch_weights import FILES
from kerasseg.encoders.torch_weights import download
from kerasseg.encoders.torch_weights import load_resnet

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


def _deep_taps(blocks):
    """ResNet101/152 taps: the last block of each bottleneck stage."""
    return {
        1: "conv1_relu",
        **{
            stage: f"conv{stage}_block{n}_out"
            for stage, n in zip(range(2, 6), blocks)
        },
    }


def _deep_resnet(application, blocks):
    family = application.__name__
    return family_encoder(
        f"{family.lower()}_encoder",
        f"""keras.applications.{family} without its top,
    as a kerasseg encoder: `resnet50_encoder`'s arguments, preprocessing
    and levels (P1 64 … P5 2048 channels), with stages of
    {"-".join(map(str, blocks))} bottleneck blocks.
    """,
        functools.partial(
            application_encoder,
            application,
            _deep_taps(blocks),
            preprocessing="caffe",
        ),
    )


resnet101_encoder = _deep_resnet(keras.applications.ResNet101, (3, 4, 23, 3))
resnet152_encoder = _deep_resnet(keras.applications.ResNet152, (3, 8, 36, 3))

# === ResNet18 and ResNet34: basic blocks, written with keras.layers ===

# Basic blocks per stage conv2_x … conv5_x, and each stage's width.
_BASIC_BLOCKS = {"ResNet18": (2, 2, 2, 2), "ResNet34": (3, 4, 6, 3)}
_BASIC_WIDTHS = (64, 128, 256, 512)


def _conv_bn(x, filters, kernel, *, strides=1, relu=True, name):
    """Convolution without bias → BatchNormalization (ε 1e-5) [→ ReLU].

    A strided 3×3 or 7×7 convolution pads explicitly, (kernel - 1) / 2 on
    every side as torchvision does, where 'same' would pad only the bottom
    and right of an even-sized input.
    """
    padding = "same"
    if strides > 1 and kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _basic_block(x, filters, *, strides, name):
    """Two 3×3 convolutions and the identity (or a strided 1×1 projection
    where the shape changes), added, then ReLU."""
    shortcut = x
    if strides > 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(
            x, filters, 1, strides=strides, relu=False, name=f"{name}_0"
        )
    y = _conv_bn(x, filters, 3, strides=strides, name=f"{name}_1")
    y = _conv_bn(y, filters, 3, relu=False, name=f"{name}_2")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def _basic_resnet(family, include_top=False, weights=None, input_shape=None):
    """The ResNet18 / ResNet34 body in keras.applications' calling
    convention (so `application_encoder` can build on it), random weights
    only."""
    if include_top or weights is not None:
        raise ValueError(
            f"kerasseg's {family} has no classifier and no bundled weights "
            f"(include_top={include_top!r}, weights={weights!r})."
        )
    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = _conv_bn(inputs, 64, 7, strides=2, name="conv1")
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (blocks, filters) in enumerate(
        zip(_BASIC_BLOCKS[family], _BASIC_WIDTHS), start=2
    ):
        for block in range(1, blocks + 1):
            x = _basic_block(
                x,
                filters,
                strides=2 if block == 1 and stage > 2 else 1,
                name=f"conv{stage}_block{block}",
            )
    return keras.Model(inputs, x, name=family.lower())


def _basic_taps(family):
    blocks = _BASIC_BLOCKS[family]
    return {
        1: "conv1_relu",
        **{
            stage: f"conv{stage}_block{blocks[stage - 2]}_out"
            for stage in range(2, 6)
        },
    }


def _basic_resnet_encoder(
    family, input_shape, *, weights, output_stride, batch_norm_momentum, name
):
    weights = check_weights(weights)
    after_load = None
    if weights is not None and not weights.endswith(".weights.h5"):
        # torchvision's ImageNet file, downloaded or given as a path.
        if weights != "imagenet" and not weights.endswith(".pth"):
            raise ValueError(
                f"`encoder_weights` of {family.lower()} must be None, "
                "'imagenet' (torchvision's weights), a torchvision .pth file "
                f"or a .weights.h5 file saved from a {family.lower()} "
                f"encoder. Received: encoder_weights={weights!r}"
            )
        path = download(family) if weights == "imagenet" else weights

        def after_load(backbone, _):
            load_resnet(backbone, path, family)

        weights = None
    application = functools.partial(_basic_resnet, family)
    application.__name__ = family
    return application_encoder(
        application,
        _basic_taps(family),
        input_shape,
        weights=weights,
        output_stride=output_stride,
        preprocessing="torch",
        name=name,
        after_load=after_load,
        batch_norm_momentum=batch_norm_momentum,
    )


_BASIC_DOC = """{family} (basic blocks {blocks}) as a kerasseg encoder.

    Written with keras.layers in the layout of torchvision's {family}:
    the 7×7 stem, max pooling and four stages of basic blocks, explicit
    symmetric padding on the strided layers, BatchNormalization ε 1e-5. Its
    trainable parameters equal torchvision's {family} without the
    classifier: {params:,}. Raw 0–255 pixels go in; the ImageNet mean and
    standard deviation normalization that torchvision's weights expect is
    the first layer ("torch" style).

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None.
        weights: None (random); "imagenet": torchvision's ImageNet
            weights ({file}, downloaded from download.pytorch.org into
            $KERAS_HOME/models, checked against the sha256 prefix in its
            name, converted without PyTorch); the path of that `.pth`
            file; or a `.weights.h5` file saved from a {name} encoder of
            the same settings.
        output_stride: None (32), 16 or 8; deeper stages are dilated.
        batch_norm_momentum: None (0.99), or a number in [0, 1).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{{"P1": 64, "P2": 64, "P3": 128,
        "P4": 256, "P5": 512 channels}}`.

    Reference:
        He et al., "Deep Residual Learning for Image Recognition", CVPR
        2016. https://arxiv.org/abs/1512.03385
"""


def _basic_resnet_family(family, params):
    return family_encoder(
        f"{family.lower()}_encoder",
        _BASIC_DOC.format(
            family=family,
            blocks="-".join(map(str, _BASIC_BLOCKS[family])),
            params=params,
            name=family.lower(),
            file=FILES[family],
        ),
        functools.partial(_basic_resnet_encoder, family),
    )


resnet18_encoder = _basic_resnet_family("ResNet18", 11_176_512)
resnet34_encoder = _basic_resnet_family("ResNet34", 21_284_672)
