"""SavedModel export in TF Serving's `<base>/<name>/<version>/` layout.

The SavedModel is written to a hidden temporary folder beside the version
folders and renamed into place, so a failed export leaves nothing that TF
Serving (which only loads all-digit folder names) could pick up.
"""

import os

import keras

from kerasseg import _files
from kerasseg import _validation as check
from kerasseg import outputs as out
from kerasseg.export import folding
from kerasseg.export import warmup
from kerasseg.export.signatures import Signatures
from kerasseg.export.tiled import TILED_SIGNATURE
from kerasseg.export.tiled import Tiled

# Size of the warmup requests when the export has no fixed `image_size`.
WARMUP_SIZE = (64, 64)
# The signature of the test-time-augmented model (`tta=`).
TTA_SIGNATURE = "serve_tta"


def _versions(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(int(n) for n in os.listdir(folder) if n.isdigit())


def _version(folder, version, overwrite):
    existing = _versions(folder)
    if version is None:
        return (existing[-1] + 1) if existing else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(
            "`version` must be None (the next free version) or a "
            f"non-negative integer. Received: version={version!r}"
        )
    if version in existing and not overwrite:
        raise FileExistsError(
            f"{os.path.join(folder, str(version))} already exists. Pass "
            "overwrite=True to replace it, or version=None for the next "
            f"free version ({existing[-1] + 1})."
        )
    return version


def _image_size(model, image_size):
    if image_size is None:
        static = model.input_shape[1:3]
        return tuple(static) if None not in static else None
    try:
        size = tuple(image_size)
    except TypeError:
        size = ()
    if len(size) != 2:
        raise ValueError(
            "`image_size` must be None or (height, width). "
            f"Received: image_size={image_size!r}"
        )
    return tuple(check.positive_int("image_size", v) for v in size)


def saved_model(
    model,
    base_dir,
    *,
    name=None,
    version=None,
    overwrite=False,
    activation="auto",
    threshold=0.5,
    image_size=None,
    warmup_requests=True,
    tta=None,
    tta_scales=(1.0,),
    tile=None,
    tile_overlap=0.25,
    tile_blend="gaussian",
    tile_batch_size=4,
    fold_batch_norm=True,
):
    """Exports a model for TF Serving.

    Writes `base_dir/<name>/<version>/` with three signatures, all with
    dynamic batch, height and width:

    - `serving_default`: float32 `images (batch, height, width, C)`;
    - `serve_uint8`: uint8 `images` (raw pixels);
    - `serve_bytes`: string `images (batch,)`, each an encoded PNG, JPEG,
      BMP or GIF (what TF Serving's REST API delivers from base64).

    With `tta`, a fourth signature `serve_tta` (float32 `images`, the
    same outputs) answers with the test-time-augmented model
    `kerasseg.inference.tta(model, tta, scales=tta_scales)` beside the
    plain one; both share the model's variables.

    With `tile`, a signature `serve_tiled` (float32 `images` of any size)
    predicts by sliding windows inside the graph (`export.tiled`): tiles
    of `tile` px overlapping by `tile_overlap`, `tile_batch_size` tile
    positions per model call, blended as
    `kerasseg.training.predict.predict_tiled` blends them, equal to it
    within 1e-4; it answers the model's per-pixel class-score output's
    `probabilities` and `class_ids` at the image's size.

    Each answers, for a class-score output, `probabilities` (float32) and
    `class_ids` (int32: the argmax; for one sigmoid channel 1 where the
    probability exceeds `threshold`; for multi-label sigmoid outputs one
    0/1 per label); for a reconstruction, `reconstruction`; for a
    distance map (`multitask_unet(distance=True)`), `distance`. Models with a
    dict of outputs prefix each with its key (`mask_class_ids`,
    `label_probabilities`, …).

    Args:
        model: a kerasseg (or any Functional) `keras.Model`.
        base_dir: TF Serving's model base path is `base_dir/<name>`.
        name: the model's serving name; default `model.name`.
        version: the version folder; default the next free one (1 in an
            empty folder). An existing version is refused unless
            `overwrite=True`.
        overwrite: replace an existing version.
        activation: how outputs become probabilities: "auto" reads the
            head (logits get softmax, or sigmoid for one channel; a head
            that ends in softmax or sigmoid is left alone), or "softmax",
            "sigmoid", None.
        threshold: sigmoid probability above which a pixel counts as 1.
        image_size: None to run at each input's own size (default for
            models built with unknown height and width), or
            `(height, width)`: every input is resized to it and every map
            output resized back to the input's size, for any batch size.
        warmup_requests: write `assets.extra/tf_serving_warmup_requests`.
        tta: None, or the transforms of `kerasseg.inference.tta` ("flips",
            "d4" or a list of names) for the `serve_tta` signature.
        tta_scales: the image scales of `serve_tta` (`inference.tta`'s
            `scales`); the default predicts at the image's own size.
        tile: None, or the tile side (px, at least 8) of `serve_tiled`.
        tile_overlap: the fraction of a tile shared with each neighbour.
        tile_blend: "gaussian" (σ = tile / 8) or "linear".
        tile_batch_size: tile positions per model call in `serve_tiled`,
            each with every image of the request (`predict_tiled`'s
            `batch_size`): more use the CPU better, fewer use less memory.
        fold_batch_norm: the signatures run the model with each BatchNorm
            that follows a convolution folded into it
            (`kerasseg.export.folding`): the same outputs within float32
            rounding, faster. False runs the model's own graph.

    Returns:
        The path of the written version folder.

    Raises:
        FileExistsError: the version exists and `overwrite` is False.
        ValueError: an argument out of range, or outputs whose meaning
            cannot be read (then pass `activation`).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: {type(model).__name__}"
        )
    described = out.describe(model, activation)
    if not isinstance(fold_batch_norm, bool):
        raise TypeError(
            "`fold_batch_norm` must be True or False. Received: "
            f"fold_batch_norm={fold_batch_norm!r}"
        )
    # What the signatures run: `model` itself is left as it is.
    served = model
    if fold_batch_norm and folding.is_functional(model):
        served = folding.fold_batch_norm(model)
    tta_model = None
    if tta is not None:  # a bad transform list fails before any writing
        from kerasseg import inference

        tta_model = inference.tta(served, tta, scales=tta_scales)
    elif tuple(tta_scales) != (1.0,):
        raise ValueError(
            f"tta_scales={tta_scales!r} needs `tta` (the transforms of the "
            "serve_tta signature, e.g. tta='flips' or ['identity'])."
        )
    if tile is None and (tile_overlap, tile_blend, tile_batch_size) != (
        0.25,
        "gaussian",
        4,
    ):
        raise ValueError(
            "tile_overlap, tile_blend and tile_batch_size set the serve_tiled "
            "signature; give its `tile` too."
        )
    tiled_output = None
    if tile is not None:  # bad tiling fails before any writing
        from kerasseg.training import predict

        predict.check_tiling(tile, tile_overlap, tile_blend, 0.125)
        check.positive_int("tile_batch_size", tile_batch_size)
        tiled_output = out.segmentation_output(model, activation)
    image_size = _image_size(model, image_size)
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(
            f"`threshold` must be in [0, 1]. Received: threshold={threshold}"
        )
    name = model.name if name is None else str(name)
    if not name or os.sep in name or name.startswith("."):
        raise ValueError(
            "`name` must be a plain folder name (no separators, not hidden). "
            f"Received: name={name!r}"
        )
    folder = os.path.join(os.fspath(base_dir), name)
    version = _version(folder, version, overwrite)
    final = os.path.join(folder, str(version))

    serving = Signatures(
        served, described, image_size=image_size, threshold=threshold
    )
    archive = keras.export.ExportArchive()
    archive.track(served)
    specs = serving.specs()
    for signature, function in serving.functions().items():
        archive.add_endpoint(signature, function, [specs[signature]])
    if tta_model is not None:
        archive.track(tta_model)
        tta_serving = Signatures(
            tta_model,
            out.describe(tta_model),
            image_size=image_size,
            threshold=threshold,
        )
        archive.add_endpoint(
            TTA_SIGNATURE, tta_serving.serve_float, [specs["serving_default"]]
        )
    if tiled_output is not None:
        tiled = Tiled(
            serving,
            tiled_output,
            tile=tile,
            overlap=tile_overlap,
            blend=tile_blend,
            batch_size=tile_batch_size,
        )
        archive.add_endpoint(
            TILED_SIGNATURE, tiled.serve, [specs["serving_default"]]
        )
    with _files.atomic_folder(final, overwrite=overwrite) as tmp:
        archive.write_out(tmp, verbose=False)
        if warmup_requests:
            warmup.write(
                tmp,
                serving.channels,
                image_size or WARMUP_SIZE,
                model_name=name,
            )
    return final
