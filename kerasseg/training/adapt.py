"""Adapting a trained model to another microscope without labels.

A model's BatchNorm layers normalize each feature by the mean and
variance they saw in training. Images from another microscope, stain or
export pipeline shift those statistics, and the layers then pass on
features the rest of the network never learnt from. AdaBN (Li et al.,
"Revisiting Batch Normalization for Practical Domain Adaptation", 2016)
replaces the statistics with those of the new images: no labels, no
gradient step, a minute on a CPU. Every other weight stays as trained.

`adapt_batch_norm(model, folder)` does it in place from a folder of the
new images (`kerasseg adapt MODEL --images FOLDER --out adapted.keras` on
the command line). The adapted model is for those images: measured in
docs/recipes.md, the nuclei zoo entry rose on a shifted microscope and
fell on its own training microscope.
"""

import os

from kerasseg import _validation as check
from kerasseg.training import batch_norm

DEFAULT_BATCHES = 50
DEFAULT_BATCH_SIZE = 8
# The crop side; smaller images are cropped to their own smaller side,
# so that no crop holds padding.
DEFAULT_CROP = 256


def _smallest_side(paths):
    from PIL import Image

    sides = []
    for path in paths:
        with Image.open(path) as image:
            sides.append(min(image.size))
    return min(sides)


def adapt_batch_norm(
    model,
    images,
    *,
    batches=DEFAULT_BATCHES,
    batch_size=DEFAULT_BATCH_SIZE,
    crop=DEFAULT_CROP,
    seed=0,
):
    """Sets the model's BatchNorm statistics to those of new images.

    Each of `batches` batches holds `batch_size` random crops of the
    images (flipped and rotated by multiples of 90°, at their own scale),
    and each BatchNorm layer's moving mean and variance become the
    average of their batch statistics (`batch_norm.recalibrate`). Frozen
    BatchNorm layers (`trainable=False`) keep theirs.

    Args:
        model: a trained `keras.Model` with BatchNorm layers, taking raw
            pixel values as its training data did.
        images: a folder of images (PNG, JPEG, BMP, TIFF) from the new
            microscope; no masks. Grey or colour files are converted to
            the model's channels.
        batches: how many batches to average over.
        batch_size: crops per batch.
        crop: the crop side in pixels; images smaller than that are
            cropped to their smallest side.
        seed: the crops' seed.

    Returns:
        The number of batches used.

    Raises:
        ValueError: the model has no BatchNorm to adapt, the folder holds
            no images, or an argument is out of range.
        FileNotFoundError: the folder does not exist.
    """
    from kerasseg import data
    from kerasseg.data.files import IMAGE_SUFFIXES
    from kerasseg.data.files import list_files

    batches = check.positive_int("batches", batches)
    batch_size = check.positive_int("batch_size", batch_size)
    crop = check.positive_int("crop", crop)
    if not batch_norm.batch_norm_layers(model):
        raise ValueError(
            f"Model {model.name!r} has no trainable BatchNormalization "
            "layer, so there are no statistics to adapt."
        )
    if not os.path.isdir(images):
        raise FileNotFoundError(f"No such folder of images: {images}")
    paths = list_files(images, IMAGE_SUFFIXES, "images")
    if not paths:
        raise ValueError(
            f"No images ({', '.join(IMAGE_SUFFIXES)}) found in {images}."
        )
    side = min(crop, _smallest_side(paths))
    crops = data.from_images(
        images,
        image_size=(side, side),
        # Geometry only: intensity jitter would change the statistics.
        augment=data.Augment(
            scale=None,
            flip_vertical=True,
            rotate90=True,
            brightness=0.0,
            contrast=0.0,
        ),
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
        repeat=True,
        channels=model.input_shape[-1],
    )
    return batch_norm.recalibrate(model, crops.take(batches))
