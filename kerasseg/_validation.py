"""Argument checks shared by the builders.

Every error quotes the value received and says what is accepted, so a user
never has to guess which argument was wrong.
"""

import numbers

import keras


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(name, value, *, minimum=1):
    """Returns `value` if it is an integer >= `minimum`, else raises."""
    if not _is_int(value) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def positive_ints(name, value, *, what, example):
    """Returns `value` as a tuple if it is a list or tuple of integers >= 1,
    else raises, saying it wants a list of `what` such as `example`."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(
            f"`{name}` must be a list of {what}, e.g. {example}. "
            f"Received: {name}={value!r}"
        )
    return tuple(positive_int(name, item) for item in value)


def rate(name, value):
    """Returns `value` if it is a float in [0, 1), else raises."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0.0 <= value < 1.0
    ):
        raise ValueError(
            f"`{name}` must be a number in [0, 1). Received: {name}={value!r}"
        )
    return float(value)


def non_negative(name, value):
    """Returns `value` if it is a real number >= 0, else raises."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or value < 0
    ):
        raise ValueError(
            f"`{name}` must be a number >= 0. Received: {name}={value!r}"
        )
    return float(value)


def from_table(table, name, *, kind, plural):
    """`table[name]`, or a ValueError naming the unknown `kind`, the
    closest name and every name of the table."""
    import difflib

    if name in table:
        return table[name]
    close = difflib.get_close_matches(str(name), table, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown {kind} {name!r}.{hint} {plural}: {', '.join(table)}."
    )


def one_of(name, value, accepted):
    """Returns `value` if it is in `accepted`, else raises."""
    if value not in accepted:
        raise ValueError(
            f"`{name}` must be one of {sorted(accepted, key=repr)}. "
            f"Received: {name}={value!r}"
        )
    return value


def image_shape(value, *, name="input_shape"):
    """Checks an `(height, width, channels)` tuple.

    Height and width may be `None` (any size) or positive integers; channels
    must be a positive integer, because the first convolution's kernel
    depends on it.

    Returns:
        The shape as a tuple.
    """
    try:
        shape = tuple(value)
    except TypeError:
        shape = None
    if shape is None or len(shape) != 3:
        raise ValueError(
            f"`{name}` must be (height, width, channels), for example "
            f"(None, None, 3). Received: {name}={value!r}"
        )
    height, width, channels = shape
    for dim in (height, width):
        if dim is not None and (not _is_int(dim) or dim < 1):
            raise ValueError(
                f"Height and width in `{name}` must be None or positive "
                f"integers. Received: {name}={value!r}"
            )
    if not _is_int(channels) or channels < 1:
        raise ValueError(
            f"The channel count in `{name}` must be a positive integer "
            f"(it sets the first convolution's kernel). "
            f"Received: {name}={value!r}"
        )
    return shape


def activation(value, num_channels, *, name="activation"):
    """Checks an output activation against the number of output channels.

    `None` means logits. A softmax over a single channel is always 1.0, so it
    is refused: binary heads use "sigmoid".
    """
    if value is None:
        return None
    try:
        keras.activations.get(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"`{name}` must be None (logits) or a Keras activation such as "
            f"'sigmoid' or 'softmax'. Received: {name}={value!r}"
        ) from None
    if value == "softmax" and num_channels == 1:
        raise ValueError(
            "activation='softmax' over a single output channel always "
            "outputs 1.0. For binary segmentation use num_classes=1 with "
            "activation='sigmoid' (or None for logits), or num_classes=2 "
            f"with softmax. Received: activation={value!r}, num_classes=1"
        )
    return value
