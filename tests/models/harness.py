"""What every registered model must satisfy, shared by the model tests.

A registered name gets these checks for free: `tests/models/test_harness.py`
parametrizes them over `kerasseg.list_models("*_tiny")`. Models with one
output and models with a dict of outputs ("multitask") are handled alike:
`as_dict` names a single output "output".
"""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import registry

NUM_CLASSES = 3
NUM_LABELS = 2

# The tiny models the default tier runs the costlier per-model checks on
# (several sizes, graph tracing, mixed precision, reload): one of
# each kind of graph, namely skip connections over the plain encoder,
# atrous convolution with ASPP, pooling to fixed bins, a transformer,
# dict outputs and reconstruction. `--run-slow` runs those checks on every
# tiny model; the cheap ones run on every model in the default tier.
DEFAULT_TIER = (
    "conv_autoencoder_tiny",
    "deeplabv3plus_tiny",
    "multitask_unet_tiny",
    "pspnet_tiny",
    "transunet_tiny",
    "unet_tiny",
)


def tiered(names, default=DEFAULT_TIER):
    """`names` as parameters, those outside `default` marked slow."""
    return [
        name if name in default else pytest.param(name, marks=pytest.mark.slow)
        for name in names
    ]


def task(name):
    return registry.get_spec(name).task


def build(name, channels=3, input_shape=None, **kwargs):
    """Builds a registered model with the harness's standard arguments."""
    spec = registry.get_spec(name)
    if spec.task in ("segmentation", "multitask"):
        kwargs.setdefault("num_classes", NUM_CLASSES)
    if spec.task == "multitask":
        kwargs.setdefault("num_labels", NUM_LABELS)
    shape = input_shape or (None, None, channels)
    return spec.build(input_shape=shape, **kwargs)


def as_dict(outputs):
    """A model's outputs as a dict of numpy arrays."""
    if not isinstance(outputs, dict):
        outputs = {"output": outputs}
    return {
        key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()
    }


def as_dict_of_tensors(outputs):
    """Symbolic outputs as a dict, a single one named "output"."""
    return outputs if isinstance(outputs, dict) else {"output": outputs}


def expected_shapes(name, model, batch, height, width, channels):
    """The output shapes a model must give for such an input batch."""
    if task(name) == "segmentation":
        return {"output": (batch, height, width, NUM_CLASSES)}
    if task(name) == "reconstruction":
        return {"output": (batch, height, width, channels)}
    shapes = {
        "mask": (batch, height, width, NUM_CLASSES),
        "label": (batch, NUM_LABELS),
    }
    if "reconstruction" in model.output:
        shapes["reconstruction"] = (batch, height, width, channels)
    return shapes


def batch(name, shape=(2, 64, 64, 3), seed=0):
    """A fixed (inputs, targets) batch suited to the model's task."""
    rng = np.random.default_rng(seed)
    n, height, width, channels = shape
    # Piecewise-constant 8×8 blocks plus a little noise, and targets that
    # depend on the blocks: every model can fit them, including those whose
    # finest output is at stride 4 or 8 (DeepLabV3+, FCN).
    blocks = rng.normal(size=(n, -(-height // 8), -(-width // 8), channels))
    smooth = blocks.repeat(8, axis=1).repeat(8, axis=2)[:, :height, :width]
    noise = 0.1 * rng.normal(size=shape)
    x = (smooth + noise).astype("float32")
    mask = np.digitize(smooth[..., 0], [-0.5, 0.5]).astype("int32")
    if task(name) == "segmentation":
        return x, mask
    if task(name) == "reconstruction":
        return x, x
    label = (smooth[..., 1].mean(axis=(1, 2)) > 0).astype("int32")
    return x, {"mask": mask, "label": label, "reconstruction": x}


def targets(model, y):
    """The targets of the outputs `model` has (a dict is trimmed to them)."""
    if isinstance(y, dict):
        return {key: y[key] for key in model.output}
    return y


def losses(name, *, kerasseg_losses=False):
    """Loss (or dict of losses) for the task.

    With `kerasseg_losses`, the segmentation output uses kerasseg's own
    DiceCrossEntropy (to check it under mixed precision).
    """
    if kerasseg_losses:
        segmentation = kerasseg.losses.DiceCrossEntropy(num_classes=NUM_CLASSES)
    else:
        segmentation = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True
        )
    if task(name) == "segmentation":
        return segmentation
    if task(name) == "reconstruction":
        return keras.losses.MeanSquaredError()
    return {
        "mask": segmentation,
        "label": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "reconstruction": keras.losses.MeanSquaredError(),
    }


def metrics(name):
    """kerasseg's MeanIoU on the segmentation output, if there is one."""
    iou = [kerasseg.metrics.MeanIoU(NUM_CLASSES)]
    if task(name) == "segmentation":
        return iou
    if task(name) == "multitask":
        return {"mask": iou}
    return None


def compile_args(name, model, **kwargs):
    """`compile` arguments, with dict losses trimmed to the outputs."""
    loss = losses(name, **kwargs)
    if isinstance(loss, dict):
        loss = {key: loss[key] for key in model.output}
    return {"loss": loss}


def total_loss(name, model, y, predictions):
    """The summed loss of all outputs, for gradient checks."""
    loss = compile_args(name, model)["loss"]
    y = targets(model, y)
    if isinstance(loss, dict):
        return sum(loss[key](y[key], predictions[key]) for key in loss)
    return loss(y, predictions)


def train_step(model, x, y):
    """One `train_on_batch`; returns the total loss as a float."""
    logs = model.train_on_batch(x, targets(model, y), return_dict=True)
    return float(logs["loss"])
