"""Instances from semantic masks, and the table of objects they hold.

A segmentation model gives a class per pixel; microscopy users count and
measure objects. `instances` turns a class mask into an instance label
image, one class at a time:

- connected components of each class (4- or 8-connected);
- optionally holes filled and objects smaller than `min_size` removed;
- optionally touching objects split by a watershed on the distance
  transform (or on a distance map a model predicted), smoothed by a
  Gaussian of `sigma` pixels and seeded at its h-maxima: two objects are
  split where the neck between them is at least `h` pixels narrower than
  their centres. The smoothing matters: the raw distance transform of a
  ragged mask has many small ridges (on the true masks of the 11 BBBC007
  training images, F1 at IoU > 0.5 of 0.93 unsmoothed and 0.99 with σ = 1,
  h = 1: `python benchmarks/instances.py`).

Labels are int32, 0 = background, 1…n in raster order of first pixel per
class; `classes[label]` is each label's class (`classes[0] == 0`), so
`classes[labels]` is the class mask back (less removed objects).

This is NumPy/SciPy/scikit-image code run on predicted masks after the
model, not inside it.
"""

import csv

import numpy as np
from scipy import ndimage

from kerasseg import _validation as check

METHODS = ("components", "watershed")
# The watershed's seed height and smoothing on a model's predicted
# "distance" output (`normalized_distance` units: 1 at an object's centre),
# chosen on the nuclei training images (python benchmarks/instances.py
# runs/recipes/distance_nuclei prints the sweep; docs/inference.md).
PREDICTED_H = 0.2
PREDICTED_SIGMA = 1.0
# One row of `objects`: its fields, in the CSV's column order.
OBJECT_FIELDS = (
    "id",
    "class",
    "area",
    "centroid_y",
    "centroid_x",
    "bbox_y0",
    "bbox_x0",
    "bbox_y1",
    "bbox_x1",
)


def _mask_2d(name, mask):
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D (height, width) array. "
            f"Received shape {mask.shape}."
        )
    if not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == np.bool_):
        raise ValueError(
            f"`{name}` must hold integer class ids or booleans (take the "
            f"argmax of scores first). Received dtype {mask.dtype}."
        )
    return mask


def _structure(connectivity):
    check.one_of("connectivity", connectivity, (1, 2))
    return ndimage.generate_binary_structure(2, connectivity)


def fill_holes(mask):
    """Fills the holes of a binary mask (background not reachable from
    the image border)."""
    return ndimage.binary_fill_holes(_mask_2d("mask", mask).astype(bool))


def remove_small(labels, min_size):
    """Sets labels covering fewer than `min_size` pixels to 0 (the other
    labels keep their values)."""
    labels = np.array(_mask_2d("labels", labels))
    if min_size <= 1:
        return labels
    areas = np.bincount(labels.ravel())
    small = areas < min_size
    small[0] = False
    labels[small[labels]] = 0
    return labels


def connected_components(mask, connectivity=1):
    """Labels the connected components of a binary mask (int32)."""
    labels, _ = ndimage.label(
        _mask_2d("mask", mask).astype(bool), structure=_structure(connectivity)
    )
    return labels.astype(np.int32)


def watershed_split(mask, h=1.0, sigma=1.0, distance=None, connectivity=1):
    """Splits touching objects of a binary mask.

    Seeds are the h-maxima of `distance` (default: the Euclidean distance
    to the background) smoothed by a Gaussian of `sigma`; a watershed on
    its negative grows them back to the mask. A component without a seed
    stays one object.

    Args:
        mask: (H, W) binary mask.
        h: how much higher (in pixels of distance) a seed must stand than
            the saddle joining it to another; larger splits less.
        sigma: the Gaussian smoothing of the distance map, in pixels
            (0: none).
        distance: optional (H, W) float map to split on instead, e.g. a
            predicted distance-to-boundary output.
        connectivity: 1 (4-neighbours) or 2 (8-neighbours).
    """
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    mask = _mask_2d("mask", mask).astype(bool)
    if not h > 0:
        raise ValueError(f"`h` must be > 0. Received: h={h!r}")
    if not sigma >= 0:
        raise ValueError(f"`sigma` must be >= 0. Received: sigma={sigma!r}")
    if distance is None:
        distance = ndimage.distance_transform_edt(mask)
    else:
        distance = np.asarray(distance, dtype=np.float64)
        if distance.shape != mask.shape:
            raise ValueError(
                f"`distance` must have the mask's shape {mask.shape}. "
                f"Received shape {distance.shape}."
            )
    structure = _structure(connectivity)
    if sigma:
        distance = ndimage.gaussian_filter(distance, sigma)
    distance = np.where(mask, distance, 0.0)
    seeds, _ = ndimage.label(h_maxima(distance, h), structure=structure)
    labels = watershed(-distance, seeds, mask=mask, connectivity=connectivity)
    # Components the seeds missed keep their own label.
    components, n = ndimage.label(mask & (labels == 0), structure=structure)
    labels = np.where(components > 0, components + labels.max(), labels)
    return _sequential(labels)


def normalized_distance(labels):
    """The distance target of a model's "distance" output: for each object
    of an instance label image, the Euclidean distance of its pixels to the
    nearest pixel outside it (background or another object), divided by
    the largest such distance in that object, so every object peaks at 1
    at its centre whatever its size, and touching objects meet at a
    valley. 0 on the background.

    A watershed on the predicted map (`watershed_split(..., distance=…)`)
    then finds one seed per object where the mask's own distance transform
    sees one blob. Scale-free targets keep the meaning of `h` the same for
    small and large objects, and survive the training pipeline's zoom.

    Args:
        labels: (H, W) integer instance labels, 0 = background; ids need
            not be consecutive.

    Returns:
        float32 (H, W) values in [0, 1].
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not (
        np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool
    ):
        raise ValueError(
            "`labels` must be an (H, W) integer instance label image; "
            f"received shape {labels.shape} of {labels.dtype}."
        )
    labels = labels.astype(np.int64)
    out = np.zeros(labels.shape, dtype=np.float32)
    for index, box in enumerate(ndimage.find_objects(labels)):
        if box is None:
            continue
        # One pixel of margin so the object's edge sees "outside".
        box = tuple(
            slice(max(b.start - 1, 0), min(b.stop + 1, n))
            for b, n in zip(box, labels.shape)
        )
        inside = labels[box] == index + 1
        # Padding with False: the image border counts as outside too.
        dist = ndimage.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1]
        peak = dist[inside].max()
        out[box][inside] = dist[inside] / peak
    return out


def seeds(distance):
    """`instances`' watershed arguments for a predicted distance map: {}
    for None (the watershed then splits on the mask's own distance
    transform, `h` in pixels), else the map with `PREDICTED_H` and
    `PREDICTED_SIGMA`, in its normalized units."""
    if distance is None:
        return {}
    return {"distance": distance, "h": PREDICTED_H, "sigma": PREDICTED_SIGMA}


def _sequential(labels):
    """Renumbers labels 1…n in raster order of each label's first pixel."""
    flat = labels.ravel()
    ids, first = np.unique(flat, return_index=True)
    ids, first = ids[ids > 0], first[ids > 0]
    order = ids[np.argsort(first)]
    lut = np.zeros(int(flat.max(initial=0)) + 1, dtype=np.int32)
    lut[order] = np.arange(1, order.size + 1, dtype=np.int32)
    return lut[labels]


def instances(
    mask,
    *,
    method="components",
    classes=None,
    background=0,
    ignore_index=None,
    min_size=0,
    fill=False,
    h=1.0,
    sigma=1.0,
    distance=None,
    connectivity=1,
):
    """Instance labels from a class mask.

    Args:
        mask: (H, W) integer class mask (or boolean: True = class 1).
        method: "components" or "watershed" (splits touching objects).
        classes: the classes to find objects of; default every class in
            the mask but `background` and `ignore_index`.
        background: the class that holds no objects.
        ignore_index: a label value that holds no objects either.
        min_size: objects with fewer pixels are removed.
        fill: fill each object's holes first.
        h, sigma, distance: the watershed's seed height, smoothing and
            optional distance map (see `watershed_split`).
        connectivity: 1 (4-neighbours) or 2 (8-neighbours).

    Returns:
        `(labels, classes)`: an int32 (H, W) label image (0 = no object)
        and an int32 array with `classes[label]` the class of each label.
    """
    mask = _mask_2d("mask", mask)
    check.one_of("method", method, METHODS)
    check.one_of("connectivity", connectivity, (1, 2))
    if not (isinstance(min_size, (int, np.integer)) and min_size >= 0):
        raise ValueError(
            f"`min_size` must be an integer >= 0. Received: {min_size!r}"
        )
    mask = mask.astype(np.int64)
    if classes is None:
        skip = {background, ignore_index}
        classes = [int(c) for c in np.unique(mask) if int(c) not in skip]
    labels = np.zeros(mask.shape, dtype=np.int32)
    label_class = [background]
    for c in classes:
        binary = mask == c
        if fill:
            binary = fill_holes(binary)
        if method == "watershed":
            found = watershed_split(
                binary,
                h=h,
                sigma=sigma,
                distance=distance,
                connectivity=connectivity,
            )
        else:
            found = connected_components(binary, connectivity)
        found = _sequential(remove_small(found, min_size))
        n = int(found.max(initial=0))
        # Filled holes may cover another class's pixels: first class wins.
        free = (found > 0) & (labels == 0)
        labels[free] = found[free] + len(label_class) - 1
        label_class.extend([int(c)] * n)
    return labels, np.asarray(label_class, dtype=np.int32)


def objects(labels, classes=None):
    """One row per object: id, class, area, centroid, bounding box.

    The bounding box is `(y0, x0, y1, x1)` with exclusive ends, as numpy
    slices. `classes[label]` gives each label's class (default 1 for all).
    """
    labels = _mask_2d("labels", labels)
    n = int(labels.max(initial=0))
    if classes is None:
        classes = np.ones(n + 1, dtype=np.int32)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    ids = [i for i in range(1, n + 1) if areas[i] > 0]
    centroids = ndimage.center_of_mass(np.ones_like(labels), labels, ids)
    boxes = ndimage.find_objects(labels)
    rows = []
    for i, (cy, cx) in zip(ids, centroids):
        ys, xs = boxes[i - 1]
        rows.append(
            dict(
                zip(
                    OBJECT_FIELDS,
                    (
                        i,
                        int(classes[i]),
                        int(areas[i]),
                        round(float(cy), 3),
                        round(float(cx), 3),
                        ys.start,
                        xs.start,
                        ys.stop,
                        xs.stop,
                    ),
                )
            )
        )
    return rows


def write_objects_csv(path, rows, class_names=None):
    """Writes `objects` rows as CSV (a `class_name` column when names are
    given)."""
    fields = list(OBJECT_FIELDS)
    if class_names is not None:
        fields.insert(2, "class_name")
        rows = [
            {**row, "class_name": class_names[row["class"]]} for row in rows
        ]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
