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
    ):
        self.tile = predict.check_tiling(tile, overlap, blend, sigma_scale)
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
        th = tf.minimum(self.tile, height)
        tw = tf.minimum(self.tile, width)
        rows, cols = self._starts(height), self._starts(width)
        weight = (
            self._axis_weights(height)[:, None]
            * self._axis_weights(width)[None, :]
        )[None, :, :, None]
        per_row = tf.size(cols)

        def body(i, total, norm):
            r, c = rows[i // per_row], cols[i % per_row]
            crop = images[:, r : r + th, c : c + tw, :]
            values = self.serving._run(crop)[self.output.key]
            probs = out.probabilities(self.output, values)  # float32
            pads = [[0, 0], [r, height - r - th], [c, width - c - tw], [0, 0]]
            return (
                i + 1,
                total + tf.pad(probs * weight, pads),
                norm + tf.pad(weight, pads),
            )

        _, total, norm = tf.while_loop(
            lambda i, *_: i < tf.size(rows) * per_row,
            body,
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
