"""The part every source shares: shuffle, augment or resize, batch.

Sources (`folders.py`, `tfrecords.py`, `tfds.py`, `datasets.py`) make a
dataset of single `(image, mask)` examples, float32 `(height, width,
channels)` and int32 `(height, width)`; `finish` turns it into batches.
"""

import dataclasses

import tensorflow as tf

from kerasseg import _validation as check
from kerasseg.data.augment import Augment
from kerasseg.data.augment import augment_pair

# Shuffle buffer of the streaming sources (TFRecords, TFDS), whose size is
# not counted ahead of time.
SHUFFLE_BUFFER = 1024


@dataclasses.dataclass(frozen=True)
class Options:
    """Validated pipeline options (see `from_folders` for their meaning)."""

    num_classes: int
    image_size: tuple = None
    batch_size: int = 8
    augment: Augment = None
    shuffle: bool = True
    seed: int = None
    ignore_index: int = None
    cache: bool = True
    reshuffle: bool = True
    repeat: bool = False


def options(
    *,
    num_classes,
    image_size=None,
    batch_size=8,
    augment=None,
    shuffle=True,
    seed=None,
    ignore_index=None,
    cache=True,
    reshuffle=True,
    repeat=False,
):
    """Checks the shared pipeline arguments; returns `Options`."""
    num_classes = check.positive_int("num_classes", num_classes)
    batch_size = check.positive_int("batch_size", batch_size)
    if image_size is not None:
        image_size = tuple(
            check.positive_int("image_size", size) for size in image_size
        )
        if len(image_size) != 2:
            raise ValueError(
                "`image_size` must be (height, width). "
                f"Received: image_size={image_size!r}"
            )
    if augment is True:
        augment = Augment()
    if augment is False:
        augment = None
    if augment is not None and not isinstance(augment, Augment):
        raise ValueError(
            "`augment` must be None, True or a kerasseg.data.Augment. "
            f"Received: augment={augment!r}"
        )
    if augment is not None and image_size is None and batch_size > 1:
        raise ValueError(
            "Augmented examples (rescaled, rotated) differ in size, so "
            "batching them needs image_size=(height, width): the size of "
            f"the random crop. Received: image_size=None, batch_size="
            f"{batch_size}"
        )
    if augment is not None and augment.pads() and ignore_index is None:
        raise ValueError(
            "This augmentation can bring in areas from outside the image "
            f"({augment}); their mask pixels need an ignore_index. Pass "
            "ignore_index=… (and the same to the loss and metrics), or use "
            "scale=(1, …) and rotation=0."
        )
    return Options(
        num_classes=num_classes,
        image_size=image_size,
        batch_size=batch_size,
        augment=augment,
        shuffle=bool(shuffle),
        seed=seed,
        ignore_index=ignore_index,
        cache=bool(cache),
        reshuffle=bool(reshuffle),
        repeat=bool(repeat),
    )


def finish(ds, opts, *, size):
    """Cache → shuffle → augment or resize → batch → prefetch."""
    if opts.cache:
        ds = ds.cache()
    if opts.shuffle:
        ds = ds.shuffle(
            size, seed=opts.seed, reshuffle_each_iteration=opts.reshuffle
        )
    if opts.repeat:
        # Endless, each pass augmented afresh (the seeds below run on), so
        # a few images fill every batch with different crops.
        ds = ds.repeat()
    if opts.augment is not None:
        # One stateless seed per example, different every epoch and the
        # same sequence for the same `seed`.
        seeds = tf.data.Dataset.random(
            seed=opts.seed, rerandomize_each_iteration=opts.reshuffle
        ).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda pair, s: augment_pair(
                pair[0],
                pair[1],
                s,
                augment=opts.augment,
                image_size=opts.image_size,
                ignore_index=opts.ignore_index,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    elif opts.image_size is not None:
        size_hw = opts.image_size
        ds = ds.map(
            lambda image, mask: (
                tf.image.resize(image, size_hw, "bilinear"),
                tf.image.resize(mask[..., None], size_hw, "nearest")[..., 0],
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.batch(opts.batch_size).prefetch(tf.data.AUTOTUNE)


def check_example(image, mask, name, opts):
    """In-graph checks of one example; the error names it.

    Raises (while iterating) if the image and mask sizes differ or a mask
    value is neither a declared class nor `ignore_index`.
    """
    valid = (mask >= 0) & (mask < opts.num_classes)
    if opts.ignore_index is not None:
        valid |= mask == opts.ignore_index
    same_size = tf.reduce_all(tf.shape(image)[:2] == tf.shape(mask))
    checks = [
        tf.debugging.Assert(
            same_size,
            [
                "Image and mask sizes differ for",
                name,
                tf.shape(image)[:2],
                tf.shape(mask),
            ],
        ),
        tf.debugging.Assert(
            tf.reduce_all(valid),
            [
                "Mask of",
                name,
                "has values outside the declared",
                opts.num_classes,
                "classes and ignore_index",
                str(opts.ignore_index),
                ":",
                tf.boolean_mask(mask, ~valid)[:10],
            ],
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(image), tf.identity(mask)
