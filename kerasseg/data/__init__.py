"""Data: `tf.data` pipelines of `(image, mask)` batches, joint augmentation,
and built-in datasets. TensorFlow-specific by design (models stay
backend-neutral); only the dataset table (`specs`) loads without it.
"""

# Name → the submodule that defines it. Imported on first use, so the
# dataset table (`kerasseg.data.specs`, read by the zoo and the config
# checks) loads without TensorFlow; the pipelines check for it first.
_NAMES = {
    "Augment": "augment",
    "FASHION_CLASSES": "specs",
    "fashion_scenes": "datasets",
    "nuclei": "datasets",
    "DataError": "files",
    "pair_files": "files",
    "class_counts": "folders",
    "class_weights": "folders",
    "from_folders": "folders",
    "from_images": "folders",
    "from_pairs": "folders",
    "from_tfds": "tfds",
    "from_tfrecords": "tfrecords",
    "write_tfrecords": "tfrecords",
    "ade20k": "standard",
    "cityscapes": "standard",
    "oxford_pets": "standard",
    "voc": "standard",
}
_SUBMODULES = (
    "augment",
    "datasets",
    "files",
    "folders",
    "instances",
    "labels",
    "pipeline",
    "specs",
    "standard",
    "tfds",
    "tfrecords",
)
_LIGHT = ("labels", "specs")  # the submodules that need no TensorFlow


def __getattr__(name):
    import importlib

    module = _NAMES.get(name, name)
    if module not in _SUBMODULES:
        raise AttributeError(
            f"module 'kerasseg.data' has no attribute {name!r}"
        )
    if module not in _LIGHT:
        from kerasseg import _tensorflow

        _tensorflow.require(f"kerasseg.data.{name}")
    loaded = importlib.import_module(f"kerasseg.data.{module}")
    return loaded if module == name else getattr(loaded, name)


def __dir__():
    return __all__


__all__ = [
    "Augment",
    "DataError",
    "FASHION_CLASSES",
    "ade20k",
    "cityscapes",
    "class_counts",
    "class_weights",
    "from_folders",
    "from_images",
    "fashion_scenes",
    "from_pairs",
    "from_tfds",
    "from_tfrecords",
    "nuclei",
    "oxford_pets",
    "pair_files",
    "voc",
    "write_tfrecords",
]
