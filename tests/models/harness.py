"""What every registered model must satisfy, shared by the model tests.

A registered name gets these checks for free: `tests/models/test_harness.py`
parametrizes them over `kerasseg.list_models("*_tiny")`.
"""

import keras
import numpy as np

from kerasseg import registry

NUM_CLASSES = 3


def build(name, channels=3, input_shape=None, **kwargs):
    """Builds a registered model with the harness's standard arguments."""
    spec = registry.get_spec(name)
    if spec.task == "segmentation":
        kwargs.setdefault("num_classes", NUM_CLASSES)
    shape = input_shape or (None, None, channels)
    return spec.build(input_shape=shape, **kwargs)


def output_channels(name, channels):
    task = registry.get_spec(name).task
    return NUM_CLASSES if task == "segmentation" else channels


def batch(name, shape=(2, 64, 64, 3), seed=0):
    """A fixed (inputs, targets) batch suited to the model's task."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype("float32")
    if registry.get_spec(name).task == "segmentation":
        # Targets that depend on the image, so the model can fit them.
        y = np.digitize(x[..., 0], [-0.5, 0.5]).astype("int32")
    else:
        y = x
    return x, y


def loss_for(name):
    if registry.get_spec(name).task == "segmentation":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()
