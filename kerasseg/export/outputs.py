"""What each model output is, and how it becomes a serving answer.

A kerasseg model ends in a head whose last layer is a float32 `Activation`
("linear" for logits, "softmax", "sigmoid", …), possibly followed by layers
that only crop or rename (`CropToReference`, `Identity`). Reading that layer
tells the export whether to apply a softmax or a sigmoid to get
probabilities. Heads named "reconstruction…" (autoencoders, the multi-task
U-Net's reconstruction) give images, not class scores.
"""

import dataclasses

import keras
import tensorflow as tf

from kerasseg.layers import CropToReference

KINDS = ("segmentation", "labels", "reconstruction")
ACTIVATIONS = ("auto", "softmax", "sigmoid", None)

# Layers that pass their first input through without changing the values.
_PASS_THROUGH = (CropToReference, keras.layers.Identity)


@dataclasses.dataclass(frozen=True)
class Output:
    """One model output as the export sees it.

    Attributes:
        key: the key in a dict-output model, else None.
        kind: "segmentation" (rank 4 class scores), "labels" (rank 2
            image-level scores) or "reconstruction" (an image).
        activation: what turns the output into probabilities: "softmax",
            "sigmoid", or None when it already is probabilities (or is a
            reconstruction).
        multilabel: True when the probabilities are independent sigmoids
            over several channels (one 0/1 answer per label).
    """

    key: str | None
    kind: str
    activation: str | None
    multilabel: bool = False

    def name(self, field):
        """The serving output name: `field`, or `<key>_<field>` (just the
        key when it already is `field`, as for "reconstruction")."""
        if self.key is None or self.key == field:
            return field
        return f"{self.key}_{field}"


def _producer(tensor):
    # Keras records, on each symbolic tensor, the layer call that made it.
    operation, node_index, _ = tensor._keras_history
    return operation, operation._inbound_nodes[node_index]


def _last_activation(tensor):
    """The `Activation` layer behind an output, skipping crops and renames."""
    layer, node = _producer(tensor)
    while isinstance(layer, _PASS_THROUGH):
        layer, node = _producer(keras.tree.flatten(node.input_tensors)[0])
    return layer if isinstance(layer, keras.layers.Activation) else None


def _probabilities_activation(key, layer, channels, requested):
    head = None if layer is None else layer.get_config()["activation"]
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
        f"{'not an Activation' if layer is None else repr(head)}. Pass "
        "activation='softmax' (one class per pixel), 'sigmoid' (binary or "
        "multi-label) or None (the output already is probabilities)."
    )


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
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {ACTIVATIONS}. "
            f"Received: activation={activation!r}"
        )
    if isinstance(model.output, dict):
        items = list(model.output.items())
    elif isinstance(model.output, (list, tuple)):
        raise ValueError(
            f"Model {model.name!r} has {len(model.output)} outputs in a "
            "list; kerasseg exports single-output models and dict-output "
            "models (whose keys name the serving outputs)."
        )
    else:
        items = [(None, model.output)]
    described = []
    for key, tensor in items:
        layer = _last_activation(tensor)
        rank = len(tensor.shape)
        if rank not in (2, 4):
            raise ValueError(
                f"Output {key or 'of the model'} has shape {tensor.shape}; "
                "exports handle (batch, height, width, channels) maps and "
                "(batch, labels) image-level scores."
            )
        if layer is not None and layer.name.startswith("reconstruction"):
            described.append(Output(key, "reconstruction", None))
            continue
        kind = "segmentation" if rank == 4 else "labels"
        channels = tensor.shape[-1]
        act = _probabilities_activation(key, layer, channels, activation)
        head = None if layer is None else layer.get_config()["activation"]
        multilabel = channels > 1 and "sigmoid" in (act, head)
        described.append(Output(key, kind, act, multilabel))
    return described


def probabilities(output, values):
    """Applies the output's activation (TensorFlow, float32)."""
    if output.activation == "softmax":
        return tf.nn.softmax(values, axis=-1)
    if output.activation == "sigmoid":
        return tf.sigmoid(values)
    return values


def class_ids(output, probs, threshold):
    """Class ids from probabilities, as int32.

    One class per pixel (softmax, or probabilities of several channels):
    the argmax, without the channel axis. Binary (one channel): 1 where the
    probability exceeds `threshold`, without the channel axis. Multi-label
    (sigmoid over several channels): one 0/1 value per label, channel axis
    kept.
    """
    if probs.shape[-1] == 1:
        return tf.cast(probs[..., 0] > threshold, tf.int32)
    if output.multilabel:
        return tf.cast(probs > threshold, tf.int32)
    return tf.argmax(probs, axis=-1, output_type=tf.int32)
