"""Training recipes that need more than a segmenter and its loss:
domain-adversarial training (DANN) and adversarial training.

Each recipe wraps a segmenter in a training model (`DomainAdversarial`,
`AdversarialSegmenter`) that `fit` trains; the segmenter is an attribute
of it, and it is the segmenter that users save, evaluate and export: the
domain classifier and the discriminator only exist while training.

`RECIPES` is the one table of recipe names and their options: the
`train.recipe` and `train.recipe_options` keys of `kerasseg train` read it.
"""

import math

import keras

from kerasseg import _validation as check
from kerasseg import outputs
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.layers.gradient import GradientReversal
from kerasseg.training.transfer import encoder_of

# recipe → {option: (default, what it is)}. "none" trains the segmenter
# alone.
RECIPES = {
    "none": {},
    "dann": {
        "weight": (1.0, "the largest reversal weight λ (≥ 0)"),
        "ramp": (
            True,
            "raise λ from 0 as 2 / (1 + exp(-10 p)) - 1 of the training "
            "progress p (Ganin & Lempitsky, 2015); false: λ from the start",
        ),
        "level": (
            None,
            "the encoder level the domain classifier reads ('P3', …); "
            "null: the deepest",
        ),
        "hidden": (64, "the domain classifier's width"),
    },
    "adversarial": {
        "weight": (0.1, "the adversarial weight λ (≥ 0) of the segmenter"),
        "discriminator_learning_rate": (
            1e-4,
            "the discriminator's Adam learning rate",
        ),
        "filters": (32, "the discriminator's first width"),
    },
}

# What a recipe needs besides its options: config key → why.
NEEDS = {"dann": {"data.target_images": "the unlabelled target-domain images"}}


def check_options(recipe, options, *, name="recipe_options"):
    """The recipe's options with its defaults filled in; raises ValueError
    naming the option for an unknown one or a bad value."""
    check.one_of("recipe", recipe, tuple(RECIPES))
    table = RECIPES[recipe]
    options = dict(options or {})
    for key in options:
        if key not in table:
            accepted = ", ".join(sorted(table)) or "none"
            raise ValueError(
                f"`{name}.{key}` is not an option of the {recipe!r} recipe. "
                f"Accepted: {accepted}"
            )
    resolved = {key: spec[0] for key, spec in table.items()}
    resolved.update(options)
    if "weight" in resolved:
        check.non_negative(f"{name}.weight", resolved["weight"])
    if "discriminator_learning_rate" in resolved:
        key = f"{name}.discriminator_learning_rate"
        value = resolved["discriminator_learning_rate"]
        if check.non_negative(key, value) == 0:
            raise ValueError(f"`{key}` must be > 0. Received: {value!r}")
    for key in ("hidden", "filters"):
        if key in resolved:
            check.positive_int(f"{name}.{key}", resolved[key])
    if "ramp" in resolved and not isinstance(resolved["ramp"], bool):
        raise ValueError(
            f"`{name}.ramp` must be true or false. "
            f"Received: {resolved['ramp']!r}"
        )
    return resolved


def dann_weight(progress, weight=1.0):
    """The reversal weight at training progress `progress` in [0, 1]:
    `weight * (2 / (1 + exp(-10 p)) - 1)` (Ganin & Lempitsky, 2015)."""
    p = min(max(float(progress), 0.0), 1.0)
    return weight * (2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0)


def segmenter_of(model):
    """The segmenter a recipe's training model wraps, or `model` itself."""
    return getattr(model, "segmenter", model)


def encoder_features(segmenter, level=None):
    """The encoder's feature map at `level` (default: the deepest) as a
    tensor of `segmenter`'s own graph, for a model that reads it."""
    encoder = encoder_of(segmenter, "segmenter")
    nodes = encoder._inbound_nodes  # Keras has no public outer-graph tensor
    if len(nodes) != 1:
        raise ValueError(
            f"The encoder of {segmenter.name!r} is called {len(nodes)} times; "
            "a recipe needs a model that calls it once (every kerasseg "
            "builder does)."
        )
    features = keras.tree.pack_sequence_as(
        encoder.output, nodes[0].output_tensors
    )
    levels = levels_deepest_first(features)
    level = levels[0] if level is None else level
    if level not in features:
        raise ValueError(
            f"`level` must be one of the encoder's levels {sorted(levels)}. "
            f"Received: level={level!r}"
        )
    return features[level]


def _single_output(segmenter, recipe):
    if len(segmenter.outputs) != 1:
        raise ValueError(
            f"The {recipe} recipe trains a model with one segmentation "
            f"output; {segmenter.name!r} has {len(segmenter.outputs)}."
        )


class DomainAdversarial(keras.Model):
    """DANN for segmentation: a domain classifier on encoder features,
    behind a gradient-reversal layer (Ganin & Lempitsky, 2015).

    Train it with `fit` on `({"image": source, "target": target}, mask)`
    batches: labelled source-domain images and as many unlabelled
    target-domain images. The loss is the compiled segmentation loss on the
    source images plus the domain classifier's binary cross-entropy on both
    (source 0, target 1); the reversal layer makes the encoder features
    maximize the latter, so they stop telling the domains apart. λ rises
    from 0 to `weight` over `total_steps` steps as in the paper (an
    in-graph counter, so it works under XLA and resumes with the weights).

    Called on plain images (validation, `predict`), it is the segmenter.
    Save `model.segmenter`: the domain classifier is for training only.

    Args:
        segmenter: a kerasseg segmentation model (one output).
        weight: the largest reversal weight λ ≥ 0.
        total_steps: steps over which λ ramps up; None: λ = `weight` from
            the first step.
        level: the encoder level the classifier reads (default: deepest).
        hidden: the domain classifier's width.
    """

    def __init__(
        self,
        segmenter,
        *,
        weight=1.0,
        total_steps=None,
        level=None,
        hidden=64,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _single_output(segmenter, "dann")
        self.segmenter = segmenter
        self.max_weight = check.non_negative("weight", weight)
        self.total_steps = (
            None
            if total_steps is None
            else check.positive_int("total_steps", total_steps)
        )
        features = encoder_features(segmenter, level)
        self.joint = keras.Model(
            segmenter.inputs,
            [segmenter.outputs[0], features],
            name="segmenter_and_features",
        )
        self.features = keras.Model(
            segmenter.inputs, features, name="encoder_features"
        )
        hidden = check.positive_int("hidden", hidden)
        self.reversal = GradientReversal(
            self.max_weight if self.total_steps is None else 0.0
        )
        self.domain_classifier = keras.Sequential(
            [
                keras.layers.Input((None, None, features.shape[-1])),
                keras.layers.Conv2D(hidden, 3, padding="same"),
                keras.layers.Activation("relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(hidden, activation="relu"),
                keras.layers.Dense(1, dtype="float32"),
            ],
            name="domain_classifier",
        )
        self.domain_loss = keras.losses.BinaryCrossentropy(from_logits=True)
        self.step = self.add_weight(
            name="dann_step",
            shape=(),
            initializer="zeros",
            trainable=False,
            dtype="float32",
            # Every replica counts the same steps.
            aggregation="only_first_replica",
        )
        self.built = True  # every part is built: weights load before a call

    def _ramp(self):
        progress = keras.ops.minimum(self.step / float(self.total_steps), 1.0)
        value = 2.0 / (1.0 + keras.ops.exp(-10.0 * progress)) - 1.0
        self.reversal.reversal_weight.assign(self.max_weight * value)
        self.step.assign(self.step + 1.0)

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict):
            return self.segmenter(inputs, training=training)
        masks, source = self.joint(inputs["image"], training=training)
        if not training:
            return masks
        if self.total_steps is not None:
            self._ramp()
        target = self.features(inputs["target"], training=training)
        # The domain logits travel with the prediction to `compute_loss`:
        # with `add_loss` instead, two mirrored replicas' losses differed
        # from one device's (tests/training/test_recipes.py).
        return {
            "mask": masks,
            "source_domain": self.domain_classifier(self.reversal(source)),
            "target_domain": self.domain_classifier(self.reversal(target)),
        }

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The compiled segmentation loss, plus in training the domain
        classifier's binary cross-entropy (source 0, target 1), averaged
        over both batches: a Keras loss, scaled for distribution as the
        compiled one."""
        if not isinstance(y_pred, dict):
            return super().compute_loss(
                x, y, y_pred, sample_weight, training=training
            )
        loss = super().compute_loss(
            x, y, y_pred["mask"], sample_weight, training=training
        )
        source, target = y_pred["source_domain"], y_pred["target_domain"]
        domain = self.domain_loss(
            keras.ops.concatenate(
                [keras.ops.zeros_like(source), keras.ops.ones_like(target)]
            ),
            keras.ops.concatenate([source, target]),
        )
        return loss + domain

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, dict):
            y_pred = y_pred["mask"]
        return super().compute_metrics(x, y, y_pred, sample_weight)


class AdversarialSegmenter(keras.Model):
    """Adversarial training for segmentation (Luc et al., 2016).

    A discriminator sees an image with a label map: the true mask (one-hot)
    or the segmenter's probabilities, and learns to tell them apart. Each
    training step alternates: the segmenter takes a step on its compiled
    loss plus `weight` × the binary cross-entropy of the discriminator
    calling its prediction real; then the discriminator takes a step (its
    own Adam) on the true masks against this step's predictions, with the
    predictions' gradient stopped. Pixels at `ignore_index` show the
    prediction in both maps, so they tell the discriminator nothing.

    `train_step` is TensorFlow's (a `tf.GradientTape` per network); it runs
    under `jit_compile` and `tf.distribute` strategies. The losses are
    Keras losses, scaled for distribution as Keras scales its own.

    Called on images (validation, `predict`), it is the segmenter. Save
    `model.segmenter`: the discriminator is for training only.

    Args:
        segmenter: a kerasseg segmentation model with one output (logits
            or probabilities: its head says which).
        weight: the adversarial weight λ ≥ 0.
        discriminator_learning_rate: the discriminator's learning rate.
        filters: the discriminator's first width (doubled twice).
        ignore_index: the mask value of unlabelled pixels, if any.
    """

    def __init__(
        self,
        segmenter,
        *,
        weight=0.1,
        discriminator_learning_rate=1e-4,
        filters=32,
        ignore_index=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "AdversarialSegmenter's alternating train_step is "
                "TensorFlow's; the Keras backend is "
                f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow."
            )
        _single_output(segmenter, "adversarial")
        self.segmenter = segmenter
        self.weight = check.non_negative("weight", weight)
        self.discriminator_learning_rate = discriminator_learning_rate
        self.ignore_index = ignore_index
        channels = segmenter.inputs[0].shape[-1]
        self.num_classes = segmenter.outputs[0].shape[-1]
        # Logits or probabilities: the head says (kerasseg.outputs).
        self.output_kind = outputs.segmentation_output(segmenter)
        filters = check.positive_int("filters", filters)
        layers = [keras.layers.Input((None, None, channels + self.num_classes))]
        for width in (filters, 2 * filters, 4 * filters):
            layers += [
                keras.layers.Conv2D(width, 3, strides=2, padding="same"),
                keras.layers.LeakyReLU(0.2),
            ]
        layers += [
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, dtype="float32"),
        ]
        self.discriminator = keras.Sequential(layers, name="discriminator")
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.adversarial_tracker = keras.metrics.Mean(name="adversarial_loss")
        self.discriminator_tracker = keras.metrics.Mean(
            name="discriminator_loss"
        )
        self.discriminator_optimizer = None
        self.built = True  # every part is built: weights load before a call

    @property
    def extra_optimizers(self):
        """Optimizers besides `self.optimizer` whose state a checkpoint
        keeps (`kerasseg.training.run_folder`)."""
        return (self.discriminator_optimizer,)

    def compile(self, *args, discriminator_optimizer=None, **kwargs):
        """Keras' `compile`; also makes the discriminator's optimizer (Adam,
        β₁ 0.5 as for GANs, at `discriminator_learning_rate`, loss-scaled
        under mixed_float16) unless one is given."""
        super().compile(*args, **kwargs)
        # Each optimizer holds the state of its own network's variables,
        # built now so a checkpoint's state loads before the first step.
        self.optimizer.build(self.segmenter.trainable_variables)
        if discriminator_optimizer is None:
            discriminator_optimizer = keras.optimizers.Adam(
                self.discriminator_learning_rate, beta_1=0.5
            )
            if keras.config.dtype_policy().name == "mixed_float16":
                discriminator_optimizer = keras.optimizers.LossScaleOptimizer(
                    discriminator_optimizer
                )
        self.discriminator_optimizer = discriminator_optimizer
        self.discriminator_optimizer.build(
            self.discriminator.trainable_variables
        )

    def call(self, inputs, training=False):
        return self.segmenter(inputs, training=training)

    def label_maps(self, images, masks, y_pred):
        """`(true, predicted)` discriminator inputs: the image (÷ 255) with
        the one-hot mask, and with the segmenter's probabilities (from its
        output `y_pred`, logits or not)."""
        probabilities = outputs.probabilities(self.output_kind, y_pred)
        masks = keras.ops.cast(masks, "int32")
        if self.num_classes == 1:
            true = keras.ops.cast(masks, "float32")[..., None]
        else:
            true = keras.ops.one_hot(masks, self.num_classes)
        if self.ignore_index is not None:
            ignored = keras.ops.equal(masks, self.ignore_index)[..., None]
            true = keras.ops.where(ignored, probabilities, true)
        images = keras.ops.cast(images, "float32") / 255.0
        return (
            keras.ops.concatenate([images, true], axis=-1),
            keras.ops.concatenate([images, probabilities], axis=-1),
        )

    def train_step(self, data):
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        segmenter_vars = self.segmenter.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self.segmenter(x, training=True)
            segmentation = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight
            )
            true, fake = self.label_maps(x, y, y_pred)
            fooled = self.discriminator(fake, training=False)
            adversarial = self.bce(keras.ops.ones_like(fooled), fooled)
            loss = segmentation + self.weight * adversarial
            scaled = self.optimizer.scale_loss(loss)
        self.optimizer.apply_gradients(
            zip(tape.gradient(scaled, segmenter_vars), segmenter_vars)
        )
        disc_vars = self.discriminator.trainable_variables
        # The discriminator's step after the segmenter's: under a strategy
        # each step all-reduces its gradients, and replicas must run those
        # collectives in one order.
        done = keras.ops.convert_to_tensor(self.optimizer.iterations)
        with tf.control_dependencies([done]):
            fake = tf.identity(keras.ops.stop_gradient(fake))
            true = tf.identity(true)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(true, training=True)
            fake_logits = self.discriminator(fake, training=True)
            disc_loss = 0.5 * (
                self.bce(keras.ops.ones_like(real_logits), real_logits)
                + self.bce(keras.ops.zeros_like(fake_logits), fake_logits)
            )
            scaled = self.discriminator_optimizer.scale_loss(disc_loss)
        self.discriminator_optimizer.apply_gradients(
            zip(tape.gradient(scaled, disc_vars), disc_vars)
        )
        # Logged as the whole batch's values (Keras' losses divide by the
        # replicas for the gradient sum).
        self._loss_tracker.update_state(loss * replicas)
        self.adversarial_tracker.update_state(adversarial * replicas)
        self.discriminator_tracker.update_state(disc_loss * replicas)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        # Validation scores the segmenter alone: no discriminator losses.
        logs = super().test_step(data)
        return {
            k: v
            for k, v in logs.items()
            if k not in ("adversarial_loss", "discriminator_loss")
        }


def wrap(segmenter, recipe, options, *, total_steps=None, ignore_index=None):
    """The training model of a recipe around `segmenter` ("none": the
    segmenter itself), from `RECIPES` options."""
    options = check_options(recipe, options)
    if recipe == "dann":
        return DomainAdversarial(
            segmenter,
            weight=options["weight"],
            total_steps=total_steps if options["ramp"] else None,
            level=options["level"],
            hidden=options["hidden"],
        )
    if recipe == "adversarial":
        return AdversarialSegmenter(
            segmenter,
            weight=options["weight"],
            discriminator_learning_rate=options["discriminator_learning_rate"],
            filters=options["filters"],
            ignore_index=ignore_index,
        )
    return segmenter


__all__ = [
    "AdversarialSegmenter",
    "DomainAdversarial",
    "NEEDS",
    "RECIPES",
    "check_options",
    "dann_weight",
    "encoder_features",
    "segmenter_of",
    "wrap",
]
