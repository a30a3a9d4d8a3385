"""Instance labels through the training pipeline, for a model that learns
a distance map (`multitask_unet(distance=True)`).

The instance label images travel through the same `tf.data` pipeline as
masks (cached, augmented with the image: nearest-neighbour resampling
keeps every id), with `FILL` for the pixels that augmentation brings in
from outside the image. After batching, `targets` turns them into the
mask (object = class 1) and the distance target
(`kerasseg.postprocess.normalized_distance`, computed per augmented crop,
so a zoomed or rotated nucleus still peaks at 1 at its centre).
"""

import numpy as np
import tensorflow as tf

# The instance id that stands for "outside the image" (pads, rotation
# corners): the largest a 16-bit label PNG holds, so no object's id can
# take it. Ids 0 … FILL - 1 are accepted.
FILL = 65535


def load(spec, split, **kwargs):
    """`(image, instance labels)` batches of a built-in dataset's `split`
    (a `kerasseg.data.specs.DatasetSpec` with `instance_pairs`); `kwargs`
    as for its masks (`image_size`, `augment`, `batch_size`, …), whose
    `num_classes` and `ignore_index` are replaced by the id range."""
    if not spec.instance_pairs:
        from kerasseg.data.specs import with_instance_labels

        raise ValueError(
            f"Dataset {spec.name!r} has no instance labels; a distance "
            "target is made from them. Built-in datasets with instance "
            f"labels: {', '.join(with_instance_labels())}."
        )
    kwargs.update(num_classes=FILL, ignore_index=FILL, target="instances")
    return spec.load(split, **kwargs)


def _distance_maps(instances):
    from kerasseg import postprocess

    maps = [
        postprocess.normalized_distance(np.where(x == FILL, 0, x))
        for x in instances
    ]
    return np.stack(maps)[..., None].astype("float32")


def targets(instances, ignore_index):
    """`(mask, distance)` of a batch of instance labels `(B, H, W)`.

    The mask is 1 on objects, 0 on background and `ignore_index` where
    the labels are `FILL` (outside the image); the distance target
    `(B, H, W, 1)` is 0 there, as on the background.
    """
    instances = tf.convert_to_tensor(instances)
    outside = tf.equal(instances, FILL)
    mask = tf.cast(instances > 0, instances.dtype)
    if ignore_index is not None:
        mask = tf.where(outside, tf.cast(ignore_index, mask.dtype), mask)
    distance = tf.numpy_function(_distance_maps, [instances], tf.float32)
    distance.set_shape([*instances.shape, 1])
    return mask, distance
