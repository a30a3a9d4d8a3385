"""Data: `tf.data` pipelines of `(image, mask)` batches, joint augmentation,
and built-in datasets. TensorFlow-specific by design (models stay
backend-neutral).
"""

from kerasseg.data.augment import Augment
from kerasseg.data.datasets import nuclei
from kerasseg.data.files import DataError
from kerasseg.data.files import pair_files
from kerasseg.data.folders import class_counts
from kerasseg.data.folders import class_weights
from kerasseg.data.folders import from_folders
from kerasseg.data.folders import from_pairs

__all__ = [
    "Augment",
    "DataError",
    "class_counts",
    "class_weights",
    "from_folders",
    "from_pairs",
    "nuclei",
    "pair_files",
]
