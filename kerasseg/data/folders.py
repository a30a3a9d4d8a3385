"""`tf.data` pipelines of `(image, mask)` batches from files."""

import warnings

import numpy as np
import tensorflow as tf

from kerasseg import _validation as check
from kerasseg.data.files import IMAGE_SUFFIXES
from kerasseg.data.files import DataError
from kerasseg.data.files import apply_value_map
from kerasseg.data.files import check_pair
from kerasseg.data.files import list_files
from kerasseg.data.files import match_channels
from kerasseg.data.files import pair_files
from kerasseg.data.files import read_image
from kerasseg.data.files import read_mask
from kerasseg.data.pipeline import finish
from kerasseg.data.pipeline import options

ON_ERROR = ("raise", "skip")


def _reader(
    num_classes, ignore_index, value_map, color_map, channels, convert=False
):
    def read(image_path, mask_path):
        image_path, mask_path = image_path.decode(), mask_path.decode()
        image = read_image(image_path)
        if convert:
            image = match_channels(image, channels, image_path)
        if image.shape[-1] != channels:
            raise DataError(
                f"Image {image_path} has {image.shape[-1]} channels; the "
                f"dataset's first image has {channels}."
            )
        if not mask_path:  # from_images: no labels, an all-zero mask
            return image, np.zeros(image.shape[:2], np.int32)
        mask = apply_value_map(
            read_mask(mask_path, color_map=color_map), value_map
        )
        check_pair(
            image_path,
            mask_path,
            image,
            mask,
            num_classes=num_classes,
            ignore_index=ignore_index,
        )
        return image, mask

    return read


def _channels(pairs, *, skip):
    """Channels of the first readable image (the first one unless skipping)."""
    for image_path, _ in pairs:
        try:
            return read_image(image_path).shape[-1]
        except DataError:
            if not skip:
                raise
    raise ValueError("No image can be read.")


def _check_one_size(pairs, opts):
    """Batches of whole images need one size; says so before any work."""
    if opts.image_size is not None or opts.batch_size == 1:
        return
    from PIL import Image

    sizes = {}
    for image_path, _ in pairs:
        try:
            with Image.open(image_path) as image:  # reads the header only
                size = image.size[::-1]
        except Exception:
            continue  # unreadable files are reported by the reader
        sizes.setdefault(size, image_path)
        if len(sizes) > 1:
            (a, first), (b, second) = sizes.items()
            raise ValueError(
                f"Images differ in size ({first} is {a[0]}×{a[1]}, "
                f"{second} is {b[0]}×{b[1]}), so batch_size="
                f"{opts.batch_size} cannot batch them whole. Pass "
                "image_size=(height, width) (resized, or the random crop "
                "with augment) or batch_size=1."
            )


def _usable(pairs, read):
    good, bad = [], []
    for pair in pairs:
        try:
            read(pair[0].encode(), pair[1].encode())
            good.append(pair)
        except DataError as error:
            bad.append(str(error))
    if bad:
        warnings.warn(
            f"Skipped {len(bad)} of {len(pairs)} image/mask pairs "
            f"(on_error='skip'): " + " | ".join(bad),
            stacklevel=3,
        )
    if not good:
        raise ValueError("No usable image/mask pair is left.")
    return good


def from_pairs(
    pairs,
    *,
    value_map=None,
    color_map=None,
    on_error="raise",
    channels=None,
    **kwargs,
):
    """Like `from_folders`, for an explicit list of `(image, mask)` paths.

    `channels` (1 or 3) converts every image to that many channels (grey
    repeated, RGB averaged, alpha dropped), for datasets that mix grey
    and colour files; None (default) takes the first image's channels and
    refuses an image with others."""
    opts = options(**kwargs)
    check.one_of("on_error", on_error, ON_ERROR)
    pairs = [(str(i), str(m)) for i, m in pairs]
    if not pairs:
        raise ValueError("`pairs` is empty.")
    _check_one_size(pairs, opts)
    convert = channels is not None
    if convert:
        check.one_of("channels", channels, (1, 3))
    else:
        channels = _channels(pairs, skip=on_error == "skip")
    read = _reader(
        opts.num_classes,
        opts.ignore_index,
        value_map,
        color_map,
        channels,
        convert,
    )
    if on_error == "skip":
        pairs = _usable(pairs, read)

    def load(image_path, mask_path):
        image, mask = tf.numpy_function(
            read, [image_path, mask_path], [tf.float32, tf.int32]
        )
        image.set_shape([None, None, channels])
        mask.set_shape([None, None])
        return image, mask

    images, masks = zip(*pairs)
    ds = tf.data.Dataset.from_tensor_slices((list(images), list(masks)))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return finish(ds, opts, size=len(pairs))


def from_folders(images_dir, masks_dir, *, mask_suffix="", **kwargs):
    """A `tf.data.Dataset` of `(image, mask)` batches from two folders.

    Images (PNG, JPEG, BMP, TIFF) and masks (single-channel PNG/TIFF of
    class ids, palette PNGs, or RGB colour masks with `color_map`) pair up
    by file stem. Images come as float32 `(batch, height, width,
    channels)` with their stored values (0–255: kerasseg models with
    ImageNet encoders normalize inside the graph); masks as int32
    `(batch, height, width)` class ids.

    Args:
        images_dir: folder of images.
        masks_dir: folder of masks.
        mask_suffix: text after the image stem in mask names ("_mask").
        num_classes: number of classes; a mask value outside 0…n-1 (and
            not `ignore_index`) is an error naming the file.
        image_size: `(height, width)` of the output. With `augment`, the
            random crop size; without, images are resized (bilinear) and
            masks too (nearest). None keeps the files' size (then all
            files must have the same size to batch).
        batch_size: examples per batch.
        augment: None, True (the default `Augment()`) or an `Augment`.
        shuffle: shuffle the examples every epoch.
        seed: seed of shuffling and augmentation (reproducible runs).
        ignore_index: mask value to ignore (e.g. 255); also what padded
            areas get.
        value_map: dict applied to mask values after reading, e.g.
            `{255: 1}` for {0, 255} masks or `{255: ignore}`.
        color_map: `{(r, g, b): class_id}` for RGB colour masks.
        cache: keep decoded examples in memory after the first epoch.
        reshuffle: a new order and new augmentations on every pass over
            the dataset (default). False repeats the first pass: for a
            pipeline built afresh each epoch with its own seed, as
            `kerasseg train` does, where it also keeps the order under
            tf.distribute, whose dataset rewrite changes the reshuffled
            order.
        repeat: repeat the examples endlessly, each pass augmented
            afresh, so that a few images fill every batch with different
            crops (take a number of steps from it).
        on_error: "raise" (a corrupt file, an image/mask size mismatch or
            an undeclared mask value stops with an error naming the file)
            or "skip" (every pair is checked first; the unusable ones are
            left out and a warning lists them and their count).

    Returns:
        A batched, prefetched `tf.data.Dataset` for `model.fit`.

    Raises:
        ValueError: unmatched files (all listed), bad arguments.
    """
    return from_pairs(
        pair_files(images_dir, masks_dir, mask_suffix=mask_suffix), **kwargs
    )


def from_images(images_dir, **kwargs):
    """`(image, mask)` batches of a folder of unlabelled images.

    For models that learn from images alone (autoencoder pretraining): the
    images come as in `from_folders`, with the same augmentation, resizing
    and checks; each mask is all zeros (class 0), so the pipeline and its
    geometric augmentation stay those of labelled data. Map the batches to
    `(image, image)` to train a reconstruction.

    Args:
        images_dir: folder of images (PNG, JPEG, BMP, TIFF).
        **kwargs: the arguments of `from_folders` (`num_classes` defaults
            to 2 and only sizes the unused masks' check).

    Returns:
        A batched, prefetched `tf.data.Dataset`.

    Raises:
        ValueError: no images in the folder, bad arguments.
    """
    images = list_files(images_dir, IMAGE_SUFFIXES, "images")
    if not images:
        raise ValueError(
            f"No images ({', '.join(IMAGE_SUFFIXES)}) found in {images_dir}."
        )
    kwargs.setdefault("num_classes", 2)
    return from_pairs([(path, "") for path in images], **kwargs)


def class_counts(dataset, num_classes, *, ignore_index=None):
    """Pixel count per class over a dataset of `(image, mask)` batches."""
    counts = np.zeros(num_classes, "int64")
    for _, mask in dataset:
        mask = np.asarray(mask).ravel()
        if ignore_index is not None:
            mask = mask[mask != ignore_index]
        counts += np.bincount(mask, minlength=num_classes)[:num_classes]
    return counts


def class_weights(counts):
    """Median-frequency class weights (Eigen and Fergus, 2015):
    `median(freq) / freq`; classes never seen get 0."""
    counts = np.asarray(counts, "float64")
    freq = counts / max(counts.sum(), 1)
    seen = freq > 0
    weights = np.zeros_like(freq)
    weights[seen] = np.median(freq[seen]) / freq[seen]
    return weights
