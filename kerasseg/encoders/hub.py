"""keras-hub backbones as kerasseg encoders (the optional `kerasseg[hub]`).

keras-hub's image backbones (ResNet, VGG, CSPNet, MobileNet, …) expose
their feature maps as `backbone.pyramid_outputs`, a dict keyed "P1", "P2",
…. The keys are not always strides: MiT's "P1" is at stride 4. So the
adapter measures each map's stride on a probe image and keys it by that
stride, the kerasseg contract ("Pn" is 2**n times smaller than the input):

    raw pixels → [preset's rescaling] → backbone's layers → {"P2": …}

The encoder is a plain Functional model over the backbone's layers (not
the keras-hub `Backbone` class), so a `.keras` file of a model over it
reloads with `safe_mode=True`; where the backbone is made of keras-hub
layers, Keras imports them from keras_hub when the file loads.
"""

import os

import keras
import numpy as np

from kerasseg import _validation as check
from kerasseg.encoders.base import key_of

PREPROCESSING = ("auto", None)
# The probe image's side when the backbone takes any size: a multiple of
# every stride up to 64.
_PROBE = 128


def _keras_hub():
    try:
        import keras_hub
    except ImportError as error:
        raise ImportError(
            "The 'hub' encoder needs keras-hub: pip install 'kerasseg[hub]' "
            "(or pip install keras-hub)."
        ) from error
    return keras_hub


def _backbone(keras_hub, weights, backbone, channels):
    """The keras-hub Backbone from a preset (`weights`) or a config."""
    if (weights is None) == (backbone is None):
        raise ValueError(
            "The 'hub' encoder needs exactly one of `encoder_weights` (a "
            "keras-hub preset: a name such as 'resnet_50_imagenet' or a "
            "preset folder saved with `backbone.save_to_preset(path)`) and "
            "`encoder_options={'backbone': …}` (a keras-hub Backbone config "
            "for random initialization, as `keras.saving."
            "serialize_keras_object(backbone)` writes it). Received: "
            f"encoder_weights={weights!r}, backbone={backbone!r}"
        )
    if weights is not None:
        if not isinstance(weights, (str, os.PathLike)):
            raise ValueError(
                "`encoder_weights` of the 'hub' encoder must be a keras-hub "
                f"preset name or folder. Received: {weights!r}"
            )
        weights = os.fspath(weights)
        try:
            return keras_hub.models.Backbone.from_preset(weights), weights
        except Exception as error:
            raise ValueError(
                f"keras-hub could not load the preset {weights!r}: {error} "
                "A preset is a name from keras-hub's list (downloaded from "
                "Kaggle or Hugging Face into the keras-hub cache, which "
                "needs their credentials and internet) or a local folder "
                "with config.json and model.weights.h5."
            ) from error
    if not isinstance(backbone, dict) or "class_name" not in backbone:
        raise ValueError(
            "`encoder_options['backbone']` must be a keras-hub Backbone "
            "config: a dict with 'class_name' (e.g. 'ResNetBackbone') and "
            f"'config'. Received: {backbone!r}"
        )
    name = backbone["class_name"]
    cls = getattr(keras_hub.models, name, None)
    if cls is None or not issubclass(cls, keras_hub.models.Backbone):
        raise ValueError(
            f"keras-hub has no Backbone class {name!r} "
            "(keras_hub.models.*Backbone)."
        )
    config = dict(backbone.get("config", {}))
    shape = config.get("image_shape")
    config["image_shape"] = (
        (None, None, channels) if shape is None else tuple(shape)
    )
    return cls.from_config(config), None


def _strides(pyramid, shape):
    """The stride of each pyramid output, from a probe image."""
    height, width = (
        (_PROBE, _PROBE) if shape[0] is None or shape[1] is None else shape[:2]
    )
    probe = np.zeros((1, height, width, shape[-1]), "float32")
    outputs = pyramid(probe, training=False)
    strides = {}
    for key, value in outputs.items():
        h, w = value.shape[1:3]
        stride = height // h
        if stride * h != height or stride * w != width or stride & (stride - 1):
            raise ValueError(
                f"The backbone's pyramid output {key!r} is {h}×{w} for a "
                f"{height}×{width} image: not a power-of-two stride, which "
                "kerasseg's decoders need."
            )
        strides[key] = stride
    if len(set(strides.values())) != len(strides):
        raise ValueError(
            "The backbone's pyramid outputs share strides "
            f"({strides}); kerasseg's decoders need one map per stride "
            "(a plain ViT such as DINOv2 needs a neck first)."
        )
    return strides


def _rescaling(keras_hub, preset):
    """The preset's ImageConverter scale and offset as a Rescaling layer."""
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(preset)
    except Exception as error:
        raise ValueError(
            f"The preset {preset!r} has no image converter to read its "
            f"preprocessing from ({error}). Pass encoder_options="
            "{'preprocessing': None} and feed the pixels the backbone "
            "expects."
        ) from error
    scale = 1.0 if converter.scale is None else converter.scale
    offset = 0.0 if converter.offset is None else converter.offset
    return keras.layers.Rescaling(
        scale=np.asarray(scale, "float32").tolist(),
        offset=np.asarray(offset, "float32").tolist(),
        dtype="float32",
        name="preprocessing",
    )


def hub_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    backbone=None,
    preprocessing="auto",
    name="encoder",
):
    """A keras-hub image backbone as a kerasseg encoder.

    Args:
        input_shape: `(height, width, channels)`. The channels must be
            the backbone's; height and width may be None where the
            backbone takes any size (ResNet, VGG, CSPNet, …; MiT does not).
        weights: a keras-hub preset (a name such as "resnet_50_imagenet",
            fetched into keras-hub's cache, or a folder written by
            `backbone.save_to_preset(path)`), or None with `backbone`.
        output_stride: None or 32 only: keras-hub backbones are not
            dilated.
        backbone: a keras-hub Backbone config, `{"class_name":
            "ResNetBackbone", "config": {…}}` (what
            `keras.saving.serialize_keras_object(backbone)` returns), for
            a randomly initialized backbone; `image_shape` defaults to
            `(None, None, channels)`.
        preprocessing: "auto" (with a preset, its `ImageConverter`'s scale
            and offset, and an error where the preset has none; with a
            config, none) or None (the pixels go to the backbone as they
            are). The converter's resizing is not applied: segmentation
            keeps the image's size.
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to the backbone's pyramid outputs,
        keyed by their measured strides.

    Raises:
        ImportError: where keras-hub is not installed.
        ValueError: for a bad argument, a backbone whose pyramid outputs
            are not one map per power-of-two stride, or a preset that
            cannot load; the message says what was received.
    """
    input_shape = check.image_shape(input_shape)
    channels = input_shape[-1]
    check.one_of("preprocessing", preprocessing, PREPROCESSING)
    if output_stride not in (None, 32):
        raise ValueError(
            "The 'hub' encoder cannot dilate a keras-hub backbone: its "
            f"output_stride must be None or 32. Received: output_stride="
            f"{output_stride!r} (DeepLab builders take output_stride=32)."
        )
    keras_hub = _keras_hub()
    model, preset = _backbone(keras_hub, weights, backbone, channels)
    outputs = getattr(model, "pyramid_outputs", None)
    if not outputs:
        raise ValueError(
            f"The keras-hub {type(model).__name__} has no `pyramid_outputs`"
            "; only image backbones that expose them can be encoders."
        )
    shape = tuple(model.inputs[0].shape[1:])
    if shape[-1] != channels:
        raise ValueError(
            f"The keras-hub {type(model).__name__} takes {shape[-1]}-channel "
            f"images; the model's input has {channels}. Pass input_shape "
            f"with {shape[-1]} channels (or a backbone config with "
            f"image_shape (None, None, {channels}))."
        )
    for given, fixed in zip(input_shape[:2], shape[:2]):
        if fixed is not None and given != fixed:
            raise ValueError(
                f"The keras-hub {type(model).__name__} is built for "
                f"{shape[0]}×{shape[1]} images only; the encoder was asked "
                f"for {input_shape[0]}×{input_shape[1]}. Build the model "
                f"with input_shape={shape}."
            )
    image = model.inputs[0]
    pyramid = keras.Model(image, dict(outputs), name=model.name)
    strides = _strides(pyramid, shape)
    body = keras.Model(
        image,
        {
            key_of(int(np.log2(strides[key]))): outputs[key]
            for key in sorted(outputs, key=strides.get)
        },
        name=model.name,
    )
    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    if preset is not None and preprocessing == "auto":
        x = _rescaling(keras_hub, preset)(x)
    return keras.Model(inputs, body(x), name=name)
