"""Prediction on images of any size: tiled sliding windows, PNG outputs.

An image larger than `tile` is cut into overlapping tiles. Each tile's
probabilities are weighted by a window over the tile and the weighted sums
are divided by the summed weights, so neighbouring tiles blend instead of
meeting at a seam. The window is a Gaussian centred on the tile (σ =
tile / 8 by default, as nnU-Net and MONAI weigh sliding windows: a tile's
edges, where its model saw the least context, count least), or a linear
ramp over the overlap. Memory is that of one batch of tiles plus two
float32 maps of the image.
"""

import os
import pathlib

import numpy as np

from kerasseg import _validation as check
from kerasseg.data.files import match_channels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


BLENDS = ("gaussian", "linear")


def _gaussian(size, sigma_scale):
    """1-D Gaussian weights centred on the tile, σ = `sigma_scale` × size,
    peak 1 (the tile's 2-D window is the outer product of two)."""
    centre = (size - 1) / 2
    sigma = sigma_scale * size
    offsets = np.arange(size, dtype="float64") - centre
    return np.exp(-(offsets**2) / (2 * sigma**2)).astype("float32")


def _window(size, overlap):
    """1-D blending weights: 1 in the middle, ramping down over `overlap`
    pixels at each end to 1 / (overlap + 1)."""
    weights = np.ones(size, "float32")
    ramp = np.arange(1, overlap + 1, dtype="float32") / (overlap + 1)
    if overlap:
        weights[:overlap] = ramp
        weights[-overlap:] = ramp[::-1]
    return weights


def check_tiling(tile, overlap, blend, sigma_scale):
    """Checks sliding-window settings (`predict_tiled`'s and the export's
    `serve_tiled`'s); returns the tile side as an int."""
    if not 0 <= overlap <= 0.5:
        raise ValueError(f"`overlap` must be in [0, 0.5]; received {overlap}.")
    if blend not in BLENDS:
        raise ValueError(
            f"`blend` must be one of {BLENDS}; received {blend!r}."
        )
    if not 0 < sigma_scale <= 1:
        raise ValueError(
            f"`sigma_scale` must be in (0, 1]; received {sigma_scale}."
        )
    if isinstance(tile, bool) or int(tile) != tile or tile < 8:
        raise ValueError(
            f"`tile` must be an integer of at least 8 pixels; received {tile}."
        )
    return int(tile)


def margin(tile, overlap):
    """Pixels a tile of side `tile` shares with each neighbour."""
    return int(round(tile * overlap))


def window(size, overlap_pixels, blend, sigma_scale):
    """1-D weights over a tile's side: the Gaussian (σ = `sigma_scale` ×
    size) or the linear ramp over `overlap_pixels`; a 2-D tile's window is
    the outer product of its rows' and columns'."""
    if blend == "gaussian":
        return _gaussian(size, sigma_scale)
    return _window(size, overlap_pixels)


def _starts(length, tile, stride):
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def predict_tiled(
    model,
    image,
    *,
    tile=512,
    overlap=0.25,
    batch_size=4,
    activation="auto",
    blend="gaussian",
    sigma_scale=0.125,
    outputs=None,
):
    """Probabilities for one image of any size, tile by tile.

    Args:
        model: a segmentation `keras.Model` (logits or probabilities out;
            of a dict-output model, its one per-pixel class-score output,
            e.g. a multi-task model's "mask").
        image: `(height, width, channels)` array of the model's input
            values.
        tile: tile height and width in pixels. Images no larger than this
            go through the model whole.
        overlap: fraction of a tile shared with each neighbour, in [0, 0.5].
        batch_size: tiles per model call.
        activation: "auto" (softmax, or sigmoid for one channel, unless
            the model already ends in one), "softmax", "sigmoid" or None.
        blend: how overlapping tiles are weighted: "gaussian" (default, σ
            = `sigma_scale` × tile side) or "linear" (a ramp over the
            overlap, never reaching zero).
        sigma_scale: the Gaussian's σ as a fraction of the tile side
            (1/8 by default, as nnU-Net and MONAI).
        outputs: None, or the keys of a dict-output model's per-pixel
            outputs to blend, all from the same model calls (e.g.
            `["mask", "distance"]`); class scores become probabilities,
            a reconstruction or distance map stays as it is.

    Returns:
        float32 `(height, width, classes)` probabilities; with `outputs`,
        a dict of such maps by key.
    """
    from kerasseg import outputs as outputs_module

    image, tile = _checked(image, tile, overlap, blend, sigma_scale, batch_size)
    described = outputs_module.describe(model, activation)
    if outputs is None:
        selected = [outputs_module.segmentation_of(model, described)]
    else:
        selected = _per_pixel_outputs(model, described, outputs)
    maps = _blend(
        model, image, selected, tile, overlap, batch_size, blend, sigma_scale
    )
    return maps[selected[0].key] if outputs is None else maps


def _checked(image, tile, overlap, blend, sigma_scale, batch_size):
    """`(image as float32, tile)` after checking them and the tiling."""
    check.positive_int("batch_size", batch_size)
    image = np.asarray(image, "float32")
    if image.ndim != 3:
        raise ValueError(
            "`image` must be (height, width, channels); "
            f"received shape {image.shape}."
        )
    return image, check_tiling(tile, overlap, blend, sigma_scale)


def _blend(
    model, image, selected, tile, overlap, batch_size, blend, sigma_scale
):
    """`{key: (height, width, channels) map}` of the `selected` described
    outputs, blended over the tiles of one checked image."""
    from kerasseg import outputs as outputs_module

    height, width = image.shape[:2]
    th, tw = min(tile, height), min(tile, width)
    margin_h = margin(th, overlap) if th < height else 0
    margin_w = margin(tw, overlap) if tw < width else 0
    rows = _starts(height, th, th - margin_h)
    cols = _starts(width, tw, tw - margin_w)
    weight = (
        window(th, margin_h, blend, sigma_scale)[:, None]
        * window(tw, margin_w, blend, sigma_scale)[None, :]
    )
    totals = {}
    norm = np.zeros((height, width, 1), "float32")
    boxes = [(r, c) for r in rows for c in cols]
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start : start + batch_size]
        tiles = np.stack([image[r : r + th, c : c + tw] for r, c in chunk])
        values = model.predict_on_batch(tiles)
        for output in selected:
            scores = values if output.key is None else values[output.key]
            probs = np.asarray(outputs_module.probabilities(output, scores))
            if output.key not in totals:
                totals[output.key] = np.zeros(
                    (height, width, probs.shape[-1]), "float32"
                )
            total = totals[output.key]
            for (r, c), p in zip(chunk, probs):
                total[r : r + th, c : c + tw] += p * weight[..., None]
        for r, c in chunk:
            norm[r : r + th, c : c + tw] += weight[..., None]
    return {key: total / norm for key, total in totals.items()}


def _per_pixel_outputs(model, described, keys):
    """The described outputs of `keys`, each a per-pixel output of the
    model; a clear error naming what it has otherwise."""
    per_pixel = {o.key: o for o in described if o.kind != "labels"}
    if isinstance(keys, str) or not keys:
        raise ValueError(
            "`outputs` must be a non-empty list of output keys; received "
            f"{keys!r}. Per-pixel outputs of {model.name!r}: "
            f"{list(per_pixel)}."
        )
    unknown = [k for k in keys if k not in per_pixel]
    if unknown:
        raise ValueError(
            f"`outputs` names {unknown}, which are not per-pixel outputs of "
            f"model {model.name!r}; it has {list(per_pixel)}."
        )
    return [per_pixel[k] for k in keys]


def _distance_of(described):
    """The described "distance" output, or None."""
    return next((o for o in described if o.kind == "distance"), None)


def distance_output(model):
    """The key of the model's "distance" output
    (`multitask_unet(distance=True)`), or None if it has none."""
    from kerasseg import outputs as outputs_module

    found = _distance_of(outputs_module.describe(model))
    return found.key if found else None


def predict_with_distance(
    model,
    image,
    *,
    tile=512,
    overlap=0.25,
    batch_size=4,
    blend="gaussian",
    sigma_scale=0.125,
):
    """`(probabilities, distance)` of one image as `predict_tiled` gives
    them: the segmentation probabilities and, where the model has a
    "distance" output, its `(height, width)` map (else None), from the
    same calls."""
    from kerasseg import outputs as outputs_module

    image, tile = _checked(image, tile, overlap, blend, sigma_scale, batch_size)
    described = outputs_module.describe(model)
    mask = outputs_module.segmentation_of(model, described)
    distance = _distance_of(described)
    maps = _blend(
        model,
        image,
        [mask] if distance is None else [mask, distance],
        tile,
        overlap,
        batch_size,
        blend,
        sigma_scale,
    )
    if distance is None:
        return maps[mask.key], None
    return maps[mask.key], maps[distance.key][..., 0]


def class_ids(probabilities, threshold=0.5, *, multilabel=False):
    """Class ids from probabilities: the argmax, or for one channel 1 above
    `threshold`; multi-label probabilities give one 0/1 map per label
    (`kerasseg.outputs.class_ids`, as the export's `class_ids`)."""
    from kerasseg import outputs

    output = outputs.Output(None, "segmentation", None, multilabel)
    return np.asarray(outputs.class_ids(output, probabilities, threshold))


def palette(num_classes, given=None):
    """Distinct RGB colours, class 0 black: `(num_classes, 3)` uint8. The
    first classes take `given` colours where there are any (a dataset's
    own palette), the rest kerasseg's."""
    colours = [(0, 0, 0)]
    for i in range(1, num_classes):
        hue = (i * 0.618034) % 1.0
        h = hue * 6
        x = 1 - abs(h % 2 - 1)
        rgb = [(1, x, 0), (x, 1, 0), (0, 1, x), (0, x, 1), (x, 0, 1), (1, 0, x)]
        colours.append(tuple(int(255 * v) for v in rgb[int(h) % 6]))
    table = np.array(colours, "uint8")
    if given is not None and len(given):
        own = np.asarray(given, "uint8").reshape(-1, 3)[:num_classes]
        table[: len(own)] = own
    return table


def overlay(image, ids, *, alpha=0.5, colours=None, background=0):
    """The image (grey or RGB, 0–255) with class colours blended in; the
    `background` class (None: none) left as it is. `colours`: one RGB
    colour per class (a dataset's own palette); classes beyond it, or all
    without it, get `palette`'s."""
    image = np.asarray(image, "float32")
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    image = image[..., :3]
    colours = palette(int(ids.max()) + 1, colours)[ids].astype("float32")
    coloured = (
        np.ones(ids.shape, bool) if background is None else ids != background
    )
    blend = np.where(
        coloured[..., None], (1 - alpha) * image + alpha * colours, image
    )
    return np.clip(blend, 0, 255).astype("uint8")


def input_files(inputs):
    """Image files from file and folder paths (folders: sorted, images
    only)."""
    files = []
    for item in inputs:
        path = pathlib.Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise FileNotFoundError(f"No images in folder {path}.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")
    return files


def _choose_compile(model, image, tile, batch_size):
    """Compiles `model` for prediction with XLA or without, whichever runs
    a batch of this image's tiles faster here (`training.xla`)."""
    from kerasseg.training import xla

    th, tw = min(tile, image.shape[0]), min(tile, image.shape[1])
    tiles = np.repeat(image[None, :th, :tw], batch_size, axis=0)
    jit, _ = xla.choose_jit_compile(model, tiles)
    model.compile(jit_compile=jit)
    return jit


def predict_files(
    model,
    inputs,
    out_dir,
    *,
    tile=512,
    overlap=0.25,
    batch_size=4,
    jit_compile="auto",
    blend="gaussian",
    instances=None,
    min_size=0,
    colours=None,
    background=0,
):
    """Writes `<stem>.png` (class ids) and `<stem>_overlay.png` for each
    image in `inputs` (files or folders) into `out_dir`; with `instances`,
    also `<stem>_instances.png` (16-bit object labels, 0 = none) and
    `<stem>_objects.csv` (id, class, area, centroid, bounding box).

    Args:
        model: a segmentation `keras.Model`.
        inputs: image files or folders.
        out_dir: output folder (created).
        tile, overlap, batch_size, blend: as for `predict_tiled`.
        jit_compile: True (XLA), False, or "auto": time both on a batch of
            the first image's tiles and predict with the faster (the model
            is recompiled for prediction).
        instances: None, "components" or "watershed": how each class's
            mask is cut into objects (`kerasseg.postprocess.instances`;
            the watershed splits touching objects, on the model's
            "distance" output where it has one, else on the mask's
            distance transform).
        min_size: objects with fewer pixels are dropped (with `instances`).
        colours: the overlays' class colours (`overlay`); default the
            model's `palette` (a zoo entry's), else kerasseg's.
        background: the class the overlays leave uncoloured (None: none).

    Returns:
        The list of written class-id PNG paths.
    """
    check.positive_int("batch_size", batch_size)
    if jit_compile not in (True, False, "auto"):
        raise ValueError(
            "`jit_compile` must be True, False or 'auto'; received "
            f"{jit_compile!r}."
        )
    if blend not in BLENDS:
        raise ValueError(
            f"`blend` must be one of {BLENDS}; received {blend!r}."
        )
    if instances is not None:
        from kerasseg import postprocess

        if instances not in postprocess.METHODS:
            raise ValueError(
                f"`instances` must be None or one of {postprocess.METHODS}; "
                f"received {instances!r}."
            )
    if not (isinstance(min_size, int) and min_size >= 0):
        raise ValueError(
            f"`min_size` must be an integer >= 0; received {min_size!r}."
        )
    if jit_compile != "auto":
        model.compile(jit_compile=jit_compile)
    from PIL import Image

    from kerasseg import outputs
    from kerasseg.data.files import read_image

    if outputs.segmentation_output(model).multilabel:
        raise ValueError(
            f"Model {model.name!r} gives multi-label masks (several labels "
            "per pixel); predict_files writes one class id per pixel. Use "
            "predict_tiled for each label's probabilities."
        )
    if colours is None:
        colours = getattr(model, "palette", None)
    channels = model.input_shape[-1]
    files = input_files(inputs)  # missing inputs fail before any output
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for path in files:
        image = match_channels(read_image(str(path)), channels, path)
        if jit_compile == "auto":
            jit_compile = _choose_compile(model, image, tile, batch_size)
        probs, distance = predict_with_distance(
            model,
            image,
            tile=tile,
            overlap=overlap,
            batch_size=batch_size,
            blend=blend,
        )
        ids = class_ids(probs)
        dtype = "uint8" if ids.max() < 256 else "uint16"
        target = os.path.join(out_dir, f"{path.stem}.png")
        Image.fromarray(ids.astype(dtype)).save(target)
        drawn = overlay(image, ids, colours=colours, background=background)
        Image.fromarray(drawn).save(
            os.path.join(out_dir, f"{path.stem}_overlay.png")
        )
        if instances is not None:
            _write_instances(
                ids, out_dir, path.stem, instances, min_size, model, distance
            )
        written.append(target)
    return written


def _write_instances(ids, out_dir, stem, method, min_size, model, distance):
    from PIL import Image

    from kerasseg import postprocess

    labels, classes = postprocess.instances(
        ids, method=method, min_size=min_size, **postprocess.seeds(distance)
    )
    if labels.max() > 65535:
        raise ValueError(
            f"{stem}: {labels.max()} objects do not fit a 16-bit label PNG "
            "(at most 65,535); raise `min_size` or tile the image."
        )
    Image.fromarray(labels.astype("uint16")).save(
        os.path.join(out_dir, f"{stem}_instances.png")
    )
    names = getattr(model, "class_names", None)
    postprocess.write_objects_csv(
        os.path.join(out_dir, f"{stem}_objects.csv"),
        postprocess.objects(labels, classes),
        list(names) if names else None,
    )
