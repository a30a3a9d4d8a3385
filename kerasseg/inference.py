"""Test-time augmentation inside the model graph.

`tta(model, "d4")` returns a Functional `keras.Model` with the model's
inputs and outputs that predicts through each transform of the image,
maps each prediction back onto the image and averages them as
probabilities. Being one graph of registered layers, it saves to `.keras`,
reloads with `safe_mode=True`, and exports to SavedModel, TFLite and
ONNX like the model itself, so the served model is the evaluated one.
"""

import keras

from kerasseg import outputs as outputs_module
from kerasseg.layers.output import HeadOutput
from kerasseg.layers.resize import ResizeBy
from kerasseg.layers.resize import ResizeToReference
from kerasseg.layers.tta import D4
from kerasseg.layers.tta import D4Transform
from kerasseg.layers.tta import MergeScores

# Named transform sets: the flips (and both, a half turn), and the eight
# symmetries of the square.
TRANSFORM_SETS = {
    "flips": ("identity", "flip_horizontal", "flip_vertical", "rotate_180"),
    "d4": tuple(D4),
}


def transforms_of(transforms):
    """The transform names of `transforms`: a set's name ("flips",
    "d4") or a list of names of `kerasseg.layers.tta.D4`."""
    if isinstance(transforms, str):
        if transforms not in TRANSFORM_SETS:
            raise ValueError(
                f"`transforms` must be one of {sorted(TRANSFORM_SETS)} or a "
                f"list of {list(D4)}. Received: transforms={transforms!r}"
            )
        return TRANSFORM_SETS[transforms]
    names = list(transforms)
    if not names:
        raise ValueError("`transforms` is empty; give at least one transform.")
    for name in names:
        if name not in D4:
            raise ValueError(
                f"Unknown transform {name!r} in `transforms`. Accepted: "
                f"{list(D4)}, or {sorted(TRANSFORM_SETS)}."
            )
    if len(set(names)) != len(names):
        raise ValueError(
            f"`transforms` lists a transform twice: {names}; each would "
            "count twice in the average."
        )
    return tuple(names)


def scales_of(scales):
    """`scales` as a tuple of floats: a non-empty list of distinct numbers
    > 0 (1.0 is the image as it is)."""
    if isinstance(scales, (int, float)) and not isinstance(scales, bool):
        scales = (scales,)
    try:
        values = list(scales)
    except TypeError:
        values = None
    if not values or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0
        for v in values
    ):
        raise ValueError(
            "`scales` must be a non-empty list of numbers > 0 (1.0: the "
            f"image as it is), e.g. (0.75, 1.0, 1.25). Received: {scales!r}"
        )
    values = [float(v) for v in values]
    if len(set(values)) != len(values):
        raise ValueError(
            f"`scales` lists a scale twice: {values}; each would count "
            "twice in the average."
        )
    return tuple(values)


def _scale_tag(scale):
    return "" if scale == 1.0 else f"x{scale:g}".replace(".", "p") + "_"


def _merge_family(output):
    """How an output's values become probabilities (`MergeScores`'
    activation), and whether they are logits."""
    if output.kind in outputs_module.VALUE_KINDS:  # values: a plain mean
        return None, False
    if output.activation is not None:  # logits
        return output.activation, True
    if output.head in ("softmax", "sigmoid"):
        return output.head, False
    return None, False  # probabilities of an unknown family: plain mean


def tta(model, transforms="flips", scales=(1.0,), merge="mean"):
    """The model with test-time augmentation, as one Functional model.

    The input image is resized by each scale (bilinear, `ResizeBy`) and
    every transform applied to it; the model predicts on each; per-pixel
    outputs (class scores, reconstructions) are mapped back with the
    transform's inverse and resized back to the image's size (bilinear),
    image-level ones ("labels") taken as they are; the
    `len(scales) × len(transforms)` predictions are averaged as
    probabilities. Each
    output keeps its meaning: a logits output gives the logits of the
    average (softmax or sigmoid of them is the averaged probabilities), a
    probabilities output the averaged probabilities, a reconstruction the
    averaged image. So `kerasseg.outputs`, `kerasseg predict`, the
    evaluation and the exports read the TTA model as the model.

    Args:
        model: a Functional kerasseg model (one output, or a dict of them).
        transforms: "flips" (identity, horizontal, vertical and both: 4
            predictions), "d4" (the 8 rotations and reflections of the
            square) or a list of `kerasseg.layers.tta.D4` names.
        scales: the image scales, e.g. `(0.75, 1.0, 1.25)`; the default
            `(1.0,)` predicts at the image's own size only. Logits are
            resized back before the average, as MMSegmentation's
            multi-scale test does.
        merge: "mean" (of probabilities).

    Returns:
        A `keras.Model` named `<model>_tta` with the same input and the
        same outputs (names and keys included).

    Raises:
        ValueError: an unknown transform or merge, a model whose outputs
            `kerasseg.outputs.describe` cannot read, transposing
            transforms for a model whose fixed input is not square, or
            scales other than 1 for a model with a fixed input size.

    Example:

    >>> model = kerasseg.build("unet_tiny", num_classes=3)
    >>> augmented = kerasseg.inference.tta(model, "flips")
    >>> x = np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3))
    >>> augmented.predict(x, verbose=0).shape
    (1, 16, 16, 3)
    """
    names = transforms_of(transforms)
    scales = scales_of(scales)
    MergeScores(None, merge=merge)  # checks `merge` before building
    described = outputs_module.describe(model)
    height, width = model.inputs[0].shape[1:3]
    transposing = [n for n in names if D4[n][0]]
    if transposing and height is not None and height != width:
        raise ValueError(
            f"Model {model.name!r} has a fixed {height}×{width} input, so "
            f"the transposing transforms {transposing} cannot go through "
            "it; use transforms='flips', or a model built with "
            "input_shape=(None, None, channels)."
        )
    resized = [v for v in scales if v != 1.0]
    if resized and (height is not None or width is not None):
        raise ValueError(
            f"Model {model.name!r} has a fixed {height}×{width} input, so "
            f"the scaled images (scales {resized}) cannot go through it; "
            "use scales=(1.0,), or a model built with "
            "input_shape=(None, None, channels)."
        )
    image = keras.Input(
        shape=model.inputs[0].shape[1:],
        dtype=model.inputs[0].dtype,
        name=model.inputs[0].name,
    )
    scaled = {
        scale: image
        if scale == 1.0
        else ResizeBy(scale, name=f"tta_{_scale_tag(scale)}resize")(image)
        for scale in scales
    }
    views = [(scale, name) for scale in scales for name in names]
    predictions = []
    for scale, name in views:
        view = D4Transform(name, name=f"tta_{_scale_tag(scale)}{name}")
        scores = model(view(scaled[scale]))
        predictions.append(
            scores if isinstance(scores, dict) else {None: scores}
        )
    merged = {}
    for output in described:
        family, from_logits = _merge_family(output)
        per_transform = []
        for (scale, name), scores in zip(views, predictions):
            values = scores[output.key]
            if output.kind != "labels":  # per-pixel: back onto the image
                values = D4Transform(name, inverse=True)(values)
                if scale != 1.0:
                    values = ResizeToReference()([values, image])
            per_transform.append(values)
        suffix = f"_{output.key}" if output.key else ""
        logits = MergeScores(
            family,
            from_logits=from_logits,
            merge=merge,
            name=f"tta_merge{suffix}",
        )(per_transform)
        head = "linear" if from_logits or family is None else family
        merged[output.key] = HeadOutput(
            head,
            meaning=output.kind,
            multilabel=output.multilabel,
            name=f"tta_output{suffix}",
        )(logits)
    result = merged if isinstance(model.output, dict) else merged[None]
    return keras.Model(image, result, name=f"{model.name}_tta")


__all__ = ["TRANSFORM_SETS", "scales_of", "transforms_of", "tta"]
