"""A segmenter with image-level and reconstruction outputs."""

import functools

import keras

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.decoders.unet import UPSAMPLING_MODES
from kerasseg.decoders.unet import unet_decoder
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.layers.normalization import normalization_for
from kerasseg.models.base import build_encoder
from kerasseg.models.base import encode
from kerasseg.models.base import to_input_size
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def multitask_unet(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    num_labels,
    reconstruction=False,
    distance=False,
    encoder="conv",
    encoder_weights=None,
    encoder_options=None,
    batch_norm=True,
    upsampling="bilinear",
    label_dropout=0.0,
    label_mode="multiclass",
    activation=None,
    label_activation=None,
    input_normalization=None,
    name="multitask_unet",
):
    """One encoder, several outputs: a mask, image labels, a reconstruction,
    a distance map.

    Outputs, by name:

    - "mask": segmentation logits `(batch, height, width, num_classes)`
      from a U-Net decoder;
    - "label": image-level logits `(batch, num_labels)` from global average
      pooling of the deepest encoder level (for a single-label class use a
      softmax loss, for the presence of several labels a sigmoid one);
    - "reconstruction" (if `reconstruction=True`): the input image, from a
      second U-Net decoder without skip connections (so it cannot copy the
      input through), as an auxiliary self-supervised task;
    - "distance" (if `distance=True`): `(batch, height, width, 1)` in
      [0, 1], a sigmoid head on the mask decoder's features that learns
      each object's distance to its boundary, normalized to 1 at its
      centre (`kerasseg.postprocess.normalized_distance` of instance
      labels). Touching objects meet at a valley of it, so the watershed
      of `kerasseg.postprocess.instances(..., distance=...)` splits them
      where the mask alone shows one blob; `kerasseg predict --instances
      watershed` and `kerasseg evaluate` use it when the model has it.

    Train with plain Keras: `compile(loss={"mask": …, "label": …},
    loss_weights={"mask": 1.0, "label": 0.2})` and targets given as a dict
    with the same keys.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: channels of "mask".
        num_labels: units of "label".
        reconstruction: add the "reconstruction" output.
        distance: add the "distance" output.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS`.
        encoder_weights: None, "imagenet" or a weights file.
        encoder_options: dict of further encoder arguments (for "conv":
            `depth`, default 4, `base_filters`, default 64, …).
        batch_norm: batch norm in the decoders.
        upsampling: "bilinear" or "transpose" in the decoders.
        label_dropout: dropout rate before the label layer.
        label_mode: "multiclass" (the label is one of `num_labels`
            classes: softmax) or "multilabel" (each unit a label of its
            own: sigmoid, e.g. which classes an image holds, as `kerasseg
            train` teaches it). Recorded on the output, so the export's
            probabilities follow it.
        activation: activation of "mask" (None: logits).
        label_activation: activation of "label" (None: logits).
        input_normalization: None, "percentile" or a dict of
            `kerasseg.layers.PercentileNormalization` arguments, as for
            `kerasseg.models.unet` (each image normalized by its own
            percentiles inside the graph; "conv" encoder only). The
            "reconstruction" output still answers raw pixels.
        name: the model's name.

    Returns:
        A Functional `keras.Model` whose output is a dict of float32
        tensors keyed "mask", "label" and optionally "reconstruction" and
        "distance".

    Example:

    >>> model = kerasseg.models.multitask_unet(
    ...     num_classes=3, num_labels=5, reconstruction=True,
    ...     encoder_options={"depth": 2, "base_filters": 4})
    >>> outputs = model(np.zeros((2, 32, 32, 3)))
    >>> {key: tuple(value.shape) for key, value in sorted(outputs.items())}
    {'label': (2, 5), 'mask': (2, 32, 32, 3), 'reconstruction': (2, 32, 32, 3)}
    """
    input_shape = check.image_shape(input_shape)
    num_classes = check.positive_int("num_classes", num_classes)
    num_labels = check.positive_int("num_labels", num_labels)
    check.one_of("upsampling", upsampling, UPSAMPLING_MODES)
    check.rate("label_dropout", label_dropout)
    check.one_of("label_mode", label_mode, ("multiclass", "multilabel"))
    check.activation(activation, num_classes)
    check.activation(label_activation, num_labels, name="label_activation")
    if input_normalization is not None and encoder != "conv":
        raise ValueError(
            "`input_normalization` is for the 'conv' encoder; the "
            f"{encoder!r} encoder normalizes raw 0–255 pixels itself. "
            f"Received: input_normalization={input_normalization!r}"
        )
    encoded = encode(
        input_shape,
        build_encoder(
            encoder,
            input_shape,
            weights=encoder_weights,
            options=encoder_options,
        ),
        normalization=normalization_for(input_normalization),
    )
    features = encoded.features
    keys = levels_deepest_first(features)
    stride = stride_of(keys[-1])
    decoder = functools.partial(
        unet_decoder, batch_norm=batch_norm, upsampling=upsampling
    )
    decoded = decoder(features, name="decoder")
    outputs = {
        "mask": to_input_size(
            decoded,
            encoded,
            stride=stride,
            head=functools.partial(
                heads.segmentation_head,
                num_classes=num_classes,
                activation=activation,
                name="mask",
            ),
        ),
        "label": heads.classification_head(
            features[keys[0]],
            num_labels,
            activation=label_activation,
            dropout=label_dropout,
            multilabel=label_mode == "multilabel",
            name="label",
        ),
    }
    if distance:
        outputs["distance"] = to_input_size(
            decoded,
            encoded,
            stride=stride,
            head=functools.partial(heads.distance_head, name="distance"),
            prefix="distance_",
        )
    if reconstruction:
        outputs["reconstruction"] = to_input_size(
            decoder(features, skips=False, name="reconstruction_decoder"),
            encoded,
            stride=stride,
            head=functools.partial(
                heads.reconstruction_head,
                channels=input_shape[-1],
                name="reconstruction",
            ),
            prefix="reconstruction_",
        )
    # Name each output's last layer after its key, so Keras reports the
    # losses and metrics as "mask_loss", "label_loss", ….
    outputs = {
        key: keras.layers.Identity(name=key, dtype="float32")(value)
        for key, value in outputs.items()
    }
    return keras.Model(encoded.inputs, outputs, name=name)


multitask_unet = with_weights(multitask_unet)

# === Registered configurations ===

register_model(
    "multitask_unet",
    multitask_unet,
    task="multitask",
    description="U-Net (depth 4, 64 base filters) with a 'mask' output and "
    "an image-level 'label' output.",
)
register_model(
    "multitask_unet_tiny",
    multitask_unet,
    task="multitask",
    description="A tiny multi-task U-Net for tests (depth 3, 4 base "
    "filters; mask, label and reconstruction outputs).",
    encoder_options={"depth": 3, "base_filters": 4},
    reconstruction=True,
)

__all__ = ["multitask_unet"]
