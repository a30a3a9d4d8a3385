"""How losses and metrics read predictions and labels.

One contract for every loss and metric:

- `mode="binary"`: predictions `(..., 1)` (or `(...)`), labels `(...)` or
  `(..., 1)` holding 0 or 1.
- `mode="multiclass"`: predictions `(..., K)`; labels sparse class ids
  `(...)` or `(..., 1)`, or one-hot `(..., K)`.
- `mode="multilabel"`: predictions `(..., K)`; labels `(..., K)` of 0/1.

Predictions are logits when `from_logits=True` (softmax for multiclass,
sigmoid otherwise) or probabilities. A label equal to `ignore_index` is left
out (for one-hot labels, a pixel whose one-hot row is all zero, which is
what one-hot encoding an out-of-range ignore id gives).

Bad labels (an id outside [0, K) that is not `ignore_index`, a value that
is not a whole number, a one-hot row with several ones) raise `ValueError`
when the values can be seen, i.e. in eager calls. Inside a compiled graph
(`model.fit`, `jit_compile=True`) no backend-neutral op can raise, so the
result is made NaN instead: it never turns into a plausible number.
"""

import dataclasses

import keras
import numpy as np

MODES = ("binary", "multiclass", "multilabel")


def mode_for(num_classes, mode="auto"):
    """The mode of a model with `num_classes` output channels: "binary"
    for one channel, else "multiclass", unless `mode` names one of
    `MODES`. The one statement of that rule."""
    if mode != "auto":
        return mode
    return "binary" if num_classes == 1 else "multiclass"


def target_args(num_classes, mode, ignore_index):
    """Keyword arguments of a kerasseg loss or metric for that task (a
    binary one counts background and foreground and takes no
    `num_classes`)."""
    kwargs = {"mode": mode, "ignore_index": ignore_index}
    if mode != "binary":
        kwargs["num_classes"] = num_classes
    return kwargs


@dataclasses.dataclass
class Prepared:
    """Predictions and labels read into one shape.

    Attributes:
        probs: float32 `(..., C)` probabilities (C = 1 for binary).
        target: float32 `(..., C)` one-hot / multi-hot labels (0 where
            ignored).
        valid: float32 `(..., 1)` or `(..., C)`: 1 where the label counts.
        logits: float32 `(..., C)` logits, or None if probabilities were
            given.
        poison: float32 scalar, NaN if the labels were invalid in a
            compiled graph, else 0; add it to the result.
    """

    probs: object
    target: object
    valid: object
    logits: object
    poison: object


def check_mode(mode, num_classes):
    if mode not in MODES:
        raise ValueError(
            f"`mode` must be one of {list(MODES)}. Received: mode={mode!r}"
        )
    if mode == "binary":
        if num_classes not in (None, 1, 2):
            raise ValueError(
                "mode='binary' has one output channel; num_classes may be "
                f"left out, 1 or 2. Received: num_classes={num_classes!r}"
            )
        return 1
    minimum = 2 if mode == "multiclass" else 1
    if (
        not isinstance(num_classes, int)
        or isinstance(num_classes, bool)
        or num_classes < minimum
    ):
        raise ValueError(
            f"mode={mode!r} needs num_classes, an integer >= {minimum}. "
            f"Received: num_classes={num_classes!r}"
        )
    return num_classes


def _concrete(x):
    """The values of `x` as numpy, or None inside a symbolic graph."""
    try:
        return keras.ops.convert_to_numpy(x)
    except Exception:  # symbolic tensors refuse, whatever the backend
        return None


def _report(bad_values, who, accepted):
    values = np.unique(bad_values)
    shown = ", ".join(repr(v.item()) for v in values[:5])
    more = f" and {values.size - 5} more" if values.size > 5 else ""
    raise ValueError(
        f"{who}: labels hold values outside {accepted}: {shown}{more}."
    )


def _check(labels, invalid, who, accepted):
    """Raises for invalid labels if visible; returns the NaN poison."""
    seen = _concrete(invalid)
    if seen is not None:
        if seen.any():
            _report(_concrete(labels)[seen], who, accepted)
        return keras.ops.zeros((), "float32")
    return keras.ops.where(
        keras.ops.any(invalid),
        keras.ops.array(np.nan, "float32"),
        keras.ops.array(0.0, "float32"),
    )


def _not_whole(x):
    return keras.ops.not_equal(x, keras.ops.round(x))


def _shape_error(who, mode, y_true, y_pred, expected):
    return ValueError(
        f"{who}: with mode={mode!r}, labels of shape {tuple(y_true.shape)} "
        f"do not fit predictions of shape {tuple(y_pred.shape)}; expected "
        f"labels {expected}."
    )


def prepare_for(reader, y_true, y_pred):
    """`prepare` with the reading settings of a kerasseg loss or metric
    (its `mode`, `num_classes`, `from_logits`, `ignore_index` and name)."""
    return prepare(
        y_true,
        y_pred,
        mode=reader.mode,
        num_classes=reader.num_classes,
        from_logits=reader.from_logits,
        ignore_index=reader.ignore_index,
        who=reader.name,
    )


def prepare(
    y_true, y_pred, *, mode, num_classes, from_logits, ignore_index, who
):
    """Reads `(y_true, y_pred)` under the contract above."""
    y_pred = keras.ops.cast(y_pred, "float32")
    y_true = keras.ops.cast(y_true, "float32")
    channels = 1 if mode == "binary" else num_classes
    if mode == "binary" and len(y_pred.shape) == len(y_true.shape):
        if y_pred.shape[-1] not in (1, None) and y_true.shape[-1] != 1:
            y_pred = keras.ops.expand_dims(y_pred, -1)  # (...) predictions
    if y_pred.shape[-1] is not None and y_pred.shape[-1] != channels:
        raise ValueError(
            f"{who}: predictions have {y_pred.shape[-1]} channels but "
            f"mode={mode!r} with num_classes={num_classes} needs {channels}. "
            f"Received predictions of shape {tuple(y_pred.shape)}."
        )
    rank = len(y_pred.shape)
    ignore = None if ignore_index is None else float(ignore_index)

    if mode == "multilabel":
        if tuple(y_true.shape[1:]) != tuple(y_pred.shape[1:]):
            raise _shape_error(who, mode, y_true, y_pred, "(..., K) of 0/1")
        valid = keras.ops.ones_like(y_true, "bool")
        if ignore is not None:
            valid = keras.ops.not_equal(y_true, ignore)
        target = keras.ops.where(valid, y_true, 0.0)
        invalid = valid & (keras.ops.not_equal(target, 0.0))
        invalid = invalid & keras.ops.not_equal(target, 1.0)
        poison = _check(y_true, invalid, who, "{0, 1} and the ignore index")
    elif mode == "multiclass" and (
        len(y_true.shape) == rank and y_true.shape[-1] == num_classes
    ):
        rows = keras.ops.sum(y_true, axis=-1, keepdims=True)
        valid = keras.ops.greater(rows, 0.0)
        bad_value = keras.ops.not_equal(y_true, 0.0) & keras.ops.not_equal(
            y_true, 1.0
        )
        invalid = bad_value | keras.ops.greater(rows, 1.0)
        target = y_true
        poison = _check(y_true, invalid, who, "one-hot rows of 0/1")
    else:
        if len(y_true.shape) == rank and y_true.shape[-1] == 1:
            y_true = keras.ops.squeeze(y_true, -1)
        elif len(y_true.shape) != rank - 1:
            expected = (
                "(...) or (..., 1) of class ids, or one-hot (..., K)"
                if mode == "multiclass"
                else "(...) or (..., 1) of 0/1"
            )
            raise _shape_error(who, mode, y_true, y_pred, expected)
        classes = 2 if mode == "binary" else num_classes
        valid = keras.ops.ones_like(y_true, "bool")
        if ignore is not None:
            valid = keras.ops.not_equal(y_true, ignore)
        ids = keras.ops.where(valid, y_true, 0.0)
        invalid = valid & (
            keras.ops.less(ids, 0.0)
            | keras.ops.greater_equal(ids, float(classes))
            | _not_whole(ids)
        )
        accepted = f"the class ids 0..{classes - 1}" + (
            f" and the ignore index {ignore_index}"
            if ignore is not None
            else ""
        )
        poison = _check(y_true, invalid, who, accepted)
        valid = keras.ops.expand_dims(valid & ~invalid, -1)
        ids = keras.ops.where(invalid, 0.0, ids)
        if mode == "binary":
            target = keras.ops.expand_dims(ids, -1)
        else:
            target = keras.ops.one_hot(
                keras.ops.cast(ids, "int32"), num_classes, dtype="float32"
            )
        target = target * keras.ops.cast(valid, "float32")

    logits = y_pred if from_logits else None
    if from_logits:
        if mode == "multiclass":
            probs = keras.ops.softmax(y_pred, axis=-1)
        else:
            probs = keras.ops.sigmoid(y_pred)
    else:
        probs = y_pred
    return Prepared(
        probs=probs,
        target=target,
        valid=keras.ops.cast(valid, "float32"),
        logits=logits,
        poison=poison,
    )
