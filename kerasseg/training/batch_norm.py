"""Precise BatchNorm statistics: the population mean and variance of the
training data, recomputed after training.

A BatchNormalization layer normalizes by the statistics of each batch while
training, and at inference by moving averages that forget the past at
rate `1 - momentum` (0.01 per step in Keras). After a few hundred steps
those averages still carry a tenth or more of what the layer held before:
the initial 0 and 1, or, in transfer learning, the statistics of another
dataset (a fashion encoder trained on 0–255 pixels, fine-tuned on
normalized microscopy, kept variances 20× too large and predicted only
background). Recalibration replaces them with the average over training
batches of the batch statistics, the estimate Wu and Johnson ("Rethinking
'Batch' in BatchNorm", 2021) call precise BN. Trainable weights do not
change; frozen BatchNorm layers (`trainable=False`, which always run in
inference mode) keep their statistics.
"""

import keras

from kerasseg._graph import leaf_layers


def batch_norm_layers(model):
    """The model's BatchNormalization layers whose statistics training
    updates (not frozen)."""
    return [
        layer
        for layer in leaf_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
        and layer.trainable
    ]


def recalibrate(model, batches):
    """Sets every trainable BatchNorm layer's moving statistics to their
    average over `batches`.

    Args:
        model: a Keras model.
        batches: an iterable of input batches (arrays, tensors or dicts,
            as the model takes them), or of `(inputs, targets)` pairs
            whose targets are ignored; e.g. `dataset.take(50)`.

    Returns:
        The number of batches used.

    Raises:
        ValueError: if `batches` holds no batch (the statistics are then
            left as they were).
    """
    layers = batch_norm_layers(model)
    momenta = [layer.momentum for layer in layers]
    count = 0
    try:
        for batch in batches:
            inputs = batch[0] if isinstance(batch, tuple) else batch
            # The k-th batch enters the running mean with weight 1 / (k + 1).
            for layer in layers:
                layer.momentum = count / (count + 1)
            model(inputs, training=True)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if not count:
        raise ValueError(
            "BatchNorm recalibration got no batches: pass a non-empty "
            "iterable of input batches."
        )
    return count
