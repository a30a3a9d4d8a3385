"""BatchNorm folding for inference graphs.

In inference a BatchNormalization layer is an affine map per channel,
`y = x * s + t` with `s = gamma / sqrt(moving_variance + epsilon)` and
`t = beta - moving_mean * s`. When it reads a convolution's output and
nothing else reads that output, the map can move into the convolution:
its kernel's output channels scaled by `s` and its bias `b * s + t`. The
folded graph computes the same outputs (within float32 rounding) without
the normalization's two full-size elementwise passes (a tenth of
DeepLabV3+ ResNet50's inference time on the CPU, `benchmarks/export.py`),
and lets the backend fuse the bias and activation into the convolution.

`fold_batch_norm(model)` builds that graph as a new Functional model. It
shares every other layer (and variable) with `model`, which it leaves
unchanged; the folded convolutions hold new variables, copied from the
model's at the time of the call. It is what the SavedModel signatures
run (`kerasseg.export.saved_model(..., fold_batch_norm=True)`, the
default); the Keras model users train and save keeps its BatchNorm.
"""

import keras
import numpy as np

# The convolutions a BatchNorm folds into (kerasseg's atrous layers
# subclass them). Transposed convolutions are not among them.
_CONVOLUTIONS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)


def is_functional(layer):
    """Whether `layer` is a Functional model (what folding reads)."""
    return isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth")


def _nodes(model):
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            if node.operation is not None and not node.is_input:
                yield node


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    return None if history is None else history.operation


def _foldable(conv, norm):
    """Whether `norm` (reading `conv`'s output) can fold into `conv`."""
    if not isinstance(conv, _CONVOLUTIONS):
        return False
    if isinstance(conv, keras.layers.Conv2DTranspose):
        return False
    if conv.data_format != "channels_last":
        return False
    if conv.activation not in (None, keras.activations.linear):
        return False
    return norm.axis in (-1, 3)


def _pairs(model, found):
    """Adds to `found` each (convolution, BatchNorm) pair of `model` and
    of the Functional models nested in it, keyed by the layers' ids: a
    BatchNorm whose one input is a convolution's one output, read by
    nothing else, each layer called once in its model."""
    calls, readers = {}, {}
    for node in _nodes(model):
        layer = node.operation
        calls[id(layer)] = calls.get(id(layer), 0) + 1
        for tensor in node.input_tensors:
            source = _producer(tensor)
            if source is not None:
                readers.setdefault(id(source), []).append(layer)
        if is_functional(layer):
            _pairs(layer, found)
    outputs = {id(_producer(t)) for t in keras.tree.flatten(model.outputs)}
    for node in _nodes(model):
        norm = node.operation
        if not isinstance(norm, keras.layers.BatchNormalization):
            continue
        if len(node.input_tensors) != 1 or calls[id(norm)] != 1:
            continue
        conv = _producer(node.input_tensors[0])
        if (
            conv is not None
            and calls.get(id(conv)) == 1
            and readers.get(id(conv)) == [norm]
            and id(conv) not in outputs
            and _foldable(conv, norm)
        ):
            found[id(conv)] = (conv, norm, node.input_tensors[0])
            found[id(norm)] = (conv, norm, None)
    return found


def _float64(variable):
    return keras.ops.convert_to_numpy(variable).astype("float64")


def _scale_shift(norm):
    """The BatchNorm's inference map as (s, t), float64 per channel."""
    scale = 1.0 / np.sqrt(_float64(norm.moving_variance) + norm.epsilon)
    if norm.scale:
        scale = scale * _float64(norm.gamma)
    shift = -_float64(norm.moving_mean) * scale
    if norm.center:
        shift = shift + _float64(norm.beta)
    return scale, shift


def _folded(conv, norm, output):
    """A copy of `conv` with a bias, holding the folded weights."""
    config = conv.get_config()
    config.update(use_bias=True, bias_initializer="zeros")
    config.pop("bias_regularizer", None)
    config.pop("bias_constraint", None)
    layer = conv.__class__.from_config(config)
    # The convolution's input shape, from its output's node.
    node = output._keras_history
    layer.build(conv._inbound_nodes[node.node_index].input_tensors[0].shape)
    scale, shift = _scale_shift(norm)
    bias = _float64(conv.bias) if conv.use_bias else np.zeros_like(scale)
    if isinstance(conv, keras.layers.SeparableConv2D):
        layer.depthwise_kernel.assign(conv.depthwise_kernel)
        kernel, target = conv.pointwise_kernel, layer.pointwise_kernel
    else:
        kernel, target = conv.kernel, layer.kernel
    if isinstance(conv, keras.layers.DepthwiseConv2D):
        # Output channel c * multiplier + m comes from kernel[..., c, m].
        scale_by = scale.reshape(kernel.shape[2:])
    else:
        scale_by = scale
    target.assign((_float64(kernel) * scale_by).astype(target.dtype))
    layer.bias.assign((bias * scale + shift).astype(layer.bias.dtype))
    return layer


def fold_batch_norm(model):
    """`model` with every BatchNorm that follows a convolution folded
    into it, for inference.

    Args:
        model: a Functional `keras.Model` (nested Functional models, such
            as a keras.applications encoder, are folded too).

    Returns:
        A new Functional model with the same inputs and outputs, equal in
        inference to `model` within float32 rounding; `model` itself is
        unchanged, and returned as it is when nothing folds. Only for
        inference: the folded convolutions are copies, so training either
        model does not change the other's.

    Example:

    >>> model = kerasseg.build("unet_tiny", num_classes=2)
    >>> folded = kerasseg.export.folding.fold_batch_norm(model)
    >>> x = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3))
    >>> bool(np.allclose(model(x), folded(x), atol=1e-4))
    True
    >>> def norms(m):
    ...     return sum(isinstance(layer, keras.layers.BatchNormalization)
    ...                for layer in m._flatten_layers())
    >>> norms(model) > 0, norms(folded)
    (True, 0)
    """
    if not is_functional(model):
        raise TypeError(
            "fold_batch_norm needs a Functional keras.Model. Received: "
            f"{type(model).__name__}"
        )
    found = _pairs(model, {})
    if not found:
        return model

    identities = set()

    def clone(layer):
        if id(layer) not in found:
            return layer  # shared, with its variables
        conv, norm, output = found[id(layer)]
        if layer is norm:
            identity = keras.layers.Identity(name=norm.name)
            identities.add(id(identity))
            return identity
        return _folded(conv, norm, output)

    def call(layer, *args, **kwargs):
        if id(layer) in identities:  # BatchNorm's `training`, `mask`
            return layer(args[0])
        return layer(*args, **kwargs)

    return keras.models.clone_model(
        model, clone_function=clone, call_function=call, recursive=True
    )
