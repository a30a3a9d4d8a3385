"""Joint image/mask augmentation with TensorFlow's stateless random ops.

Geometric changes move image and mask together (the mask with nearest
neighbour, so it stays integer); colour changes and noise touch the image
only. Areas a transformation brings in from outside the image are 0 in the
image and `ignore_index` in the mask, so losses and metrics skip them.
Every random draw comes from a per-example seed, so a pipeline with a seed
is reproducible.
"""

import dataclasses
import math

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Augment:
    """What to randomize. The defaults are a mild, safe set.

    Attributes:
        scale: `(low, high)` factor for random rescaling before the crop to
            `image_size`, or None.
        flip_horizontal: random left-right flips.
        flip_vertical: random up-down flips.
        rotate90: random multiples of 90° (for data without an "up").
        rotation: maximum angle in degrees of a random small rotation.
        brightness: maximum brightness shift as a fraction of 255.
        contrast: maximum relative contrast change.
        hue: maximum hue shift (0–0.5; 3-channel images only).
        noise: standard deviation of Gaussian noise as a fraction of 255.
        gain: `(low, high)` range of a random multiplicative gain (a
            microscope's exposure or detector gain), or None.
        gamma: `(low, high)` range of a random gamma applied to the image
            scaled by its own maximum (`max · (x / max) ** gamma`), or None.
        blur: maximum standard deviation in pixels of a random Gaussian
            blur (defocus, a wider point-spread function); 0 for none.

    Intensity changes come after the crop, in the order gain, gamma,
    brightness, contrast, hue, blur, noise.
    """

    scale: tuple = (0.75, 1.25)
    flip_horizontal: bool = True
    flip_vertical: bool = False
    rotate90: bool = False
    rotation: float = 0.0
    brightness: float = 0.1
    contrast: float = 0.1
    hue: float = 0.0
    noise: float = 0.0
    gain: tuple = None
    gamma: tuple = None
    blur: float = 0.0

    def __post_init__(self):
        for name in ("scale", "gain", "gamma"):
            value = getattr(self, name)
            if value is None:
                continue
            ok = (
                isinstance(value, list | tuple)
                and len(value) == 2
                and all(isinstance(v, int | float) for v in value)
                and 0 < value[0] <= value[1]
            )
            if not ok:
                raise ValueError(
                    f"Augment.{name} must be None or (low, high) with "
                    f"0 < low <= high. Received: {name}={value!r}"
                )
            object.__setattr__(self, name, tuple(float(v) for v in value))
        for name in ("rotation", "brightness", "contrast", "hue", "noise"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(
                    f"Augment.{name} must be a number >= 0. "
                    f"Received: {name}={value!r}"
                )
        if not isinstance(self.blur, int | float) or not 0 <= self.blur <= 8:
            raise ValueError(
                "Augment.blur must be a number in [0, 8] (pixels). "
                f"Received: blur={self.blur!r}"
            )

    def pads(self):
        """Whether the mask can get areas from outside the image."""
        return bool(self.rotation) or (
            self.scale is not None and self.scale[0] < 1
        )


def _random_flip(image, mask, seed, axis):
    """Reverses image and mask along `axis` together, with probability 1/2."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    return tf.cond(
        flip,
        lambda: (tf.reverse(image, [axis]), tf.reverse(mask, [axis])),
        lambda: (image, mask),
    )


def _rotate(image, mask, angle, ignore_index):
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2):
    # a rotation about the image centre.
    cx, cy = (w - 1) / 2, (h - 1) / 2
    transform = tf.stack(
        [
            cos,
            -sin,
            cx - cos * cx + sin * cy,
            sin,
            cos,
            cy - sin * cx - cos * cy,
            0.0,
            0.0,
        ]
    )[None]

    def apply(x, interpolation, fill):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x[None],
            transforms=transform,
            output_shape=shape[:2],
            fill_value=tf.cast(fill, tf.float32),
            interpolation=interpolation,
            fill_mode="CONSTANT",
        )[0]

    image = apply(image, "BILINEAR", 0.0)
    mask = apply(mask[..., None], "NEAREST", ignore_index)[..., 0]
    return image, mask


def _crop_or_pad(image, mask, size, seed, ignore_index):
    height, width = size
    shape = tf.shape(image)
    pad_h = tf.maximum(height - shape[0], 0)
    pad_w = tf.maximum(width - shape[1], 0)
    if ignore_index is None:
        # Padding the mask with a class id would invent labels.
        with tf.control_dependencies(
            [
                tf.debugging.Assert(
                    (pad_h == 0) & (pad_w == 0),
                    [
                        "An image is smaller than image_size",
                        size,
                        "so its mask would need padding: pass ignore_index",
                        shape[:2],
                    ],
                )
            ]
        ):
            image = tf.identity(image)
    seeds = tf.random.experimental.stateless_split(seed, 4)
    top = tf.random.stateless_uniform([], seeds[0], 0, pad_h + 1, tf.int32)
    left = tf.random.stateless_uniform([], seeds[1], 0, pad_w + 1, tf.int32)
    paddings = [[top, pad_h - top], [left, pad_w - left]]
    image = tf.pad(image, paddings + [[0, 0]])
    mask = tf.pad(mask, paddings, constant_values=ignore_index or 0)
    shape = tf.shape(image)
    y = tf.random.stateless_uniform(
        [], seeds[2], 0, shape[0] - height + 1, tf.int32
    )
    x = tf.random.stateless_uniform(
        [], seeds[3], 0, shape[1] - width + 1, tf.int32
    )
    return (
        image[y : y + height, x : x + width],
        mask[y : y + height, x : x + width],
    )


def _gaussian_blur(image, sigma, radius):
    """Blurs `(h, w, c)` with a separable Gaussian of std `sigma` (a scalar
    tensor, may be 0) truncated at `radius` pixels; borders are mirrored
    (the image must be at least `radius` pixels high and wide)."""
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / tf.maximum(sigma, 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    x = tf.transpose(image, [2, 0, 1])[..., None]  # channels as a batch
    x = tf.pad(x, [[0, 0], [radius] * 2, [radius] * 2, [0, 0]], "SYMMETRIC")
    x = tf.nn.conv2d(x, kernel[:, None, None, None], 1, "VALID")
    x = tf.nn.conv2d(x, kernel[None, :, None, None], 1, "VALID")
    out = tf.transpose(x[..., 0], [1, 2, 0])
    out.set_shape(image.shape)
    return out


def augment_pair(image, mask, seed, *, augment, image_size, ignore_index):
    """Augments one `(image, mask)` pair with the stateless `seed` ([2])."""
    seeds = tf.random.experimental.stateless_split(seed, 13)
    if augment.rotate90:
        k = tf.random.stateless_uniform([], seeds[0], 0, 4, tf.int32)
        image = tf.image.rot90(image, k)
        mask = tf.image.rot90(mask[..., None], k)[..., 0]
    if augment.flip_horizontal:
        image, mask = _random_flip(image, mask, seeds[1], axis=1)
    if augment.flip_vertical:
        image, mask = _random_flip(image, mask, seeds[2], axis=0)
    if augment.scale is not None:
        low, high = augment.scale
        factor = tf.random.stateless_uniform([], seeds[3], low, high)
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        size = tf.maximum(tf.cast(tf.round(shape * factor), tf.int32), 1)
        image = tf.image.resize(image, size, "bilinear")
        mask = tf.image.resize(mask[..., None], size, "nearest")[..., 0]
    if augment.rotation:
        limit = math.radians(augment.rotation)
        angle = tf.random.stateless_uniform([], seeds[4], -limit, limit)
        image, mask = _rotate(image, mask, angle, ignore_index)
    if image_size is not None:
        image, mask = _crop_or_pad(
            image, mask, image_size, seeds[5], ignore_index
        )
    if augment.gain is not None:
        image = image * tf.random.stateless_uniform(
            [], seeds[10], augment.gain[0], augment.gain[1]
        )
    if augment.gamma is not None:
        # Log-uniform, so gamma and 1/gamma are equally likely in a
        # symmetric range.
        log_gamma = tf.random.stateless_uniform(
            [],
            seeds[11],
            math.log(augment.gamma[0]),
            math.log(augment.gamma[1]),
        )
        top = tf.maximum(tf.reduce_max(image), 1e-6)
        image = top * tf.pow(tf.maximum(image, 0.0) / top, tf.exp(log_gamma))
    if augment.brightness:
        delta = augment.brightness * 255.0
        image = image + tf.random.stateless_uniform([], seeds[6], -delta, delta)
    if augment.contrast:
        image = tf.image.stateless_random_contrast(
            image, 1 - augment.contrast, 1 + augment.contrast, seeds[7]
        )
    if augment.hue and image.shape[-1] == 3:
        image = 255.0 * tf.image.stateless_random_hue(
            image / 255.0, augment.hue, seeds[8]
        )
    if augment.blur:
        sigma = tf.random.stateless_uniform([], seeds[12], 0.0, augment.blur)
        image = _gaussian_blur(image, sigma, math.ceil(3 * augment.blur))
    if augment.noise:
        image = image + augment.noise * 255.0 * tf.random.stateless_normal(
            tf.shape(image), seeds[9]
        )
    return image, mask
