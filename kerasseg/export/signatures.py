"""The TF Serving signatures: float images, uint8 pixels, encoded bytes.

Every signature takes a batch of any size and images of any height and
width, and answers with the same dict: for each class-score output
`probabilities` (float32) and `class_ids` (int32), for a reconstruction the
image itself, for a distance map the map. kerasseg models take raw pixel
values (ImageNet normalization, where there is one, is inside the
model), so uint8 pixels and decoded PNG/JPEG bytes only need a cast.
"""

import tensorflow as tf

from kerasseg import outputs as out

SIGNATURES = ("serving_default", "serve_uint8", "serve_bytes")
INPUT_NAME = "images"


def _resize(images, size):
    return tf.image.resize(images, size, method="bilinear")


class Signatures:
    """Builds the serving functions of one model.

    Args:
        model: the Keras model.
        outputs: its `outputs.describe(...)` list.
        image_size: None to run the model at each input's own size, or
            `(height, width)`: inputs are resized to it, and every map
            output resized back to its input's size.
        threshold: probability above which a sigmoid output counts as 1.
    """

    def __init__(self, model, outputs, *, image_size=None, threshold=0.5):
        self.model = model
        self.outputs = outputs
        self.image_size = image_size
        self.threshold = threshold
        self.channels = model.input_shape[-1]
        # The traced model by (height, width), (None, None) for any size:
        # the signatures share each trace, so the model graph is stored
        # once per size. A fixed size (`image_size`, a tile) lets every
        # layer see its static shape, as Keras' own `predict` does.
        self._model_fns = {}

    def specs(self):
        """Input signature of each serving function, by signature name."""
        c = self.channels
        return {
            "serving_default": tf.TensorSpec(
                (None, None, None, c), tf.float32, name=INPUT_NAME
            ),
            "serve_uint8": tf.TensorSpec(
                (None, None, None, c), tf.uint8, name=INPUT_NAME
            ),
            "serve_bytes": tf.TensorSpec((None,), tf.string, name=INPUT_NAME),
        }

    def functions(self):
        """The serving functions, by signature name."""
        return {
            "serving_default": self.serve_float,
            "serve_uint8": self.serve_uint8,
            "serve_bytes": self.serve_bytes,
        }

    # --- The model and its answers ------------------------------------

    def _model_fn(self, size):
        size = (None, None) if size is None else tuple(size)
        if size not in self._model_fns:
            model = self.model
            self._model_fns[size] = tf.function(
                lambda images: model(images, training=False),
                input_signature=[
                    tf.TensorSpec((None, *size, self.channels), tf.float32)
                ],
            )
        return self._model_fns[size]

    def _run(self, images, size=None):
        """The model's outputs by key, traced at `size` ((height, width)
        of `images`, fixed at export) or, by default, at any size."""
        if size is not None:
            images = tf.ensure_shape(images, (None, *size, self.channels))
        values = self._model_fn(size)(images)
        if not isinstance(values, dict):
            values = {None: values}
        return values

    def _answer(self, values, resize=None, valid=None):
        """Serving outputs from raw model outputs.

        Args:
            values: the model's outputs, by key.
            resize: None, or a function applied to every map output
                (probabilities and reconstructions) before class ids.
            valid: None, or a boolean `(batch, height, width)` mask; class
                ids outside it are -1.
        """
        answer = {}
        for output in self.outputs:
            value = tf.cast(values[output.key], tf.float32)
            is_map = output.kind != "labels"
            if output.kind in out.VALUE_KINDS:
                answer[output.name(output.kind)] = (
                    resize(value) if resize else value
                )
                continue
            probs = out.probabilities(output, value)
            if resize and is_map:
                # Probabilities, not logits, are interpolated: a resized
                # logit map would weigh classes by their logit scale.
                probs = resize(probs)
            ids = out.class_ids(output, probs, self.threshold)
            if valid is not None and is_map:
                mask = valid if len(ids.shape) == 3 else valid[..., None]
                ids = tf.where(mask, ids, -1)
            answer[output.name("probabilities")] = probs
            answer[output.name("class_ids")] = ids
        return answer

    def serve_float(self, images):
        """float32 `(batch, height, width, channels)` → the answer dict."""
        if self.image_size is None:
            return self._answer(self._run(images))
        size = tf.shape(images)[1:3]
        return self._answer(
            self._run(_resize(images, self.image_size), self.image_size),
            resize=lambda value: _resize(value, size),
        )

    def serve_uint8(self, images):
        """uint8 pixels → the same answer as `serve_float` on their values."""
        return self.serve_float(tf.cast(images, tf.float32))

    # --- Encoded images ---------------------------------------------------

    def _decode(self, data):
        image = tf.io.decode_image(
            data, channels=self.channels, expand_animations=False
        )
        image.set_shape((None, None, self.channels))
        return tf.cast(image, tf.float32)

    def serve_bytes(self, images):
        """A batch of PNG/JPEG/BMP/GIF strings → the answer dict.

        Without `image_size` the images of one request must share their
        height and width (they form one batch). With it, they may differ:
        each is resized to `image_size`, and every map output is resized
        back to its image's size and padded at the bottom and right to the
        largest in the request (class ids with -1, the rest with 0); the
        extra output `sizes` (int32 `(batch, 2)`) gives each image's height
        and width.
        """
        sizes = tf.map_fn(
            lambda data: tf.shape(self._decode(data))[:2],
            images,
            fn_output_signature=tf.int32,
        )
        if self.image_size is None:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_equal(
                        sizes,
                        tf.broadcast_to(sizes[:1], tf.shape(sizes)),
                        message="serve_bytes: the images of one request "
                        "must have the same height and width (export with "
                        "image_size=(height, width) to accept mixed sizes)",
                    )
                ]
            ):
                decoded = tf.map_fn(
                    self._decode,
                    images,
                    fn_output_signature=tf.TensorSpec(
                        (None, None, self.channels), tf.float32
                    ),
                )
            return self._answer(self._run(decoded))
        resized = tf.map_fn(
            lambda data: _resize(self._decode(data), self.image_size),
            images,
            fn_output_signature=tf.TensorSpec(
                (*self.image_size, self.channels), tf.float32
            ),
        )
        largest = tf.reduce_max(sizes, axis=0)

        def back_to_sizes(value):
            def one(args):
                item, size = args
                pad = largest - size
                return tf.pad(
                    _resize(item, size), [[0, pad[0]], [0, pad[1]], [0, 0]]
                )

            return tf.map_fn(
                one,
                (value, sizes),
                fn_output_signature=tf.TensorSpec(
                    (None, None, value.shape[-1]), tf.float32
                ),
            )

        rows = tf.range(largest[0])[None, :, None]
        cols = tf.range(largest[1])[None, None, :]
        valid = (rows < sizes[:, 0, None, None]) & (
            cols < sizes[:, 1, None, None]
        )
        answer = self._answer(
            self._run(resized, self.image_size),
            resize=back_to_sizes,
            valid=valid,
        )
        answer["sizes"] = sizes
        return answer
