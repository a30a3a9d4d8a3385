"""Atrous (dilated) convolutions that skip the taps that only see padding.

A 3×3 convolution with dilation rate r reads its input at offsets -r, 0
and +r. On a feature map no larger than r, the outer taps fall wholly in
the zero padding: DeepLabV3+'s ASPP (rates 6/12/18) on the 8×8 map of a
128×128 image is mostly such taps. TensorFlow runs a dilated convolution
through space-to-batch, padding the map to a multiple of the rate, and
XLA's CPU convolution pays for every tap too: on this project's CPU a
3×3 2048→256 convolution on an 8×8 map took 10× longer at rate 6 and 60×
longer at rate 18 than at rate 1 (`shared/reference/perf-anchors.md`).

These layers compute the same result from the taps that can touch the
map: each such tap is a shifted slice of the input, and the slices meet
the kernel's matching taps in one matrix product (or, depthwise, a sum
of products). That needs the height and width when the graph is traced.
They are known whenever the input size is fixed (training on crops, XLA,
the JAX backend). With an unknown size (a SavedModel with dynamic height
and width) the choice moves into the graph: a map no larger than the
kernel's smallest nonzero offset on both axes (the common case for ASPP)
takes the centre tap alone, a 1×1 product, and any other map the
backend's own dilated convolution (`keras.ops.cond`, so only one branch
runs). Outputs equal the plain layers' within float32 rounding (tested),
and gradients follow from the same operations.

The classes keep Keras' names (`Conv2D`, `DepthwiseConv2D`,
`SeparableConv2D`) and variables on purpose: Keras 3 weight files address
a layer by its class name and position, so a model built with these
layers reads and writes the same `.weights.h5` files as one built with
keras.layers. They are registered under the "kerasseg" package, so
`.keras` files reload with `safe_mode=True` and no `custom_objects`.
"""

import contextlib
import contextvars

import keras

# False while a converter that cannot read `cond` traces the model.
_RUN_TIME_CHOICE = contextvars.ContextVar("run_time_choice", default=True)


@contextlib.contextmanager
def without_run_time_choice():
    """Inside this context, layers traced at an unknown size use the
    backend's own dilated convolution instead of choosing at run time.

    For converters that do not handle a `cond` around a convolution
    (tf2onnx loses the kernel's shape inside the branch). The outputs are
    the same; only the speed on small maps differs.
    """
    token = _RUN_TIME_CHOICE.set(False)
    try:
        yield
    finally:
        _RUN_TIME_CHOICE.reset(token)


def _axis_taps(size, kernel_size, rate):
    """Taps of one axis that read inside a map of `size`, with offsets.

    'same' padding of a dilated kernel puts tap i at offset
    `i * rate - pad_before`; a tap whose offset is at least the map's size
    in either direction only ever reads padding.
    """
    pad_before = (kernel_size - 1) * rate // 2
    taps = []
    for i in range(kernel_size):
        offset = i * rate - pad_before
        if abs(offset) < size:
            taps.append((i, offset))
    return taps


def _shortcut_applies(layer):
    """Whether skipping taps can apply at all: a dilated 'same' layer,
    stride 1, channels last, no groups."""
    if max(layer.dilation_rate) == 1 or max(layer.strides) > 1:
        return False
    if layer.padding != "same" or layer.data_format != "channels_last":
        return False
    return getattr(layer, "groups", 1) == 1


def _fast_path_taps(layer, inputs):
    """The (row tap, column tap) pairs to compute, or None for the plain op.

    None when the layer has no dilation, a stride, 'valid' padding,
    channels-first data, groups, or a height or width unknown at trace
    time, and when no tap or every tap reaches the map.
    """
    if not _shortcut_applies(layer):
        return None
    height, width = inputs.shape[1], inputs.shape[2]
    if height is None or width is None:
        return None
    rows = _axis_taps(height, layer.kernel_size[0], layer.dilation_rate[0])
    cols = _axis_taps(width, layer.kernel_size[1], layer.dilation_rate[1])
    taps = [(r, c) for r in rows for c in cols]
    # Only a kernel with taps to skip gains: with every tap in use, the
    # backend's own convolution is faster in TensorFlow's graph mode (no
    # tap reaches the map only for an even kernel at a large rate on a
    # tiny map; the plain op handles that rare case too).
    kernel_taps = layer.kernel_size[0] * layer.kernel_size[1]
    if not taps or len(taps) == kernel_taps:
        return None
    return taps


def _centre_tap(layer):
    """For a map of unknown size: the centre tap and, per axis, the
    largest size at which it is the only tap reading the map.

    Returns ((row tap, column tap), (max height, max width)), or None when
    the shortcut cannot apply or the kernel has no centre tap (an even
    size).
    """
    if not _shortcut_applies(layer):
        return None
    centre, limits = [], []
    for kernel_size, rate in zip(layer.kernel_size, layer.dilation_rate):
        pad_before = (kernel_size - 1) * rate // 2
        offsets = [i * rate - pad_before for i in range(kernel_size)]
        if 0 not in offsets:
            return None
        centre.append((offsets.index(0), 0))
        limits.append(min(abs(o) for o in offsets if o))
    return tuple(centre), tuple(limits)


def _small_map(inputs, limits):
    """True (a tensor) when the input's height and width are at most
    `limits`, read from its shape at run time."""
    shape = keras.ops.shape(inputs)
    return keras.ops.logical_and(
        keras.ops.less_equal(shape[1], limits[0]),
        keras.ops.less_equal(shape[2], limits[1]),
    )


def _choose(layer, inputs, shortcut, plain):
    """`shortcut(taps)` where the input's size (known when traced, or
    else read at run time) lets taps be skipped, `plain()` elsewhere."""
    taps = _fast_path_taps(layer, inputs)
    if taps is not None:
        return shortcut(taps)
    known = inputs.shape[1] is not None and inputs.shape[2] is not None
    centre = None
    if not known and _RUN_TIME_CHOICE.get():
        centre = _centre_tap(layer)
    if centre is None:
        return plain()
    tap, limits = centre
    return keras.ops.cond(
        _small_map(inputs, limits), lambda: shortcut([tap]), plain
    )


def _shifted(inputs, taps):
    """One slice of the input per tap: the values that tap reads, with
    zeros where it reads padding."""
    if all(dy == 0 and dx == 0 for (_, dy), (_, dx) in taps):
        return [inputs]  # the centre tap reads the input as it is
    height, width = inputs.shape[1], inputs.shape[2]
    dys = [dy for (_, dy), _ in taps]
    dxs = [dx for _, (_, dx) in taps]
    top, bottom = max(0, -min(dys)), max(0, max(dys))
    left, right = max(0, -min(dxs)), max(0, max(dxs))
    if top or bottom or left or right:
        inputs = keras.ops.pad(
            inputs, [[0, 0], [top, bottom], [left, right], [0, 0]]
        )
    return [
        inputs[:, top + dy : top + dy + height, left + dx : left + dx + width]
        for (_, dy), (_, dx) in taps
    ]


def atrous_conv(inputs, kernel, taps):
    """A 'same' convolution from the given taps: one matrix product of the
    concatenated shifted inputs with the matching kernel taps."""
    slices = _shifted(inputs, taps)
    weights = [kernel[i, j] for (i, _), (j, _) in taps]
    if len(taps) > 1:
        x = keras.ops.concatenate(slices, axis=-1)
        w = keras.ops.concatenate(weights, axis=0)
    else:
        x, w = slices[0], weights[0]
    return keras.ops.matmul(x, w)


def atrous_depthwise_conv(inputs, kernel, taps):
    """A 'same' depthwise convolution from the given taps: a sum of the
    shifted inputs times the matching kernel taps (channel multiplier m
    gives channels in the order c * m + k, as Keras does)."""
    channels, multiplier = kernel.shape[2], kernel.shape[3]
    total = None
    for x, ((i, _), (j, _)) in zip(_shifted(inputs, taps), taps):
        if multiplier == 1:
            term = x * kernel[i, j, :, 0]
        else:
            term = keras.ops.expand_dims(x, -1) * kernel[i, j]
        total = term if total is None else total + term
    if multiplier == 1:
        return total
    shape = keras.ops.shape(total)
    return keras.ops.reshape(
        total, (shape[0], shape[1], shape[2], channels * multiplier)
    )


def _finish(layer, outputs):
    """Bias and activation, as the Keras layers add them."""
    if layer.use_bias:
        outputs = outputs + layer.bias
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


@keras.saving.register_keras_serializable(package="kerasseg")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` that skips the taps of a dilated kernel that
    only read padding, when the input's height and width are known.

    Same arguments, variables and outputs as `keras.layers.Conv2D`.

    Example:

    >>> plain = keras.layers.Conv2D(4, 3, padding="same", dilation_rate=6)
    >>> fast = kerasseg.layers.atrous.Conv2D(
    ...     4, 3, padding="same", dilation_rate=6)
    >>> x = np.random.default_rng(0).random((1, 5, 7, 3), dtype="float32")
    >>> _ = plain(x), fast(x)
    >>> fast.set_weights(plain.get_weights())
    >>> bool(np.allclose(plain(x), fast(x), atol=1e-5))
    True
    """

    def convolution_op(self, inputs, kernel):
        return _choose(
            self,
            inputs,
            lambda taps: atrous_conv(inputs, kernel, taps),
            lambda: super(Conv2D, self).convolution_op(inputs, kernel),
        )


@keras.saving.register_keras_serializable(package="kerasseg")
class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` that skips the taps of a dilated
    kernel that only read padding, when the input's height and width are
    known. Same arguments, variables and outputs."""

    def call(self, inputs):
        return _choose(
            self,
            inputs,
            lambda taps: _finish(
                self, atrous_depthwise_conv(inputs, self.kernel, taps)
            ),
            lambda: super(DepthwiseConv2D, self).call(inputs),
        )


@keras.saving.register_keras_serializable(package="kerasseg")
class SeparableConv2D(keras.layers.SeparableConv2D):
    """`keras.layers.SeparableConv2D` whose depthwise step skips the taps
    of a dilated kernel that only read padding, when the input's height
    and width are known. Same arguments, variables and outputs."""

    def call(self, inputs):
        def shortcut(taps):
            x = atrous_depthwise_conv(inputs, self.depthwise_kernel, taps)
            x = keras.ops.matmul(x, self.pointwise_kernel[0, 0])
            return _finish(self, x)

        return _choose(
            self,
            inputs,
            shortcut,
            lambda: super(SeparableConv2D, self).call(inputs),
        )


__all__ = [
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "without_run_time_choice",
]
