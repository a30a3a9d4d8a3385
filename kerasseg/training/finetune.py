"""Two-stage fine-tuning: train the new layers first, then the encoder."""

import keras

from kerasseg.encoders.applications import layer_strides
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.training.transfer import encoder_of


def freeze_encoder(model):
    """Freezes the encoder of a kerasseg model, BatchNorm statistics included.

    A frozen BatchNormalization layer runs in inference mode, so its moving
    mean and variance stay as they are even during `fit`. Compile the model
    (again) after freezing: Keras reads `trainable` when it compiles.

    Args:
        model: a model with a nested layer named "encoder".

    Returns:
        `model`.

    Example:

    >>> model = kerasseg.build("unet_tiny", num_classes=2)
    >>> model = kerasseg.freeze_encoder(model)
    >>> model.get_layer("encoder").trainable_weights
    []
    """
    encoder_of(model, "model").trainable = False
    return model


def unfreeze_encoder(model, from_level=None, *, batch_norm=False):
    """Makes the encoder (or its deeper levels) trainable again.

    Args:
        model: a model with a nested layer named "encoder".
        from_level: None to unfreeze the whole encoder, or a level key of
            the encoder's output such as "P4": only layers whose output has
            that stride or a coarser one (the stages that compute "P4" and
            deeper) become trainable; shallower layers stay frozen.
        batch_norm: False (default) keeps every BatchNormalization layer
            frozen, in inference mode with its statistics fixed, as the
            Keras fine-tuning guide recommends: small fine-tuning batches
            would otherwise overwrite the pretrained statistics. True
            unfreezes them with the rest.

    Returns:
        `model`. Compile it (again) before training.

    Raises:
        ValueError: if `from_level` is not one of the encoder's levels.

    Example:

    >>> model = kerasseg.build("unet_tiny", num_classes=2)
    >>> model = kerasseg.freeze_encoder(model)
    >>> model = kerasseg.unfreeze_encoder(model, from_level="P3")
    >>> sorted(w.path for w in model.get_layer("encoder").trainable_weights)
    ['block3_conv1/kernel', 'block3_conv2/kernel']
    """
    encoder = encoder_of(model, "model")
    minimum = 1
    if from_level is not None:
        levels = levels_deepest_first(encoder.output)
        if from_level not in levels:
            raise ValueError(
                f"`from_level` must be one of the encoder's levels "
                f"{sorted(levels, key=stride_of)}. "
                f"Received: from_level={from_level!r}"
            )
        minimum = stride_of(from_level)
    encoder.trainable = True
    for layer, stride in layer_strides(encoder):
        if stride < minimum or (
            not batch_norm
            and isinstance(layer, keras.layers.BatchNormalization)
        ):
            layer.trainable = False
    return model
