"""Moving encoder weights between models (e.g. autoencoder pretraining)."""

import keras


def _leaves(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaves(layer)
        else:
            yield layer


def encoder_of(model, role):
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`{role}` must be a keras.Model built by kerasseg. "
            f"Received: {type(model).__name__}"
        )
    try:
        return model.get_layer("encoder")
    except ValueError:
        raise ValueError(
            f"`{role}` model {model.name!r} has no nested layer named "
            "'encoder'; kerasseg builders always create one."
        ) from None


def copy_encoder_weights(source, target):
    """Copies the encoder weights of `source` into the encoder of `target`.

    Both models must have encoders of the same architecture: the same
    variables, in the same order, with the same shapes. All encoder
    variables are copied, BatchNorm moving statistics included. This is the
    second step of autoencoder pretraining: train a
    `kerasseg.models.conv_autoencoder` on unlabelled images, then start a
    `kerasseg.models.unet` with the same `depth`, `base_filters`,
    `batch_norm` and input channels from its encoder.

    Args:
        source: a model with a nested layer named "encoder".
        target: a model with a nested layer named "encoder"; changed in
            place.

    Returns:
        `target`.

    Raises:
        ValueError: if either model has no encoder, or the encoders differ;
            the message names the first variable that differs.

    Example:

    >>> kwargs = dict(input_shape=(None, None, 1), depth=2, base_filters=4)
    >>> autoencoder = kerasseg.models.conv_autoencoder(**kwargs)
    >>> segmenter = kerasseg.models.unet(num_classes=2, **kwargs)
    >>> segmenter = kerasseg.copy_encoder_weights(autoencoder, segmenter)
    """
    src = encoder_of(source, "source")
    dst = encoder_of(target, "target")
    if len(src.weights) != len(dst.weights):
        raise ValueError(
            f"The encoders differ: {source.name!r} has {len(src.weights)} "
            f"encoder variables, {target.name!r} has {len(dst.weights)}. "
            "Build both with the same encoder settings and input channels."
        )
    for a, b in zip(src.weights, dst.weights):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(
                f"The encoders differ: {source.name!r} has {a.path} of shape "
                f"{tuple(a.shape)} where {target.name!r} has {b.path} of "
                f"shape {tuple(b.shape)}. Build both with the same encoder "
                "settings and input channels."
            )
    for a, b in zip(src.weights, dst.weights):
        b.assign(a)
    for layer in _leaves(dst):
        # Layers that cache their state as constants (Normalization).
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
    return target
