"""TensorFlow Datasets with an image and a segmentation mask feature."""

import numpy as np
import tensorflow as tf

from kerasseg.data import labels
from kerasseg.data.pipeline import SHUFFLE_BUFFER
from kerasseg.data.pipeline import check_example
from kerasseg.data.pipeline import finish
from kerasseg.data.pipeline import options


def _lookup(value_map):
    table = np.arange(65536, dtype="int32")
    for source, target in (value_map or {}).items():
        table[source] = target
    return tf.constant(table)


def from_tfds(
    name,
    split="train",
    *,
    image_key="image",
    mask_key="segmentation_mask",
    value_map=None,
    border="class",
    data_dir=None,
    download=True,
    **kwargs,
):
    """A dataset of `(image, mask)` batches from TensorFlow Datasets.

    Args:
        name: a TFDS name, e.g. "oxford_iiit_pet".
        split: a TFDS split ("train", "test[:10%]", …).
        image_key, mask_key: the features holding the image and the mask.
        value_map: dict applied to mask values. For "oxford_iiit_pet" the
            default maps the trimap to background 0, pet 1, border 2.
        border: "oxford_iiit_pet" only: "class" (border is class 2, 3
            classes) or "ignore" (border becomes `ignore_index`, 2
            classes).
        data_dir, download: passed to `tfds.load`.
        **kwargs: pipeline arguments as for `from_folders` (`num_classes`
            defaults to 3 or 2 for "oxford_iiit_pet").

    Returns:
        A batched `tf.data.Dataset`. An example whose image and mask
        sizes differ, or with an undeclared mask value, raises while
        iterating, naming the example.
    """
    import tensorflow_datasets as tfds

    if name.split(":")[0] == "oxford_iiit_pet":
        pet = labels.pet_ids(border, kwargs.get("ignore_index"))
        value_map = value_map or pet
        kwargs.setdefault("num_classes", len(labels.pet_classes(border)))
    opts = options(**kwargs)
    table = _lookup(value_map)
    ds = tfds.load(name, split=split, data_dir=data_dir, download=download)

    def convert(index, example):
        image = tf.cast(example[image_key], tf.float32)
        mask = example[mask_key]
        if mask.shape.rank == 3:
            mask = mask[..., 0]
        mask = tf.gather(table, tf.cast(mask, tf.int32))
        label = example.get("file_name", tf.strings.as_string(index))
        return check_example(image, mask, label, opts)

    ds = ds.enumerate().map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    return finish(ds, opts, size=SHUFFLE_BUFFER)
