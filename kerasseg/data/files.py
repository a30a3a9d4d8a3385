"""Finding image/mask pairs on disk and reading them.

Images: PNG, JPEG, BMP and TIFF. Masks: single-channel PNG or TIFF of
class ids, palette ("P" mode, VOC-style) PNG whose palette indices are the
class ids, or RGB colour masks with a colour → class map. Reading goes
through Pillow, which handles TIFF and palette indices (TensorFlow decodes
neither).
"""

import pathlib

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp")


class DataError(ValueError):
    """A data file that cannot be used; the message names the file."""


def data_error_in(error):
    """The message of a `DataError` raised inside a tf.data pipeline, which
    TensorFlow hands on wrapped in an `InvalidArgumentError` with its
    traceback; None if `error` carries none."""
    marker = "DataError: "
    text = str(error)
    if marker not in text:
        return None
    return text.split(marker, 1)[1].split("\n", 1)[0].strip()


def list_files(folder, suffixes, role):
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"The {role} folder does not exist: {folder}")
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in suffixes
    )


def pair_files(images_dir, masks_dir, *, mask_suffix=""):
    """Pairs images and masks by file stem.

    Args:
        images_dir: folder of images.
        masks_dir: folder of masks.
        mask_suffix: text after the image's stem in a mask's stem, e.g.
            "_mask" pairs `cat.jpg` with `cat_mask.png`.

    Returns:
        Sorted list of `(image_path, mask_path)` strings.

    Raises:
        ValueError: listing every image without a mask and every mask
            without an image (not only the first), or duplicate stems.
    """
    images = list_files(images_dir, IMAGE_SUFFIXES, "images")
    masks = list_files(masks_dir, MASK_SUFFIXES, "masks")
    by_stem, duplicates = {}, []
    for path in images:
        if path.stem in by_stem:
            duplicates.append(path.name)
        by_stem[path.stem] = path
    mask_by_stem = {}
    for path in masks:
        stem = path.stem
        if mask_suffix and stem.endswith(mask_suffix):
            stem = stem[: -len(mask_suffix)]
        if stem in mask_by_stem:
            duplicates.append(path.name)
        mask_by_stem[stem] = path
    if duplicates:
        raise ValueError(
            f"Several files share a stem, so pairing is ambiguous: {duplicates}"
        )
    lonely_images = sorted(
        by_stem[s].name for s in by_stem.keys() - mask_by_stem.keys()
    )
    lonely_masks = sorted(
        mask_by_stem[s].name for s in mask_by_stem.keys() - by_stem.keys()
    )
    if lonely_images or lonely_masks:
        raise ValueError(
            f"Images and masks do not pair up by file stem "
            f"(mask_suffix={mask_suffix!r}). {len(lonely_images)} image(s) "
            f"in {images_dir} without a mask: {lonely_images}. "
            f"{len(lonely_masks)} mask(s) in {masks_dir} without an image: "
            f"{lonely_masks}."
        )
    if not by_stem:
        raise ValueError(
            f"No images ({', '.join(IMAGE_SUFFIXES)}) found in {images_dir}."
        )
    return [(str(by_stem[s]), str(mask_by_stem[s])) for s in sorted(by_stem)]


def _open(path):
    try:
        image = Image.open(path)
        image.load()
    except Exception as error:
        raise DataError(f"Cannot read {path}: {error}") from error
    return image


def read_image(path):
    """Reads an image as float32 `(height, width, channels)`, values as
    stored (0–255 for 8-bit files)."""
    image = _open(path)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("1", "CMYK", "YCbCr", "LA"):
        image = image.convert("RGB" if image.mode != "LA" else "L")
    array = np.asarray(image, dtype="float32")
    return array[..., None] if array.ndim == 2 else array


def read_mask(path, *, color_map=None):
    """Reads a mask as int32 `(height, width)` class ids.

    Palette PNGs give their palette indices; SBD's `.mat` annotations
    their `GTcls.Segmentation`. With `color_map` ({(r, g, b):
    class_id}) an RGB mask is mapped colour by colour; an unmapped colour
    raises. Without it an RGB mask is accepted only if its three channels
    are equal.
    """
    if str(path).endswith(".mat"):
        return _read_sbd(path)
    image = _open(path)
    if color_map is not None:
        rgb = np.asarray(image.convert("RGB"), dtype="int64")
        codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        lookup = {
            (r << 16) | (g << 8) | b: c for (r, g, b), c in color_map.items()
        }
        unique, inverse = np.unique(codes, return_inverse=True)
        missing = [
            tuple(int(v) for v in ((u >> 16) & 255, (u >> 8) & 255, u & 255))
            for u in unique
            if int(u) not in lookup
        ]
        if missing:
            raise DataError(
                f"Mask {path} has colours that color_map does not map: "
                f"{missing[:10]}"
            )
        values = np.array([lookup[int(u)] for u in unique], "int32")
        return values[inverse].reshape(codes.shape)
    array = np.asarray(image)
    if array.ndim == 3:
        if array.shape[-1] >= 3 and (
            np.array_equal(array[..., 0], array[..., 1])
            and np.array_equal(array[..., 0], array[..., 2])
        ):
            array = array[..., 0]
        else:
            raise DataError(
                f"Mask {path} has {array.shape[-1]} channels of different "
                "values; a mask must be single-channel class ids or a "
                "palette PNG. For RGB colour masks pass color_map={(r, g, "
                "b): class_id, ...}."
            )
    return array.astype("int32")


def match_channels(image, channels, path="image"):
    """`image` with the `channels` a model takes: an alpha channel (RGBA)
    is dropped, RGB becomes its mean for a one-channel model, grey is
    repeated for a three-channel one; anything else raises."""
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 4 and channels in (1, 3):
        image, have = image[..., :3], 3
    if have == 3 and channels == 1:
        return image.mean(-1, keepdims=True)
    if have == 1 and channels == 3:
        return np.repeat(image, 3, axis=-1)
    if have == channels:
        return image
    raise DataError(
        f"{path}: {image.shape[-1]} channels; the model takes {channels} "
        "(RGB, RGBA and grey files are converted to 1 or 3)."
    )


def _read_sbd(path):
    """The class ids of an SBD annotation (`cls/<id>.mat`, a MATLAB struct
    `GTcls` whose `Segmentation` holds them)."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
        array = np.asarray(mat["GTcls"].Segmentation)
    except Exception as error:
        raise DataError(
            f"Cannot read {path} as an SBD annotation (a .mat file with "
            f"GTcls.Segmentation): {error}"
        ) from error
    if array.ndim != 2:
        raise DataError(
            f"SBD annotation {path}: GTcls.Segmentation has shape "
            f"{array.shape}; expected (height, width)."
        )
    return array.astype("int32")


def apply_value_map(mask, value_map):
    """Returns `mask` with each value `v` in `value_map` replaced by
    `value_map[v]` (all replacements read the original values)."""
    if not value_map:
        return mask
    keys = np.fromiter(value_map.keys(), "int64", len(value_map))
    if mask.size and mask.min() >= 0 and keys.min() >= 0:
        size = max(int(mask.max()), int(keys.max())) + 1
        if size <= 65536:  # one table lookup instead of a pass per value
            table = np.arange(size, dtype=mask.dtype)
            table[keys] = np.fromiter(value_map.values(), "int64", len(keys))
            return table[mask]
    out = mask.copy()
    for source, target in value_map.items():
        out[mask == source] = target
    return out


def check_pair(
    image_path, mask_path, image, mask, *, num_classes, ignore_index
):
    """Raises DataError naming the file if the pair is unusable."""
    if image.shape[:2] != mask.shape:
        raise DataError(
            f"Image {image_path} is {image.shape[0]}×{image.shape[1]} but its "
            f"mask {mask_path} is {mask.shape[0]}×{mask.shape[1]}."
        )
    values = np.unique(mask)
    allowed = (values >= 0) & (values < num_classes)
    if ignore_index is not None:
        allowed |= values == ignore_index
    if not allowed.all():
        raise DataError(
            f"Mask {mask_path} has values {values[~allowed].tolist()[:10]} "
            f"outside the declared classes 0…{num_classes - 1}"
            + (
                f" and ignore_index {ignore_index}"
                if ignore_index is not None
                else ""
            )
            + ". Map them with value_map={…} or declare more classes."
        )
