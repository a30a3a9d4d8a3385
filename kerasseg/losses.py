"""Segmentation losses: cross-entropy, focal, Dice, Jaccard, Tversky,
focal Tversky, Lovász, and weighted sums of them.

Every loss takes the same arguments for reading predictions and labels:

    mode: "binary" | "multiclass" | "multilabel" (default "multiclass").
    num_classes: K; required for "multiclass" and "multilabel".
    from_logits: predictions are logits (default True, matching kerasseg
        heads) or probabilities.
    ignore_index: a label value left out of the loss (e.g. 255).

(see `kerasseg._targets` for the label shapes each mode takes). Losses are
computed in float32 whatever the model's dtype policy, average over the
pixels that are not ignored, and stay finite (with finite gradients) on
empty masks and on batches that are all background or all ignored. Labels
outside the mode's classes raise in eager calls and give a NaN loss inside
a compiled `fit` (where no backend-neutral op can raise).

Class weights weight classes (binary: `[background, foreground]`);
per-sample `sample_weight` is not supported and raises.
"""

import keras
import numpy as np

from kerasseg import _targets
from kerasseg import _validation as check

_EPS = 1e-7


class _SegmentationLoss(keras.losses.Loss):
    """Shared argument handling; subclasses implement `_loss(prepared)`."""

    def __init__(
        self,
        mode="multiclass",
        num_classes=None,
        *,
        from_logits=True,
        ignore_index=None,
        class_weights=None,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.channels = _targets.check_mode(mode, num_classes)
        self.mode = mode
        self.num_classes = num_classes
        self.from_logits = bool(from_logits)
        self.ignore_index = ignore_index
        if class_weights is not None:
            expected = 2 if mode == "binary" else self.channels
            weights = np.asarray(class_weights, "float32")
            if weights.shape != (expected,) or (weights < 0).any():
                raise ValueError(
                    f"`class_weights` must be {expected} non-negative "
                    f"numbers for mode={mode!r}"
                    + (
                        " ([background, foreground])"
                        if mode == "binary"
                        else ""
                    )
                    + f". Received: class_weights={class_weights!r}"
                )
            class_weights = [float(w) for w in weights]
        self.class_weights = class_weights

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                f"{self.name} does not take `sample_weight`; weight classes "
                "with `class_weights=` instead."
            )
        return super().__call__(y_true, y_pred)

    def call(self, y_true, y_pred):
        prepared = _targets.prepare_for(self, y_true, y_pred)
        # A shape-(1,) value, not a scalar: Keras divides a reduced loss by
        # the number of replicas under tf.distribute (the replicas'
        # gradients are summed), but passes a scalar through untouched.
        return keras.ops.reshape(self._loss(prepared) + prepared.poison, (1,))

    def _weights(self):
        return keras.ops.convert_to_tensor(self.class_weights, "float32")

    def _pixel_weights(self, p):
        """Per-element class weights (1 where no weights were given)."""
        if self.class_weights is None:
            return keras.ops.ones_like(p.valid)
        w = self._weights()
        if self.mode == "binary":
            return p.target * w[1] + (1.0 - p.target) * w[0]
        if self.mode == "multiclass":
            return keras.ops.sum(p.target * w, axis=-1, keepdims=True)
        return keras.ops.ones_like(p.target) * w

    def _class_mean(self, per_class):
        """Mean over channels, weighted by `class_weights` if given."""
        if self.class_weights is None or self.mode == "binary":
            return keras.ops.mean(per_class)
        w = self._weights()
        return keras.ops.sum(w * per_class) / keras.ops.maximum(
            keras.ops.sum(w), _EPS
        )

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "num_classes": self.num_classes,
            "from_logits": self.from_logits,
            "ignore_index": self.ignore_index,
            "class_weights": self.class_weights,
        }


def _log_probs(p, mode):
    """Elementwise log-likelihood of the labels, `(..., C)` or `(..., 1)`."""
    if mode == "multiclass":
        if p.logits is not None:
            log_p = keras.ops.log_softmax(p.logits, axis=-1)
        else:
            log_p = keras.ops.log(keras.ops.clip(p.probs, _EPS, 1.0))
        return keras.ops.sum(p.target * log_p, axis=-1, keepdims=True)
    if p.logits is not None:  # stable log-sigmoid of the signed logit
        x, t = p.logits, p.target
        return -(keras.ops.relu(x) - x * t + keras.ops.softplus(-abs(x)))
    probs = keras.ops.clip(p.probs, _EPS, 1.0 - _EPS)
    return p.target * keras.ops.log(probs) + (1.0 - p.target) * keras.ops.log(
        1.0 - probs
    )


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class CrossEntropy(_SegmentationLoss):
    """Pixel-wise cross-entropy: softmax for "multiclass", sigmoid
    (binary cross-entropy per channel) for "binary" and "multilabel".

    With `class_weights` the result is the weighted mean
    `sum(w * loss) / sum(w)` over the pixels that are not ignored (as in
    PyTorch's `CrossEntropyLoss(weight=…)`).

    Example:

    >>> loss = kerasseg.losses.CrossEntropy(num_classes=3, ignore_index=255)
    >>> labels = np.array([[0, 2, 255]])
    >>> logits = np.zeros((1, 3, 3))
    >>> round(float(loss(labels, logits)), 4)   # log(3): uniform prediction
    1.0986
    """

    def __init__(self, mode="multiclass", num_classes=None, **kwargs):
        kwargs.setdefault("name", "cross_entropy")
        super().__init__(mode, num_classes, **kwargs)

    def _loss(self, p):
        w = self._pixel_weights(p) * p.valid
        nll = -_log_probs(p, self.mode)
        return keras.ops.sum(w * nll) / keras.ops.maximum(
            keras.ops.sum(w), _EPS
        )


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class Focal(_SegmentationLoss):
    """Focal loss (Lin et al., 2017): `-w_t (1 - p_t)**gamma log(p_t)`.

    `p_t` is the probability given to the true class; `class_weights` play
    the role of the paper's alpha (binary: `[1 - alpha, alpha]`). The mean is
    over the pixels that are not ignored.

    Args:
        gamma: focusing parameter >= 0 (0 gives cross-entropy).

    Reference:
        Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """

    def __init__(self, mode="multiclass", num_classes=None, gamma=2.0, **kw):
        kw.setdefault("name", "focal")
        super().__init__(mode, num_classes, **kw)
        self.gamma = check.non_negative("gamma", gamma)

    def _loss(self, p):
        log_pt = _log_probs(p, self.mode)
        focal = (1.0 - keras.ops.exp(log_pt)) ** self.gamma * -log_pt
        w = self._pixel_weights(p)
        valid = p.valid * keras.ops.ones_like(focal)
        return keras.ops.sum(w * focal * valid) / keras.ops.maximum(
            keras.ops.sum(valid), 1.0
        )

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class Tversky(_SegmentationLoss):
    """Tversky loss: `1 - (TP + s) / (TP + alpha FP + beta FN + s)`.

    TP, FP and FN are soft counts (sums of probabilities) per class over the
    whole batch and the pixels that are not ignored; the loss averages over
    classes (weighted by `class_weights`). "binary" scores the foreground
    channel. `alpha = beta = 0.5` is Dice, `alpha = beta = 1` is Jaccard.
    A class absent from a batch scores `s / (alpha FP + s)`, so predicting
    it is penalised and the value stays finite.

    Args:
        alpha: weight of false positives.
        beta: weight of false negatives.
        smooth: s > 0, keeps empty masks finite.
        gamma: the loss per class is raised to this power (1 here; focal
            Tversky uses 0.75).

    Reference:
        Salehi et al., "Tversky loss function for image segmentation using
        3D fully convolutional deep networks", MLMI 2017.
    """

    def __init__(
        self,
        mode="multiclass",
        num_classes=None,
        *,
        alpha=0.5,
        beta=0.5,
        smooth=1.0,
        gamma=1.0,
        **kwargs,
    ):
        kwargs.setdefault("name", "tversky")
        super().__init__(mode, num_classes, **kwargs)
        self.alpha = check.non_negative("alpha", alpha)
        self.beta = check.non_negative("beta", beta)
        self.gamma = check.non_negative("gamma", gamma)
        if mode == "binary" and self.class_weights is not None:
            raise ValueError(
                f"{self.name} scores only the foreground in mode='binary', so "
                "class weights would have no effect. Received: "
                f"class_weights={self.class_weights!r}"
            )
        self.smooth = float(smooth)
        if not self.smooth > 0:
            raise ValueError(
                "`smooth` must be > 0 so that empty masks give a finite "
                f"loss. Received: smooth={smooth!r}"
            )

    def _loss(self, p):
        axes = tuple(range(len(p.probs.shape) - 1))
        probs = p.probs * p.valid
        tp = keras.ops.sum(probs * p.target, axis=axes)
        fp = keras.ops.sum(probs * (1.0 - p.target), axis=axes)
        fn = keras.ops.sum((1.0 - p.probs) * p.target * p.valid, axis=axes)
        index = (tp + self.smooth) / (
            tp + self.alpha * fp + self.beta * fn + self.smooth
        )
        per_class = keras.ops.relu(1.0 - index)
        if self.gamma != 1.0:
            # x**gamma has an infinite slope at 0 for gamma < 1 (a perfect or
            # all-ignored batch): clamp so the gradient stays finite.
            per_class = keras.ops.maximum(per_class, _EPS) ** self.gamma
        return self._class_mean(per_class)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "beta": self.beta,
            "smooth": self.smooth,
            "gamma": self.gamma,
        }


class _FixedTversky(Tversky):
    """A Tversky loss whose alpha and beta define it."""

    _alpha = _beta = _default_name = None

    def __init__(self, mode="multiclass", num_classes=None, **kwargs):
        kwargs.setdefault("name", self._default_name)
        super().__init__(
            mode, num_classes, alpha=self._alpha, beta=self._beta, **kwargs
        )

    def get_config(self):
        config = super().get_config()
        del config["alpha"], config["beta"]
        return config


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class Dice(_FixedTversky):
    """Soft Dice loss: `1 - (TP + s) / (TP + (FP + FN) / 2 + s)` per class,
    averaged: a `Tversky` loss with alpha = beta = 0.5 (see it for details).

    Example:

    >>> loss = kerasseg.losses.Dice(mode="binary", from_logits=False)
    >>> labels = np.array([[1.0, 1.0, 0.0, 0.0]])
    >>> probs = np.array([[1.0, 0.0, 0.0, 0.0]])   # TP 1, FP 0, FN 1
    >>> round(float(loss(labels, probs)), 4)       # 1 - (1 + 1) / (1.5 + 1)
    0.2
    """

    _alpha = _beta = 0.5
    _default_name = "dice"


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class Jaccard(_FixedTversky):
    """Soft Jaccard (IoU) loss: `1 - (TP + s) / (TP + FP + FN + s)` per
    class, averaged: a `Tversky` loss with alpha = beta = 1."""

    _alpha = _beta = 1.0
    _default_name = "jaccard"


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class FocalTversky(Tversky):
    """Focal Tversky loss (Abraham & Khan, 2019): `(1 - TI)**gamma` per
    class, with alpha = 0.3, beta = 0.7 and gamma = 0.75 by default.

    Reference:
        Abraham & Khan, "A Novel Focal Tversky loss function with improved
        Attention U-Net for lesion segmentation", ISBI 2019.
    """

    def __init__(
        self,
        mode="multiclass",
        num_classes=None,
        *,
        alpha=0.3,
        beta=0.7,
        gamma=0.75,
        **kwargs,
    ):
        kwargs.setdefault("name", "focal_tversky")
        super().__init__(
            mode, num_classes, alpha=alpha, beta=beta, gamma=gamma, **kwargs
        )


def _lovasz_gradient(fg_sorted):
    """Gradient of the Lovász extension of the Jaccard loss (Berman et al.,
    Alg. 1), per column of foreground indicators sorted by error."""
    gts = keras.ops.sum(fg_sorted, axis=0)
    intersection = gts - keras.ops.cumsum(fg_sorted, axis=0)
    union = gts + keras.ops.cumsum(1.0 - fg_sorted, axis=0)
    jaccard = 1.0 - intersection / union
    return keras.ops.concatenate([jaccard[:1], jaccard[1:] - jaccard[:-1]], 0)


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class Lovasz(_SegmentationLoss):
    """Lovász loss (Berman et al., 2018), a convex surrogate of IoU.

    "multiclass": Lovász-softmax, averaged over the classes present in the
    batch's labels. "binary" and "multilabel": Lovász hinge on the logits of
    each channel, averaged over channels. Computed over the whole batch;
    ignored pixels are sorted last with zero error, so they change nothing.

    Reference:
        Berman et al., "The Lovász-Softmax loss: A tractable surrogate for
        the optimization of the intersection-over-union measure in neural
        networks", CVPR 2018.
    """

    def __init__(self, mode="multiclass", num_classes=None, **kwargs):
        kwargs.setdefault("name", "lovasz")
        super().__init__(mode, num_classes, **kwargs)
        if self.class_weights is not None:
            raise ValueError(
                "Lovasz does not take class weights. Received: "
                f"class_weights={self.class_weights!r}"
            )

    def _loss(self, p):
        channels = p.target.shape[-1]
        target = keras.ops.reshape(p.target, (-1, channels))
        valid = keras.ops.reshape(
            p.valid * keras.ops.ones_like(p.target), (-1, channels)
        )
        if self.mode == "multiclass":
            probs = keras.ops.reshape(p.probs, (-1, channels))
            errors = keras.ops.abs(target - probs)
        else:
            logits = p.logits
            if logits is None:
                probs = keras.ops.clip(p.probs, _EPS, 1.0 - _EPS)
                logits = keras.ops.log(probs / (1.0 - probs))
            logits = keras.ops.reshape(logits, (-1, channels))
            errors = 1.0 - logits * (2.0 * target - 1.0)
        errors = keras.ops.where(valid > 0, errors, -1.0)
        order = keras.ops.argsort(-errors, axis=0)
        errors = keras.ops.take_along_axis(errors, order, axis=0)
        fg = keras.ops.take_along_axis(target, order, axis=0)
        per_class = keras.ops.sum(
            keras.ops.relu(errors) * _lovasz_gradient(fg), axis=0
        )
        if self.mode != "multiclass":
            return keras.ops.mean(per_class)
        present = keras.ops.cast(keras.ops.sum(target, axis=0) > 0, "float32")
        return keras.ops.sum(per_class * present) / keras.ops.maximum(
            keras.ops.sum(present), 1.0
        )


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class WeightedSum(keras.losses.Loss):
    """A weighted sum of losses, e.g. Dice + cross-entropy.

    Args:
        losses: list of loss objects (each called on the same labels and
            predictions).
        weights: one number per loss (default: all 1).

    Example:

    >>> loss = kerasseg.losses.WeightedSum(
    ...     [kerasseg.losses.Dice(num_classes=3),
    ...      kerasseg.losses.Focal(num_classes=3)], weights=[1.0, 0.5])
    """

    def __init__(self, losses, weights=None, name="weighted_sum", **kwargs):
        super().__init__(name=name, **kwargs)
        losses = [
            keras.saving.deserialize_keras_object(x)
            if isinstance(x, dict)
            else x
            for x in losses
        ]
        if not losses or not all(callable(x) for x in losses):
            raise ValueError(
                f"`losses` must be a non-empty list of losses. "
                f"Received: losses={losses!r}"
            )
        weights = [1.0] * len(losses) if weights is None else list(weights)
        if len(weights) != len(losses):
            raise ValueError(
                f"`weights` needs one number per loss ({len(losses)}). "
                f"Received: weights={weights!r}"
            )
        self.losses = losses
        self.weights = [float(w) for w in weights]

    def call(self, y_true, y_pred):
        total = 0.0
        for loss, weight in zip(self.losses, self.weights):
            total = total + weight * loss(y_true, y_pred)
        return total

    def get_config(self):
        return {
            **super().get_config(),
            "losses": [
                keras.saving.serialize_keras_object(x) for x in self.losses
            ],
            "weights": self.weights,
        }


@keras.saving.register_keras_serializable(package="kerasseg.losses")
class DiceCrossEntropy(WeightedSum):
    """`dice_weight * Dice + cross_entropy_weight * CrossEntropy`, the usual
    pairing; both share `mode`, `num_classes`, `from_logits`,
    `ignore_index` and `class_weights`.

    Example:

    >>> loss = kerasseg.losses.DiceCrossEntropy(num_classes=3)
    >>> labels = np.array([[0, 1, 2]])
    >>> logits = np.eye(3)[None] * 10.0             # confident and right
    >>> float(loss(labels, logits)) < 0.01
    True
    """

    def __init__(
        self,
        mode="multiclass",
        num_classes=None,
        *,
        dice_weight=1.0,
        cross_entropy_weight=1.0,
        from_logits=True,
        ignore_index=None,
        class_weights=None,
        name="dice_cross_entropy",
        **kwargs,
    ):
        shared = dict(
            from_logits=from_logits,
            ignore_index=ignore_index,
            class_weights=class_weights,
        )
        # A binary Dice scores the foreground only: weights go to the
        # cross-entropy alone there.
        dice_weights = None if mode == "binary" else class_weights
        super().__init__(
            [
                Dice(
                    mode,
                    num_classes,
                    from_logits=from_logits,
                    ignore_index=ignore_index,
                    class_weights=dice_weights,
                ),
                CrossEntropy(mode, num_classes, **shared),
            ],
            [dice_weight, cross_entropy_weight],
            name=name,
            **kwargs,
        )
        self.mode, self.num_classes = mode, num_classes
        self.shared = shared

    def get_config(self):
        config = keras.losses.Loss.get_config(self)
        return {
            **config,
            "mode": self.mode,
            "num_classes": self.num_classes,
            "dice_weight": self.weights[0],
            "cross_entropy_weight": self.weights[1],
            **self.shared,
        }


# === Losses by name ===
# The one table of loss names: `kerasseg train` configs (`train.loss`) and
# `get` read it.
LOSSES = {
    "cross_entropy": CrossEntropy,
    "dice": Dice,
    "dice_cross_entropy": DiceCrossEntropy,
    "focal": Focal,
    "focal_tversky": FocalTversky,
    "jaccard": Jaccard,
    "lovasz": Lovasz,
    "tversky": Tversky,
}


def get(name):
    """The loss class registered as `name` (a key of `LOSSES`).

    Example:

    >>> kerasseg.losses.get("dice_cross_entropy").__name__
    'DiceCrossEntropy'
    """
    return check.from_table(LOSSES, name, kind="loss", plural="Losses")


# Losses of models that output their input (autoencoders): the target is
# the image itself, in the model's pixel scale. `kerasseg train` reads this
# table for reconstruction models.
RECONSTRUCTION_LOSSES = {
    "mse": keras.losses.MeanSquaredError,
    "mae": keras.losses.MeanAbsoluteError,
}
