"""What each model output is, and how it becomes an answer: the one
description that prediction, tiling and the export signatures share.

Every kerasseg head ends in a `kerasseg.layers.HeadOutput`: an activation
("linear" for logits, "softmax", "sigmoid", …) that records what the output
means ("segmentation", "labels", "reconstruction" or "distance"), possibly
followed by layers that only crop or rename (`CropToReference`,
`Identity`).
`describe` reads it there: which outputs are class scores, whether a
softmax or a sigmoid turns them into probabilities, whether they are
several independent labels, and which are images. Models saved before the
heads carried their meaning (kerasseg 0.1) are read the old way: the
output's rank, and the "reconstruction" prefix of an autoencoder head.

Backend-neutral (`keras.ops`): the same functions run on numpy arrays in
`kerasseg.training.predict` and inside the SavedModel's TensorFlow graph.
"""

import dataclasses

import keras

from kerasseg._graph import inbound_layers
from kerasseg.layers.output import MEANINGS
from kerasseg.layers.output import HeadOutput
from kerasseg.layers.padding import CropToReference

KINDS = MEANINGS

# Per-pixel outputs answered as the values they are, not class scores: an
# image, a distance map. Prediction, TTA and the export read them so.
VALUE_KINDS = ("reconstruction", "distance")
ACTIVATIONS = ("auto", "softmax", "sigmoid", None)

# Layers that pass their first input through without changing the values.
_PASS_THROUGH = (CropToReference, keras.layers.Identity)


@dataclasses.dataclass(frozen=True)
class Output:
    """One model output.

    Attributes:
        key: the key in a dict-output model, else None.
        kind: "segmentation" (rank 4 class scores), "labels" (rank 2
            image-level scores), "reconstruction" (an image) or
            "distance" (a distance-to-boundary map in [0, 1]).
        activation: what turns the output into probabilities: "softmax",
            "sigmoid", or None when it already is probabilities (or is a
            reconstruction).
        multilabel: True when the probabilities are independent sigmoids
            over several channels (one 0/1 answer per label).
        head: the activation the head ends in ("linear" for logits,
            "softmax", "sigmoid"), None where it is not known.
    """

    key: str | None
    kind: str
    activation: str | None
    multilabel: bool = False
    head: str | None = None

    def name(self, field):
        """The serving output name: `field`, or `<key>_<field>` (just the
        key when it already is `field`, as for "reconstruction")."""
        if self.key is None or self.key == field:
            return field
        return f"{self.key}_{field}"


def _inputs_of(layer_config):
    """Names of the layers a Functional config's layer reads from."""
    return inbound_layers(layer_config["inbound_nodes"])


def _heads(model):
    """`[(key, output tensor, its head layer or None)]` in output order.

    Walks the model's (public) Functional config back from each output
    layer through crops and renames to the layer that computed the values.
    """
    config = model.get_config()
    by_name = {layer["name"]: layer for layer in config["layers"]}
    outputs = config["output_layers"]
    if isinstance(model.output, dict):
        items = [(key, model.output[key], outputs[key][0]) for key in outputs]
    else:
        items = [(None, model.output, outputs[0])]
    found = []
    for key, tensor, name in items:
        layer = model.get_layer(name)
        while isinstance(layer, _PASS_THROUGH):
            layer = model.get_layer(_inputs_of(by_name[layer.name])[0])
        found.append((key, tensor, layer))
    return found


def _head_activation(layer):
    if isinstance(layer, keras.layers.Activation):
        return layer.get_config()["activation"]
    return None


def _probabilities_activation(key, layer, channels, requested):
    head = _head_activation(layer)
    if requested != "auto":
        if head in ("softmax", "sigmoid") and requested is not None:
            raise ValueError(
                f"Output {key or 'of the model'} already ends in {head!r}; "
                f"applying activation={requested!r} again would distort "
                "the probabilities. Pass activation='auto' or None."
            )
        return requested
    if head in ("softmax", "sigmoid"):
        return None
    if head == "linear":
        return "sigmoid" if channels == 1 else "softmax"
    raise ValueError(
        f"Cannot tell how output {key or 'of the model'} becomes "
        f"probabilities: its last layer is "
        f"{'not an Activation' if head is None else repr(head)}. Pass "
        "activation='softmax' (one class per pixel), 'sigmoid' (binary or "
        "multi-label) or None (the output already is probabilities)."
    )


def _kind(key, tensor, layer):
    rank = len(tensor.shape)
    if rank not in (2, 4):
        raise ValueError(
            f"Output {key or 'of the model'} has shape {tensor.shape}; "
            "kerasseg reads (batch, height, width, channels) maps and "
            "(batch, labels) image-level scores."
        )
    if isinstance(layer, HeadOutput):
        return layer.meaning
    # A model saved before heads carried their meaning (kerasseg 0.1).
    if layer is not None and layer.name.startswith("reconstruction"):
        return "reconstruction"
    return "segmentation" if rank == 4 else "labels"


def describe(model, activation="auto"):
    """Reads the kind and activation of each of the model's outputs.

    Args:
        model: a Functional `keras.Model` (one tensor or a dict of tensors).
        activation: "auto" (read it from the head: logits get a softmax,
            or a sigmoid for one channel; a head that already ends in
            softmax or sigmoid gets nothing), or "softmax", "sigmoid", None
            for every class-score output.

    Returns:
        A list of `Output`s in the model's output order.

    Example:

    >>> model = kerasseg.build("multitask_unet_tiny", num_classes=3,
    ...                        num_labels=2, label_mode="multilabel")
    >>> for output in kerasseg.outputs.describe(model):
    ...     print(output.key, output.kind, output.activation, output.multilabel)
    mask segmentation softmax False
    label labels sigmoid True
    reconstruction reconstruction None False
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {ACTIVATIONS}. "
            f"Received: activation={activation!r}"
        )
    if isinstance(model.output, (list, tuple)):
        raise ValueError(
            f"Model {model.name!r} has {len(model.output)} outputs in a "
            "list; kerasseg reads single-output models and dict-output "
            "models (whose keys name the outputs)."
        )
    described = []
    for key, tensor, layer in _heads(model):
        kind = _kind(key, tensor, layer)
        head = _head_activation(layer)
        if kind in VALUE_KINDS:
            described.append(Output(key, kind, None, head=head))
            continue
        channels = tensor.shape[-1]
        marked = isinstance(layer, HeadOutput) and layer.multilabel
        if (
            marked
            and activation == "auto"
            and _head_activation(layer) == ("linear")
        ):
            act = "sigmoid"  # logits of independent labels
        else:
            act = _probabilities_activation(key, layer, channels, activation)
        multilabel = channels > 1 and (
            marked or "sigmoid" in (act, _head_activation(layer))
        )
        described.append(Output(key, kind, act, multilabel, head))
    return described


def segmentation_output(model, activation="auto"):
    """The model's one per-pixel class-score output (`describe`'s), for
    prediction and tiling; a clear error if it has none or several."""
    return segmentation_of(model, describe(model, activation))


def segmentation_of(model, described):
    """`segmentation_output` from the model's `describe` list, for callers
    that read other outputs from the same list."""
    maps = [o for o in described if o.kind == "segmentation"]
    if len(maps) != 1:
        kinds = [o.kind for o in described]
        raise ValueError(
            f"Model {model.name!r} has {len(maps)} per-pixel class-score "
            f"outputs (its outputs: {kinds}); prediction writes the masks "
            "of exactly one."
        )
    return maps[0]


def probabilities(output, values):
    """Applies the output's activation (float32, `keras.ops`)."""
    values = keras.ops.cast(values, "float32")
    if output.activation == "softmax":
        return keras.ops.softmax(values, axis=-1)
    if output.activation == "sigmoid":
        return keras.ops.sigmoid(values)
    return values


def class_ids(output, probs, threshold=0.5):
    """Class ids from probabilities, as int32 (`keras.ops`).

    One class per pixel (softmax, or probabilities of several channels):
    the argmax, without the channel axis. Binary (one channel): 1 where the
    probability exceeds `threshold`, without the channel axis. Multi-label
    (sigmoid over several channels): one 0/1 value per label, channel axis
    kept.
    """
    if probs.shape[-1] == 1:
        return keras.ops.cast(probs[..., 0] > threshold, "int32")
    if output.multilabel:
        return keras.ops.cast(probs > threshold, "int32")
    return keras.ops.cast(keras.ops.argmax(probs, axis=-1), "int32")
