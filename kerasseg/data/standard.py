"""The standard segmentation datasets, read from the folders their
official archives unpack to: Cityscapes, Pascal VOC 2012 (with SBD's
train_aug), ADE20K (SceneParsing) and Oxford-IIIT Pet.

Each loader maps the dataset's stored label values to the training ids
and ignore value everyone reports numbers on, so a model trained here is
scored on the same classes as in the literature:

- `cityscapes`: the 34 label ids of `*_labelIds.png` → 19 train ids,
  everything else → `ignore_index`;
- `voc`: the 21 palette indices of `SegmentationClass/*.png`, object
  borders (255) → `ignore_index`;
- `ade20k`: annotation value k (1…150) → class k - 1, 0 ("other") →
  `ignore_index`;
- `oxford_pets`: the trimap → background 0, pet 1, border 2 or ignored.

Class names and colour palettes are in `kerasseg.data.labels`; the
dataset table (`kerasseg.data.specs`) makes each loader a `data.dataset`
value of `kerasseg train` configs. `root` defaults to
`$KERASSEG_DATA/<dataset>` (`cityscapes`, `voc`, `ade20k`,
`oxford_pets`). Images come as 3-channel float32 (grey or CMYK files,
which VOC, ADE20K and the pets hold a few of, are converted); every
pipeline argument of `from_folders` (`image_size`, `augment`,
`batch_size`, …) applies.
"""

import os
import pathlib

from kerasseg import _validation as check
from kerasseg.data import labels
from kerasseg.data.folders import from_pairs

DATA_ENV = labels.DATA_ENV
# Loader → its folder under $KERASSEG_DATA.
FOLDERS = {
    "cityscapes": "cityscapes",
    "voc": "voc",
    "ade20k": "ade20k",
    "oxford_pets": "oxford_pets",
}
_SHOWN = 12  # entries of a folder listed in an error


def _root(root, name):
    if root is None:
        base = os.environ.get(DATA_ENV)
        if not base:
            raise ValueError(
                f"{name}: pass root= (the folder its archives were unpacked "
                f"into) or set {DATA_ENV} to a folder holding "
                f"{FOLDERS[name]}/."
            )
        root = os.path.join(base, FOLDERS[name])
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: the folder {root} does not exist.")
    return root


def _listing(folder):
    """What a folder holds, for an error message."""
    if not folder.is_dir():
        return "(no such folder)"
    names = sorted(
        p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
    )
    if not names:
        return "(empty)"
    more = f" … and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def _layout_error(name, root, expected, where=None):
    where = where or root
    return FileNotFoundError(
        f"{name}: {root} does not hold the layout its official archives "
        f"unpack to. Expected:\n{expected}\nFound in {where}: "
        f"{_listing(where)}"
    )


def _check_split(name, split, present, where):
    if split not in present:
        listed = ", ".join(map(repr, present)) or "none"
        raise ValueError(
            f"{name}: no split {split!r} in {where}. Splits present: {listed}."
        )


def _check_files(name, pairs, where):
    """Every image and label file of the split exists; lists the missing."""
    missing = [
        str(path) for pair in pairs for path in pair if not os.path.isfile(path)
    ]
    if missing:
        more = f" … ({len(missing)} in all)" if len(missing) > 5 else ""
        raise FileNotFoundError(
            f"{name}: {len(missing)} file(s) of {where} are missing: "
            f"{', '.join(missing[:5])}{more}"
        )
    if not pairs:
        raise FileNotFoundError(f"{name}: {where} lists no images.")


def _classes(name, kwargs, count):
    given = kwargs.pop("num_classes", count)
    if given != count:
        raise ValueError(
            f"{name} has {count} classes; got num_classes={given!r}."
        )
    return count


def _ignore(name, ignore_index):
    if ignore_index is None:
        raise ValueError(
            f"{name} marks pixels that belong to no trained class; pass "
            "ignore_index= (255, the value the literature uses)."
        )
    return ignore_index


# --- Cityscapes ----------------------------------------------------------

CITYSCAPES_MODES = {"fine": "gtFine", "coarse": "gtCoarse"}
CITYSCAPES_LAYOUT = (
    "  leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png\n"
    "  {gt}/<split>/<city>/<city>_<seq>_<frame>_{gt}_labelIds.png\n"
    "(leftImg8bit_trainvaltest.zip and {gt}{archive}.zip unpacked into "
    "one folder)"
)


def cityscapes_pairs(root=None, split="train", mode="fine"):
    """`(image, labelIds)` path pairs of a Cityscapes split."""
    check.one_of("mode", mode, tuple(CITYSCAPES_MODES))
    root = _root(root, "cityscapes")
    gt = CITYSCAPES_MODES[mode]
    layout = CITYSCAPES_LAYOUT.format(
        gt=gt, archive="_trainvaltest" if mode == "fine" else ""
    )
    images, annotations = root / "leftImg8bit", root / gt
    if not (images.is_dir() and annotations.is_dir()):
        raise _layout_error("cityscapes", root, layout)
    present = sorted(
        d.name
        for d in annotations.iterdir()
        if d.is_dir() and (images / d.name).is_dir()
    )
    _check_split("cityscapes", split, present, f"{images} and {annotations}")
    suffix = "_leftImg8bit.png"
    pairs = []
    for image in sorted((images / split).glob(f"*/*{suffix}")):
        stem = image.name[: -len(suffix)]
        label = (
            annotations
            / split
            / image.parent.name
            / f"{stem}_{gt}_labelIds.png"
        )
        pairs.append((str(image), str(label)))
    if not pairs:
        raise _layout_error("cityscapes", root, layout, images / split)
    _check_files("cityscapes", pairs, f"the {split!r} split")
    return pairs


def cityscapes(
    root=None, split="train", mode="fine", *, ignore_index=255, **kwargs
):
    """Cityscapes (Cordts et al., 2016): street scenes of 50 cities, 19
    trained classes.

    Args:
        root: the folder holding `leftImg8bit/` and `gtFine/` (or
            `gtCoarse/`); default `$KERASSEG_DATA/cityscapes`.
        split: "train", "val" or "test" (fine; test labels are withheld,
            all ignored), or "train", "train_extra", "val" (coarse).
        mode: "fine" or "coarse" annotations.
        ignore_index: the value of every pixel outside the 19 classes.
        **kwargs: pipeline arguments as for `from_folders`.

    Returns:
        `(image, mask)` batches, masks holding train ids 0…18 and
        `ignore_index`.
    """
    ignore_index = _ignore("cityscapes", ignore_index)
    classes = _classes("cityscapes", kwargs, len(labels.CITYSCAPES_CLASSES))
    pairs = cityscapes_pairs(root, split, mode)
    return from_pairs(
        pairs,
        value_map=labels.cityscapes_train_ids(ignore_index),
        num_classes=classes,
        ignore_index=ignore_index,
        channels=3,
        **kwargs,
    )


# --- Pascal VOC 2012 and SBD --------------------------------------------

VOC_LAYOUT = (
    "  VOCdevkit/VOC2012/JPEGImages/<id>.jpg\n"
    "  VOCdevkit/VOC2012/SegmentationClass/<id>.png\n"
    "  VOCdevkit/VOC2012/ImageSets/Segmentation/<split>.txt\n"
    "(VOCtrainval_11-May-2012.tar unpacked; root may also be VOCdevkit/ or "
    "VOC2012/ itself)"
)
SBD_LAYOUT = (
    "  SBD: benchmark_RELEASE/dataset/{cls/<id>.mat, train.txt, val.txt} "
    "beside VOCdevkit/ (benchmark.tgz unpacked), or\n"
    "  VOC2012/SegmentationClassAug/<id>.png with "
    "ImageSets/Segmentation/train_aug.txt (the converted set DeepLab and "
    "MMSegmentation use)"
)


def _voc_folder(root):
    for folder in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (folder / "JPEGImages").is_dir():
            return folder
    raise _layout_error("voc", root, VOC_LAYOUT)


def _ids(path):
    """The image ids of a split list (the first word of each line)."""
    lines = pathlib.Path(path).read_text().splitlines()
    return [
        line.split()[0]
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


def _sbd_folder(root, voc):
    candidates = [
        base / "benchmark_RELEASE" / "dataset"
        for base in (root, voc.parent, voc.parent.parent)
    ]
    for folder in candidates:
        if (folder / "cls").is_dir():
            return folder
    return None


def voc_pairs(root=None, split="train", augmented=False):
    """`(image, mask)` path pairs of a VOC 2012 split; with `augmented`,
    SBD's train_aug (10,582 images in the full sets)."""
    root = _root(root, "voc")
    voc = _voc_folder(root)
    lists = voc / "ImageSets" / "Segmentation"
    if not lists.is_dir():
        raise _layout_error("voc", root, VOC_LAYOUT, voc)
    present = sorted(p.stem for p in lists.glob("*.txt"))
    if augmented:
        if split != "train":
            raise ValueError(
                f"voc: augmented=True adds SBD's images to the training "
                f"split; split={split!r} is not augmented (pass "
                "augmented=False, e.g. for the 'val' split)."
            )
        return _train_aug(root, voc, lists, present)
    _check_split("voc", split, [p for p in present if p != "train_aug"], lists)
    pairs = [
        (
            str(voc / "JPEGImages" / f"{i}.jpg"),
            str(voc / "SegmentationClass" / f"{i}.png"),
        )
        for i in _ids(lists / f"{split}.txt")
    ]
    _check_files("voc", pairs, f"the {split!r} split ({lists / split}.txt)")
    return pairs


def _train_aug(root, voc, lists, present):
    if (voc / "SegmentationClassAug").is_dir() and "train_aug" in present:
        pairs = [
            (
                str(voc / "JPEGImages" / f"{i}.jpg"),
                str(voc / "SegmentationClassAug" / f"{i}.png"),
            )
            for i in _ids(lists / "train_aug.txt")
        ]
        _check_files("voc", pairs, "train_aug (SegmentationClassAug)")
        return pairs
    sbd = _sbd_folder(root, voc)
    if sbd is None:
        raise FileNotFoundError(
            f"voc: augmented=True needs SBD's annotations; none found for "
            f"{voc}. Expected one of:\n{SBD_LAYOUT}"
        )
    for name in ("train", "val"):
        if not (sbd / f"{name}.txt").is_file():
            raise _layout_error("voc", root, SBD_LAYOUT, sbd)
    for name in ("train", "val"):
        _check_split("voc", name, present, lists)
    voc_train, voc_val = (
        set(_ids(lists / f"{s}.txt")) for s in ("train", "val")
    )
    sbd_ids = set(_ids(sbd / "train.txt")) | set(_ids(sbd / "val.txt"))
    # train_aug: VOC's train images and SBD's, less VOC's val images (the
    # evaluation split); VOC's own masks where an image has one.
    pairs = []
    for i in sorted((voc_train | sbd_ids) - voc_val):
        own = voc / "SegmentationClass" / f"{i}.png"
        mask = own if i in voc_train else sbd / "cls" / f"{i}.mat"
        pairs.append((str(voc / "JPEGImages" / f"{i}.jpg"), str(mask)))
    _check_files("voc", pairs, f"train_aug (VOC and SBD in {sbd})")
    return pairs


def voc(
    root=None, split="train", augmented=False, *, ignore_index=255, **kwargs
):
    """Pascal VOC 2012 segmentation (Everingham et al., 2010): 20 object
    classes and background.

    Args:
        root: the folder holding `VOCdevkit/` (or `VOCdevkit/` or
            `VOC2012/` itself); default `$KERASSEG_DATA/voc`.
        split: a list of `ImageSets/Segmentation/` ("train", "val",
            "trainval").
        augmented: the "train" split becomes SBD's train_aug (Hariharan
            et al., 2011): VOC's and SBD's training images less VOC's val
            images, read from SBD's `.mat` files (`benchmark_RELEASE/`
            beside `VOCdevkit/`) or a converted `SegmentationClassAug/`.
        ignore_index: the value of object borders (255 in the files).
        **kwargs: pipeline arguments as for `from_folders`.

    Returns:
        `(image, mask)` batches, masks holding 0…20 and `ignore_index`.
    """
    ignore_index = _ignore("voc", ignore_index)
    classes = _classes("voc", kwargs, len(labels.VOC_CLASSES))
    pairs = voc_pairs(root, split, augmented)
    value_map = None
    if ignore_index != labels.VOC_BORDER:
        value_map = {labels.VOC_BORDER: ignore_index}
    return from_pairs(
        pairs,
        value_map=value_map,
        num_classes=classes,
        ignore_index=ignore_index,
        channels=3,
        **kwargs,
    )


# --- ADE20K --------------------------------------------------------------

ADE20K_SPLITS = {"train": "training", "val": "validation"}
ADE20K_LAYOUT = (
    "  ADEChallengeData2016/images/{training,validation}/<name>.jpg\n"
    "  ADEChallengeData2016/annotations/{training,validation}/<name>.png\n"
    "(ADEChallengeData2016.zip unpacked; root may also be "
    "ADEChallengeData2016/ itself)"
)


def ade20k_pairs(root=None, split="train"):
    """`(image, annotation)` path pairs of an ADE20K split."""
    root = _root(root, "ade20k")
    base = root
    if not (base / "annotations").is_dir():
        base = root / "ADEChallengeData2016"
    if not ((base / "images").is_dir() and (base / "annotations").is_dir()):
        raise _layout_error("ade20k", root, ADE20K_LAYOUT)
    present = [
        name
        for name, folder in ADE20K_SPLITS.items()
        if (base / "images" / folder).is_dir()
        and (base / "annotations" / folder).is_dir()
    ]
    _check_split("ade20k", split, present, base)
    folder = ADE20K_SPLITS[split]
    pairs = [
        (str(image), str(base / "annotations" / folder / f"{image.stem}.png"))
        for image in sorted((base / "images" / folder).glob("*.jpg"))
    ]
    _check_files("ade20k", pairs, base / "images" / folder)
    return pairs


def ade20k(root=None, split="train", *, ignore_index=255, **kwargs):
    """ADE20K, the SceneParsing benchmark (Zhou et al., 2017): 150
    classes of scenes and objects.

    Args:
        root: the folder holding `ADEChallengeData2016/` (or that folder
            itself); default `$KERASSEG_DATA/ade20k`.
        split: "train" (images/training) or "val" (images/validation).
        ignore_index: the value of annotation 0 ("other objects").
        **kwargs: pipeline arguments as for `from_folders`.

    Returns:
        `(image, mask)` batches, masks holding 0…149 (annotation value
        minus one) and `ignore_index`.
    """
    ignore_index = _ignore("ade20k", ignore_index)
    classes = _classes("ade20k", kwargs, len(labels.ADE20K_CLASSES))
    pairs = ade20k_pairs(root, split)
    return from_pairs(
        pairs,
        value_map=labels.ade20k_ids(ignore_index),
        num_classes=classes,
        ignore_index=ignore_index,
        channels=3,
        **kwargs,
    )


# --- Oxford-IIIT Pet ----------------------------------------------------

PETS_SPLITS = ("trainval", "test")
PETS_LAYOUT = (
    "  images/<Breed>_<n>.jpg\n"
    "  annotations/trimaps/<Breed>_<n>.png\n"
    "  annotations/{trainval,test}.txt\n"
    "(images.tar.gz and annotations.tar.gz unpacked into one folder)"
)


def oxford_pets_pairs(root=None, split="trainval"):
    """`(image, trimap)` path pairs of an Oxford-IIIT Pet split."""
    root = _root(root, "oxford_pets")
    annotations = root / "annotations"
    if not ((root / "images").is_dir() and (annotations / "trimaps").is_dir()):
        raise _layout_error("oxford_pets", root, PETS_LAYOUT)
    present = [s for s in PETS_SPLITS if (annotations / f"{s}.txt").is_file()]
    _check_split("oxford_pets", split, present, annotations)
    pairs = [
        (
            str(root / "images" / f"{i}.jpg"),
            str(annotations / "trimaps" / f"{i}.png"),
        )
        for i in _ids(annotations / f"{split}.txt")
    ]
    _check_files("oxford_pets", pairs, annotations / f"{split}.txt")
    return pairs


def oxford_pets(
    root=None, split="trainval", *, border="class", ignore_index=None, **kwargs
):
    """Oxford-IIIT Pet (Parkhi et al., 2012): cats and dogs of 37 breeds
    with a pet / background / border trimap, as `from_tfds` reads it.

    Args:
        root: the folder holding `images/` and `annotations/`; default
            `$KERASSEG_DATA/oxford_pets`.
        split: "trainval" or "test".
        border: "class" (the border is class 2: background, pet, border)
            or "ignore" (the border becomes `ignore_index`; 2 classes).
        ignore_index: the pipeline's ignore value (needed with
            `border="ignore"`).
        **kwargs: pipeline arguments as for `from_folders`.

    Returns:
        `(image, mask)` batches.
    """
    value_map = labels.pet_ids(border, ignore_index)
    count = len(labels.pet_classes(border))
    classes = _classes("oxford_pets", kwargs, count)
    pairs = oxford_pets_pairs(root, split)
    return from_pairs(
        pairs,
        value_map=value_map,
        num_classes=classes,
        ignore_index=ignore_index,
        channels=3,
        **kwargs,
    )
