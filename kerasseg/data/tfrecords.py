"""Sharded TFRecords of `(image, mask)` examples: writer and reader.

Each record holds the image (8- or 16-bit) and the mask (16-bit, after
palette / colour / value mapping, so it holds class ids) as lossless PNG,
and the image's file name.
"""

import os

import numpy as np
import tensorflow as tf

from kerasseg import _validation as check
from kerasseg.data.files import apply_value_map
from kerasseg.data.files import pair_files
from kerasseg.data.files import read_image
from kerasseg.data.files import read_mask
from kerasseg.data.pipeline import SHUFFLE_BUFFER
from kerasseg.data.pipeline import check_example
from kerasseg.data.pipeline import finish
from kerasseg.data.pipeline import options

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "mask": tf.io.FixedLenFeature([], tf.string),
    "name": tf.io.FixedLenFeature([], tf.string),
    "image_bits": tf.io.FixedLenFeature([], tf.int64),
}


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _png(array, what, path, bits):
    array = np.asarray(array)
    if array.min() < 0 or array.max() >= 2**bits:
        raise ValueError(f"{what} {path} has values outside 0…{2**bits - 1}.")
    if array.ndim == 2:
        array = array[..., None]
    dtype = np.uint8 if bits == 8 else np.uint16
    return tf.io.encode_png(array.astype(dtype)).numpy()


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def write_tfrecords(
    images_dir,
    masks_dir,
    output_prefix,
    *,
    num_shards=4,
    mask_suffix="",
    value_map=None,
    color_map=None,
):
    """Converts a folder dataset into sharded TFRecord files.

    Args:
        images_dir, masks_dir, mask_suffix, value_map, color_map: as for
            `kerasseg.data.from_folders`.
        output_prefix: e.g. "records/train" writes
            "records/train-00000-of-00004.tfrecord", ….
        num_shards: number of files (examples are spread round-robin).

    Returns:
        The list of files written.
    """
    num_shards = check.positive_int("num_shards", num_shards)
    pairs = pair_files(images_dir, masks_dir, mask_suffix=mask_suffix)
    folder = os.path.dirname(os.fspath(output_prefix))
    if folder:
        os.makedirs(folder, exist_ok=True)
    paths = [
        f"{os.fspath(output_prefix)}-{i:05d}-of-{num_shards:05d}.tfrecord"
        for i in range(num_shards)
    ]
    writers = [tf.io.TFRecordWriter(path) for path in paths]
    try:
        for i, (image_path, mask_path) in enumerate(pairs):
            image = read_image(image_path)
            mask = apply_value_map(
                read_mask(mask_path, color_map=color_map), value_map
            )
            bits = 8 if image.max() <= 255 else 16
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "image": _bytes(_png(image, "Image", image_path, bits)),
                        # 16-bit masks: ids stay exact whatever their range.
                        "mask": _bytes(_png(mask, "Mask", mask_path, 16)),
                        "name": _bytes(os.path.basename(image_path).encode()),
                        "image_bits": _int(bits),
                    }
                )
            )
            writers[i % num_shards].write(example.SerializeToString())
    finally:
        for writer in writers:
            writer.close()
    return paths


def _parse(record, opts):
    example = tf.io.parse_single_example(record, _FEATURES)
    # decode_png rescales 8-bit data when asked for uint16: decode each
    # image at the depth it was written with.
    image = tf.cond(
        example["image_bits"] == 8,
        lambda: tf.cast(tf.io.decode_png(example["image"]), tf.uint16),
        lambda: tf.io.decode_png(example["image"], dtype=tf.uint16),
    )
    mask = tf.io.decode_png(example["mask"], dtype=tf.uint16)[..., 0]
    return check_example(
        tf.cast(image, tf.float32),
        tf.cast(mask, tf.int32),
        example["name"],
        opts,
    )


def from_tfrecords(file_pattern, *, channels, **kwargs):
    """A dataset of `(image, mask)` batches from `write_tfrecords` files.

    Args:
        file_pattern: a glob ("records/train-*.tfrecord") or list of files.
        channels: image channels (1 grey, 3 RGB, 4 RGBA).
        **kwargs: pipeline arguments as for `from_folders`
            (`num_classes`, `image_size`, `batch_size`, `augment`, …).

    Raises:
        ValueError: if no file matches. A mask value outside the declared
            classes raises while iterating, naming the example's file.
    """
    opts = options(**kwargs)
    files = (
        tf.io.gfile.glob(file_pattern)
        if isinstance(file_pattern, (str, os.PathLike))
        else [os.fspath(f) for f in file_pattern]
    )
    if not files:
        raise ValueError(f"No TFRecord file matches {file_pattern!r}.")
    files = sorted(files)
    ds = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)

    def parse(record):
        image, mask = _parse(record, opts)
        return tf.ensure_shape(image, [None, None, channels]), mask

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return finish(ds, opts, size=SHUFFLE_BUFFER)
