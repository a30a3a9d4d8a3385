"""XLA or not, chosen by measuring both on the device in use.

Neither setting wins everywhere. XLA trained the U-Net family 1.2–1.5×
faster on one of this project's 2-core CPUs, but was slower for every
model on another, and about 3× slower for DeepLabV3+ there (XLA's CPU
depthwise convolutions; `docs/benchmarks.md`). `choose_jit_compile` times
a few steps each way on a copy of the model, so the model itself, its
weights and its optimizer state are left untouched.
"""

import statistics
import time

# The one set of XLA settings a user can give (`train.jit_compile`,
# `kerasseg train/predict --jit-compile`); "auto" measures.
SETTINGS = ("auto", "on", "off")


def jit_compile_of(setting):
    """`model.compile`'s `jit_compile` for a setting: True, False or "auto"
    (to be measured with `choose_jit_compile`)."""
    if setting not in SETTINGS:
        raise ValueError(
            f"jit_compile must be one of {list(SETTINGS)}; got {setting!r}."
        )
    return {"on": True, "off": False}.get(setting, "auto")


def _adam():
    import keras  # here: the `kerasseg` command reads SETTINGS without it

    return keras.optimizers.Adam()


def _copy(model):
    return model.__class__.from_config(model.get_config())


def _optimizer_copy(optimizer):
    return optimizer.__class__.from_config(optimizer.get_config())


def seconds_per_step(
    model, x, y=None, *, jit_compile, loss=None, optimizer=None, steps=3
):
    """Median seconds of a training step (with `y`) or a prediction (without),
    after one untimed call that traces and compiles.

    Args:
        model: a Keras model; a copy with fresh weights is timed.
        x: one batch of inputs.
        y: one batch of targets, or None to time `predict_on_batch`.
        jit_compile: True for XLA, False for TensorFlow's graph kernels.
        loss: the training loss (needed with `y`).
        optimizer: an optimizer to copy the configuration of (default
            Adam).
        steps: timed calls.

    Returns:
        float seconds.
    """
    copy = _copy(model)
    if y is None:
        copy.compile(jit_compile=jit_compile)

        def step():
            copy.predict_on_batch(x)

    else:
        optimizer = _optimizer_copy(optimizer) if optimizer else _adam()
        copy.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile)

        def step():
            copy.train_on_batch(x, y)

    step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def choose_jit_compile(model, x, y=None, *, loss=None, optimizer=None, steps=3):
    """Measures XLA and graph execution and returns the faster.

    Args:
        model, x, y, loss, optimizer, steps: as for `seconds_per_step`.

    Returns:
        `(jit_compile, seconds)`: True for XLA, and a dict with the median
        seconds per step of "xla" and "graph" (None where XLA failed to
        compile, with the error under "xla_error").

    Example:

    >>> model = kerasseg.build("unet_tiny", num_classes=2)
    >>> x = np.zeros((2, 32, 32, 3), "float32")
    >>> jit, seconds = kerasseg.training.xla.choose_jit_compile(
    ...     model, x, steps=1)
    >>> sorted(seconds)
    ['graph', 'xla']
    """
    seconds = {}
    kwargs = dict(loss=loss, optimizer=optimizer, steps=steps)
    seconds["graph"] = seconds_per_step(
        model, x, y, jit_compile=False, **kwargs
    )
    try:
        seconds["xla"] = seconds_per_step(
            model, x, y, jit_compile=True, **kwargs
        )
    except Exception as error:  # an op XLA cannot compile on this device
        seconds["xla"] = None
        seconds["xla_error"] = f"{type(error).__name__}: {error}"[:500]
        return False, seconds
    return seconds["xla"] < seconds["graph"], seconds


__all__ = ["choose_jit_compile", "seconds_per_step"]
