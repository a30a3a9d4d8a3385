"""Data: `tf.data` pipelines of `(image, mask)` batches, joint augmentation,
and built-in datasets. TensorFlow-specific by design (models stay
backend-neutral).
"""

from kerasseg.data.augment import Augment
from kerasseg.data.datasets import FASHION_CLASSES
from kerasseg.data.datasets import fashion_scenes
from kerasseg.data.datasets import nuclei
from kerasseg.data.files import DataError
from kerasseg.data.files import pair_files
from kerasseg.data.folders import class_counts
from kerasseg.data.folders import class_weights
from kerasseg.data.folders import from_folders
from kerasseg.data.folders import from_images
from kerasseg.data.folders import from_pairs
from kerasseg.data.tfds import from_tfds
from kerasseg.data.tfrecords import from_tfrecords
from kerasseg.data.tfrecords import write_tfrecords

__all__ = [
    "Augment",
    "DataError",
    "FASHION_CLASSES",
    "class_counts",
    "class_weights",
    "from_folders",
    "from_images",
    "fashion_scenes",
    "from_pairs",
    "from_tfds",
    "from_tfrecords",
    "nuclei",
    "pair_files",
    "write_tfrecords",
]
