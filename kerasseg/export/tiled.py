"""`serve_tiled`: sliding-window prediction inside the SavedModel.

An image larger than the tile is cut into overlapping tiles inside the
graph, as `kerasseg.training.predict.predict_tiled` cuts it in Python:
the same tile starts, the same window (its `window` and `margin`), the
probabilities of each tile weighted by the window, summed and divided by
the summed weights. Tile, overlap and blend are fixed at export; the
batch, height and width are not. The tiles go through the model one
position at a time (the whole request batch at once), so memory is one
tile batch plus the full-size sums.
"""

import tensorflow as tf

from kerasseg import _validation as check
from kerasseg import outputs as out
from kerasseg.training import predict

TILED_SIGNATURE = "serve_tiled"


class Tiled:
    """The `serve_tiled` function of one model.

    Args:
        serving: the model's `Signatures` (its traced model is reused).
        output: the model's one per-pixel class-score `outputs.Output`.
        tile: the tile side in pixels (at least 8).
        overlap: the fraction of a tile shared with each neighbour, in
            [0, 0.5].
        blend: "gaussian" or "linear" (`predict_tiled`'s).
        sigma_scale: the Gaussian's σ as a fraction of the tile side.
        batch_size: tile positions per model call (the last call takes
            those left); each position brings every image of the request.
    """

    def __init__(
        self,
        serving,
        output,
        *,
        tile,
        overlap=0.25,
        blend="gaussian",
        sigma_scale=0.125,
        batch_size=4,
    ):
        self.tile = predict.check_tiling(tile, overlap, blend, sigma_scale)
        self.batch_size = check.positive_int("batch_size", batch_size)
        static = serving.model.input_shape[1:3]
        if any(side is not None and side != self.tile for side in static):
            raise ValueError(
                f"Model {serving.model.name!r} has a fixed {static[0]}×"
                f"{static[1]} input, so its tiles must be that size; got "
                f"tile={self.tile}. Export a model built with "
                "input_shape=(None, None, channels), or use that tile."
            )
        self.serving = serving
        self.output = output
        margin = predict.margin(self.tile, overlap)
        self.stride = self.tile - margin
        self.weights = predict.window(self.tile, margin, blend, sigma_scale)
        values = serving.model.output
        if isinstance(values, dict):
            values = values[output.key]
        self.classes = values.shape[-1]

    def _starts(self, length):
        tile = self.tile

        def many():
            last = tf.reshape(length - tile, [1])
            return tf.concat([tf.range(0, length - tile, self.stride), last], 0)

        return tf.cond(length > tile, many, lambda: tf.zeros([1], tf.int32))

    def _axis_weights(self, length):
        # A side no longer than the tile is one tile wide: its weights
        # cancel in the division, so ones stand in for predict_tiled's
        # window of that side.
        full = tf.constant(self.weights, tf.float32)
        return tf.cond(
            length > self.tile,
            lambda: full,
            lambda: tf.ones([length], tf.float32),
        )

    def serve(self, images):
        """float32 `(batch, height, width, channels)` of any size → the
        output's `probabilities` and `class_ids` at full size."""
        shape = tf.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        channels = images.shape[-1]
        th = tf.minimum(self.tile, height)
        tw = tf.minimum(self.tile, width)
        rows, cols = self._starts(height), self._starts(width)
        weight = (
            self._axis_weights(height)[:, None]
            * self._axis_weights(width)[None, :]
        )[None, :, :, None]
        per_row = tf.size(cols)
        positions = tf.size(rows) * per_row

        def crop(start):  # every image's tile at one position
            return images[:, start[0] : start[0] + th, start[1] : start[1] + tw]

        def call(first, total, norm):
            count = tf.minimum(self.batch_size, positions - first)
            index = first + tf.range(count)
            starts = tf.stack(
                [
                    tf.gather(rows, index // per_row),
                    tf.gather(cols, index % per_row),
                ],
                axis=1,
            )
            tiles = tf.map_fn(
                crop,
                starts,
                fn_output_signature=tf.TensorSpec(
                    (None, None, None, channels), images.dtype
                ),
            )  # (count, batch, th, tw, channels), position-major
            tiles = tf.reshape(tiles, [count * batch, th, tw, channels])
            values = self.serving._run(tiles)[self.output.key]
            probs = out.probabilities(self.output, values)  # float32
            probs = tf.reshape(probs, [count, batch, th, tw, self.classes])

            def add(j, total, norm):
                r, c = starts[j, 0], starts[j, 1]
                pads = [
                    [0, 0],
                    [r, height - r - th],
                    [c, width - c - tw],
                    [0, 0],
                ]
                return (
                    j + 1,
                    total + tf.pad(probs[j] * weight, pads),
                    norm + tf.pad(weight, pads),
                )

            _, total, norm = tf.while_loop(
                lambda j, *_: j < count, add, [tf.constant(0), total, norm]
            )
            return first + count, total, norm

        _, total, norm = tf.while_loop(
            lambda first, *_: first < positions,
            call,
            [
                tf.constant(0),
                tf.zeros([batch, height, width, self.classes]),
                tf.zeros([1, height, width, 1]),
            ],
        )
        probs = total / norm
        ids = out.class_ids(self.output, probs, self.serving.threshold)
        return {
            self.output.name("probabilities"): probs,
            self.output.name("class_ids"): ids,
        }
