"""Encoders over keras.applications backbones.

One builder, `application_encoder`, turns a keras.applications model
without its top into a kerasseg encoder:

    raw pixels → [ImageNet preprocessing] → backbone → {"P1": …, "P5": …}

It also loads ImageNet weights (through keras.applications' own download
and hash check) or a weights file, adapts the pretrained first convolution
to 1 or 4+ input channels, and can trade the last down-sampling stages for
dilated convolutions (DeepLab's output stride). The family files
(`resnet.py`, `mobilenet_v2.py`, …) only say which layers to tap.
"""

import math
import os
import warnings

import keras
import numpy as np

from kerasseg import _validation as check
from kerasseg._graph import inbound_layers
from kerasseg.encoders.base import key_of
from kerasseg.layers import atrous
from kerasseg.layers.preprocessing import ImageNetPreprocessing

OUTPUT_STRIDES = (None, 8, 16, 32)

_STRIDED = {
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "MaxPooling2D",
    "AveragePooling2D",
}
_CONVS = {"Conv2D", "DepthwiseConv2D", "SeparableConv2D"}


# === Weights argument ===


def check_weights(weights):
    """Accepts None, "imagenet" or the path of an existing weights file."""
    if weights is None or weights == "imagenet":
        return weights
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if os.path.isfile(path):
            return path
        raise FileNotFoundError(
            f"`encoder_weights` names no file: {path!r}. Pass None (random "
            "initialization), 'imagenet', or the path of an existing "
            "weights file."
        )
    raise ValueError(
        "`encoder_weights` must be None, 'imagenet' or the path of a "
        f"weights file. Received: encoder_weights={weights!r}"
    )


# === Output stride: strided layers → dilated layers ===


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * 2


def dilate(config, output_stride):
    """Rewrites a Functional config so no map is coarser than `output_stride`.

    Walks the layers in graph order, tracking each output's stride. A
    layer that would take the stride past `output_stride` keeps stride 1
    instead, and every later convolution gets the dilation that keeps its
    receptive field (Chen et al., DeepLab), as a `kerasseg.layers.atrous`
    layer of the same class name. Kernel shapes do not change, so the
    original weights still fit. A 'valid' strided convolution behind
    its own ZeroPadding2D (MobileNetV2, EfficientNet), and a dilated
    'valid' one behind a padding of half its kernel (ResNetV2), becomes
    'same' with the padding layer set to zero. Nested Sequential blocks
    (ConvNeXt's) are rewritten layer by layer in the same way.

    Args:
        config: `model.get_config()` of a Functional model; changed in
            place.
        output_stride: the largest stride allowed.

    Returns:
        dict of layer name → stride of its output after the rewrite.
    """
    stride, rate = {}, {}
    _dilate_graph(config["layers"], output_stride, stride, rate)
    return stride


def _dilate_graph(entries, output_stride, stride, rate, start=(1, 1)):
    """`dilate` over a list of layer configs: a Functional model's (each
    layer's sources read from its inbound nodes) or a Sequential model's
    (each layer reads the one before it; `start` is the stride and rate of
    its input). Fills `stride` and `rate` by layer name and returns the
    last layer's."""
    # (A Sequential model's entries carry their name in their config only.)
    layers = {layer["config"]["name"]: layer for layer in entries}
    sequential = not any("inbound_nodes" in layer for layer in entries)
    previous = []
    for name, layer in layers.items():
        kind = layer["class_name"]
        sources = (
            previous if sequential else inbound_layers(layer["inbound_nodes"])
        )
        s_in = max((stride[s] for s in sources), default=start[0])
        d_in = max((rate[s] for s in sources), default=start[1])
        if kind == "Sequential":
            # A nested block (ConvNeXt's stem and down-sampling layers):
            # its layers are rewritten in place, in their order.
            stride[name], rate[name] = _dilate_graph(
                layer["config"]["layers"],
                output_stride,
                {},
                {},
                start=(s_in, d_in),
            )
        else:
            stride[name], rate[name] = _dilate_layer(
                layer, sources, layers, s_in, d_in, output_stride
            )
        previous = [name]
    return (stride[previous[0]], rate[previous[0]]) if previous else start


def _dilate_layer(layer, sources, layers, s_in, d_in, output_stride):
    """Rewrites one layer's config for `dilate`; returns the stride and
    dilation rate of its output."""
    kind, cfg = layer["class_name"], layer["config"]
    name = cfg["name"]
    step = _pair(cfg.get("strides", 1))[0] if kind in _STRIDED else 1
    kernel = _pair(cfg.get("kernel_size", 1))[0] if kind in _CONVS else 1
    if step > 1 and s_in * step > output_stride:
        cfg["strides"] = [1, 1]
        if cfg.get("padding") == "valid":
            cfg["padding"] = "same"
            pad = [layers[s] for s in sources]
            if kernel > 1 or kind not in _CONVS:
                for source in pad:
                    if source["class_name"] == "ZeroPadding2D":
                        source["config"]["padding"] = [[0, 0], [0, 0]]
        out = s_in, d_in * step
    else:
        out = s_in * step, d_in
    if kind in _CONVS and kernel > 1 and d_in > 1:
        if cfg.get("padding") == "valid":
            _same_instead_of_padding(name, kernel, sources, layers)
        if cfg.get("padding") != "same":
            raise ValueError(
                f"Cannot dilate layer {name!r}: it uses "
                f"padding={cfg.get('padding')!r} without a stride."
            )
        cfg["dilation_rate"] = [d_in, d_in]
        # The same layer, computed without the taps that only read
        # padding (kerasseg.layers.atrous); same variables and weight
        # file keys.
        layer["module"] = atrous.__name__
        layer["registered_name"] = f"kerasseg>{kind}"
    return out


def _same_instead_of_padding(name, kernel, sources, layers):
    """A stride-1 'valid' convolution behind a ZeroPadding2D of (k - 1) / 2
    on every side (ResNetV2's blocks) is a 'same' convolution: it becomes
    one, with the padding set to zero, so that it can be dilated."""
    half = (kernel - 1) // 2
    pads = [layers[s] for s in sources]
    if (
        len(pads) == 1
        and pads[0]["class_name"] == "ZeroPadding2D"
        and (
            np.broadcast_to(pads[0]["config"]["padding"], (2, 2)) == half
        ).all()
    ):
        pads[0]["config"]["padding"] = [[0, 0], [0, 0]]
        layers[name]["config"]["padding"] = "same"


# === Pretrained weights into a model with other input channels ===


def adapt_channels(values, channels, *, reduce):
    """Maps a weight built for 3 input channels (last axis) to `channels`.

    1 channel: `reduce` ("sum" for a kernel, so a grey image gives the
    response of the same grey RGB image; "mean" for statistics). More than
    3: cycle R, G, B, and for a kernel scale by 3/channels so the response
    keeps its size (as segmentation_models.pytorch does).
    """
    values = np.moveaxis(np.asarray(values), -1, 0)
    if channels == 1:
        out = values.sum(0, keepdims=True)
        if reduce == "mean":
            out = out / values.shape[0]
    else:
        out = values[[i % values.shape[0] for i in range(channels)]]
        if reduce == "sum":
            out = out * (values.shape[0] / channels)
    return np.moveaxis(out, 0, -1)


def _weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


def transfer(source, target):
    """Copies weights layer by layer, adapting input channels where needed."""
    pairs = list(zip(_weighted_layers(source), _weighted_layers(target)))
    if len(pairs) != len(_weighted_layers(target)):
        raise ValueError(
            f"Cannot copy weights from {source.name!r} to {target.name!r}: "
            "they have different numbers of layers with weights."
        )
    for src, dst in pairs:
        for a, b in zip(src.weights, dst.weights):
            value = np.asarray(a)
            if value.shape != tuple(b.shape):
                if value.ndim == 4:  # first convolution: axis 2 is input
                    value = np.swapaxes(value, 2, 3)
                    value = adapt_channels(value, b.shape[2], reduce="sum")
                    value = np.swapaxes(value, 2, 3)
                elif value.ndim == 1:  # per-channel input statistics
                    value = adapt_channels(value, b.shape[0], reduce="mean")
                if value.shape != tuple(b.shape):
                    raise ValueError(
                        f"Cannot copy {a.path} {tuple(a.shape)} into "
                        f"{b.path} {tuple(b.shape)}."
                    )
            b.assign(value)
        # Layers that cache their state as constants (Normalization) must
        # see the new values.
        if hasattr(dst, "finalize_state"):
            dst.finalize_state()


def _download_error(family, error):
    return RuntimeError(
        f"Could not get the ImageNet weights of {family} through "
        f"keras.applications: {error} keras.applications downloads them "
        "into $KERAS_HOME/models (default ~/.keras/models) and checks "
        "their hash. Without internet, copy the "
        "file there from another machine, or pass encoder_weights='path/to/"
        "weights.h5' (a keras.applications file, or a .weights.h5 file "
        "saved from a kerasseg encoder)."
    )


# === Where the levels are tapped ===

# A tap is a layer name (its output is the level), `input_of(name)` (the
# one input of that layer: the stage output that feeds the next stage's
# first, strided block, where the stage's own last layer has an automatic
# name such as "activation_17") or OUTPUT (the backbone's output).
OUTPUT = None


def input_of(name):
    """A tap at the input of layer `name` (see `application_encoder`)."""
    return ("input of", name)


def _tap_name(config, tap):
    """The name of the layer whose output a tap reads, from a Functional
    config."""
    if tap is OUTPUT:
        outputs = config["output_layers"]  # [name, 0, 0] for one output
        if len(outputs) != 3 or not isinstance(outputs[0], str):
            raise ValueError(f"The backbone has several outputs: {outputs}")
        return outputs[0]
    if isinstance(tap, tuple):
        _, target = tap
        (layer,) = [x for x in config["layers"] if x["name"] == target]
        (source,) = inbound_layers(layer["inbound_nodes"])
        return source
    return tap


# === The builder ===


def application_encoder(
    application,
    taps,
    input_shape,
    *,
    weights,
    output_stride,
    preprocessing,
    name,
    after_load=None,
    batch_norm_momentum=None,
    **application_kwargs,
):
    """Builds a kerasseg encoder over a keras.applications function.

    Args:
        application: e.g. `keras.applications.ResNet50`.
        taps: dict of level n → the stage output at stride `2**n`
            (before any dilation): the name of the layer that computes
            it, `input_of(name)` for the input of layer `name`, or
            `OUTPUT` for the backbone's output.
        input_shape: `(height, width, channels)`.
        weights: None, "imagenet", a keras.applications weights file (any
            `.h5` that `application(weights=path)` accepts) or a
            `.weights.h5` file saved from a kerasseg encoder of the same
            configuration.
        output_stride: None, or 8 / 16 / 32: the coarsest stride; stages
            beyond it are dilated and their outputs are keyed by the
            stride they now have (the deepest one wins).
        preprocessing: an `ImageNetPreprocessing` style, or None if the
            application normalizes its input itself.
        name: the encoder's name.
        after_load: optional function `(backbone, source)` run after the
            weights are in place; `source` is None, "imagenet" or "file".
        batch_norm_momentum: None keeps the application's momentum of the
            BatchNormalization moving statistics; a number in [0, 1) sets
            it for every one of them (lower settles faster: keras'
            MobileNetV2 uses 0.999, whose statistics still lean on their
            initial values after a thousand steps from scratch).
        **application_kwargs: further arguments for `application`.

    Returns:
        A `keras.Model` from `(None, None, channels)` raw pixels to the
        feature dict.
    """
    input_shape = check.image_shape(input_shape)
    channels = input_shape[-1]
    check.one_of("output_stride", output_stride, OUTPUT_STRIDES)
    weights = check_weights(weights)
    family = application.__name__
    with warnings.catch_warnings():
        # keras.applications warns about inputs that are not 1 or 3
        # channels; adapting the first convolution is the point here.
        warnings.filterwarnings("ignore", "This model usually expects")
        backbone = application(
            include_top=False,
            weights=None,
            input_shape=(None, None, channels),
            **application_kwargs,
        )
    config = backbone.get_config()
    taps = {level: _tap_name(config, tap) for level, tap in taps.items()}
    strides = dilate(config, output_stride or 32)
    if batch_norm_momentum is not None:
        momentum = check.rate("batch_norm_momentum", batch_norm_momentum)
        if momentum == 1:
            raise ValueError(
                "`batch_norm_momentum` must be in [0, 1): 1 would never "
                f"update the statistics. Received: {batch_norm_momentum}"
            )
        for layer in config["layers"]:
            if layer["class_name"] == "BatchNormalization":
                layer["config"]["momentum"] = momentum
    if output_stride or batch_norm_momentum is not None:
        backbone = keras.Model.from_config(config)

    if weights is None:
        source = None
    elif weights == "imagenet" or not weights.endswith(".weights.h5"):
        try:
            pretrained = application(
                include_top=False,
                weights=weights,
                input_shape=(None, None, 3),
                **application_kwargs,
            )
        except Exception as error:
            if weights == "imagenet":
                raise _download_error(family, error) from error
            raise ValueError(
                f"{family} could not load encoder_weights={weights!r}: {error}"
            ) from error
        transfer(pretrained, backbone)
        source = "imagenet" if weights == "imagenet" else "file"
    else:
        source = "kerasseg"
    if after_load is not None:
        after_load(backbone, source)

    # Operations too: a tap can read an operation's output (the residual
    # `x + y` that ends a ConvNeXt stage is not a layer).
    nodes = {op.name: op for op in backbone.operations}
    features = {}
    for level in sorted(taps):
        layer = taps[level]
        features[key_of(int(math.log2(strides[layer])))] = nodes[layer].output
    body = keras.Model(backbone.inputs, features, name=backbone.name)

    inputs = keras.Input(shape=(None, None, channels), name="image")
    x = inputs
    if preprocessing:
        # float32: 0–255 pixels lose precision in float16.
        x = ImageNetPreprocessing(
            preprocessing, dtype="float32", name="preprocessing"
        )(x)
    encoder = keras.Model(inputs, body(x), name=name)
    if source == "kerasseg":
        try:
            encoder.load_weights(weights)
        except Exception as error:
            raise ValueError(
                f"Could not load encoder_weights={weights!r} into a {family} "
                f"encoder with {channels} input channels and output_stride="
                f"{output_stride}: {error}. A .weights.h5 file must come "
                "from `model.get_layer('encoder').save_weights(...)` of an "
                "encoder with the same settings."
            ) from error
    return encoder


# === A family member as a named encoder function ===


def family_encoder(function_name, doc, build, *, batch_norm=True):
    """An encoder function with the family's public signature
    `(input_shape, *, weights, output_stride, batch_norm_momentum, name)`
    that calls `build` with those arguments; for families whose members
    differ only in what `build` is bound to (ResNet18/34/101/152,
    EfficientNetB1–B7). `batch_norm=False` leaves `batch_norm_momentum`
    out, for families without BatchNormalization (ConvNeXt)."""

    def encoder_without_batch_norm(
        input_shape=(None, None, 3),
        *,
        weights=None,
        output_stride=None,
        name="encoder",
    ):
        return build(
            input_shape, weights=weights, output_stride=output_stride, name=name
        )

    def encoder(
        input_shape=(None, None, 3),
        *,
        weights=None,
        output_stride=None,
        batch_norm_momentum=None,
        name="encoder",
    ):
        return build(
            input_shape,
            weights=weights,
            output_stride=output_stride,
            batch_norm_momentum=batch_norm_momentum,
            name=name,
        )

    if not batch_norm:
        encoder = encoder_without_batch_norm
    encoder.__name__ = encoder.__qualname__ = function_name
    encoder.__doc__ = doc
    return encoder


# === Which stride each layer works at (for unfreezing by level) ===


def layer_strides(model, input_stride=1):
    """Lists `(layer, stride of its output)` for every leaf layer of a model.

    Follows the Functional graph through nested models; the stride grows
    at every strided convolution or pooling layer.
    """
    stride, found = {}, []
    layers = {layer.name: layer for layer in model.layers}
    for layer_config in model.get_config()["layers"]:
        name = layer_config["name"]
        sources = inbound_layers(layer_config["inbound_nodes"])
        s_in = max((stride[s] for s in sources), default=input_stride)
        layer = layers.get(name)
        if layer is None:
            # An operation, not a layer (`x + 3` in MobileNetV3's
            # hard sigmoid): no weights, no stride.
            stride[name] = s_in
        elif isinstance(layer, keras.Sequential):
            for inner in layer.layers:
                s_in *= _pair(getattr(inner, "strides", 1) or 1)[0]
                found.append((inner, s_in))
            stride[name] = s_in
        elif isinstance(layer, keras.Model):
            inner = layer_strides(layer, s_in)
            found.extend(inner)
            stride[name] = max(s for _, s in inner)
        else:
            step = _pair(getattr(layer, "strides", 1) or 1)[0]
            stride[name] = s_in * step
            found.append((layer, stride[name]))
    return found
