import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import jaccard_score

import kerasseg
from kerasseg import losses

K = 4
RNG = np.random.default_rng(0)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _batch(shape=(2, 6, 7), ignore_rate=0.2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, shape)
    y[rng.random(shape) < ignore_rate] = 255
    logits = rng.normal(size=shape + (K,)).astype("float32")
    return y, logits


def test_cross_entropy_matches_the_formula_with_ignore_and_weights():
    y, logits = _batch()
    valid = y != 255
    nll = -np.take_along_axis(
        _log_softmax(logits), np.where(valid, y, 0)[..., None], -1
    )[..., 0]
    plain = losses.CrossEntropy(num_classes=K, ignore_index=255)
    np.testing.assert_allclose(float(plain(y, logits)), nll[valid].mean(), 1e-5)
    w = np.array([1.0, 2.0, 0.5, 3.0])
    weighted = losses.CrossEntropy(
        num_classes=K, ignore_index=255, class_weights=w
    )
    wp = w[np.where(valid, y, 0)] * valid
    np.testing.assert_allclose(
        float(weighted(y, logits)), (wp * nll).sum() / wp.sum(), 1e-5
    )


def test_one_hot_labels_give_the_same_loss_as_sparse_ones():
    y, logits = _batch(ignore_rate=0.0)
    one_hot = np.eye(K)[y]
    for cls in (losses.CrossEntropy, losses.Dice, losses.Lovasz):
        sparse = float(cls(num_classes=K)(y, logits))
        dense = float(cls(num_classes=K)(one_hot, logits))
        np.testing.assert_allclose(sparse, dense, rtol=1e-6)


def test_binary_cross_entropy_from_logits_and_probabilities():
    y = RNG.integers(0, 2, (2, 5, 5))
    x = RNG.normal(size=(2, 5, 5, 1)).astype("float32") * 3
    p = _sigmoid(x[..., 0])
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    logits_loss = losses.CrossEntropy(mode="binary")
    probs_loss = losses.CrossEntropy(mode="binary", from_logits=False)
    np.testing.assert_allclose(float(logits_loss(y, x)), expected, 1e-5)
    np.testing.assert_allclose(
        float(probs_loss(y[..., None], _sigmoid(x))), expected, 1e-4
    )
    w = losses.CrossEntropy(mode="binary", class_weights=[1.0, 3.0])
    wp = np.where(y == 1, 3.0, 1.0)
    terms = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(
        float(w(y, x)), (wp * terms).sum() / wp.sum(), 1e-5
    )


def _soft_counts(y, logits, valid):
    probs = np.exp(_log_softmax(logits)) * valid[..., None]
    t = np.eye(K)[np.where(valid, y, 0)] * valid[..., None]
    tp = (probs * t).sum((0, 1, 2))
    fp = (probs * (1 - t)).sum((0, 1, 2))
    fn = ((1 - probs) * t * valid[..., None]).sum((0, 1, 2))
    return tp, fp, fn


@pytest.mark.parametrize(
    "loss, alpha, beta, gamma",
    [
        (losses.Dice(num_classes=K, ignore_index=255), 0.5, 0.5, 1.0),
        (losses.Jaccard(num_classes=K, ignore_index=255), 1.0, 1.0, 1.0),
        (
            losses.Tversky(
                num_classes=K, ignore_index=255, alpha=0.2, beta=0.8
            ),
            0.2,
            0.8,
            1.0,
        ),
        (losses.FocalTversky(num_classes=K, ignore_index=255), 0.3, 0.7, 0.75),
    ],
)
def test_region_losses_match_their_formula(loss, alpha, beta, gamma):
    y, logits = _batch()
    tp, fp, fn = _soft_counts(y, logits, y != 255)
    index = (tp + 1) / (tp + alpha * fp + beta * fn + 1)
    np.testing.assert_allclose(
        float(loss(y, logits)), np.mean((1 - index) ** gamma), rtol=1e-5
    )


def test_focal_with_gamma_zero_is_cross_entropy_and_matches_formula():
    y, logits = _batch()
    ce = losses.CrossEntropy(num_classes=K, ignore_index=255)
    focal0 = losses.Focal(num_classes=K, ignore_index=255, gamma=0.0)
    np.testing.assert_allclose(float(focal0(y, logits)), float(ce(y, logits)))
    valid = y != 255
    log_pt = np.take_along_axis(
        _log_softmax(logits), np.where(valid, y, 0)[..., None], -1
    )[..., 0]
    expected = ((1 - np.exp(log_pt)) ** 2 * -log_pt)[valid].mean()
    focal = losses.Focal(num_classes=K, ignore_index=255)
    np.testing.assert_allclose(float(focal(y, logits)), expected, rtol=1e-5)


def _lovasz_reference(errors, fg):
    """Berman et al., Alg. 1, on one class with ignored pixels removed."""
    order = np.argsort(-errors, kind="stable")
    errors, fg = errors[order], fg[order]
    gts = fg.sum()
    jaccard = 1 - (gts - np.cumsum(fg)) / (gts + np.cumsum(1 - fg))
    grad = np.concatenate([jaccard[:1], np.diff(jaccard)])
    return np.dot(np.maximum(errors, 0), grad)


def test_lovasz_softmax_matches_the_reference_algorithm():
    y, logits = _batch(shape=(2, 9, 9))
    valid = (y != 255).ravel()
    probs = np.exp(_log_softmax(logits)).reshape(-1, K)[valid]
    labels = y.ravel()[valid]
    per_class = [
        _lovasz_reference(np.abs((labels == c) - probs[:, c]), labels == c)
        for c in range(K)
        if (labels == c).any()
    ]
    loss = losses.Lovasz(num_classes=K, ignore_index=255)
    np.testing.assert_allclose(float(loss(y, logits)), np.mean(per_class), 1e-5)


def test_lovasz_softmax_on_hard_predictions_is_one_minus_iou():
    # The Lovász extension equals the set function at the cube's vertices.
    y, logits = _batch(ignore_rate=0.0)
    hard = np.eye(K)[logits.argmax(-1)]
    loss = losses.Lovasz(num_classes=K, from_logits=False)
    iou = jaccard_score(y.ravel(), hard.argmax(-1).ravel(), average=None)
    np.testing.assert_allclose(float(loss(y, hard)), np.mean(1 - iou), 1e-5)


def test_lovasz_hinge_matches_the_reference_algorithm():
    y = RNG.integers(0, 2, (2, 6, 6)).astype("float32")
    y[0, 0, :3] = 255
    x = RNG.normal(size=(2, 6, 6, 1)).astype("float32")
    valid = (y != 255).ravel()
    labels, logits = y.ravel()[valid], x.ravel()[valid]
    errors = 1 - logits * (2 * labels - 1)
    expected = _lovasz_reference(errors, labels)
    loss = losses.Lovasz(mode="binary", ignore_index=255)
    np.testing.assert_allclose(float(loss(y, x)), expected, rtol=1e-5)


ALL_LOSSES = [
    losses.CrossEntropy,
    losses.Focal,
    losses.Dice,
    losses.Jaccard,
    losses.Tversky,
    losses.FocalTversky,
    losses.Lovasz,
    losses.DiceCrossEntropy,
]


def _grad(loss, y, logits):
    x = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(y, x)
    return value, tape.gradient(value, x)


@pytest.mark.parametrize("mode", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("cls", ALL_LOSSES)
def test_float16_inputs_and_degenerate_batches_stay_finite(cls, mode):
    channels = 1 if mode == "binary" else K
    loss = cls(
        mode=mode, num_classes=None if mode == "binary" else K, ignore_index=255
    )
    logits = RNG.normal(size=(2, 5, 5, channels)).astype("float16") * 8
    if mode == "multilabel":
        cases = [np.zeros((2, 5, 5, K)), np.full((2, 5, 5, K), 255.0)]
    else:
        cases = [np.zeros((2, 5, 5)), np.full((2, 5, 5), 255)]
    for y in cases:  # all background, then all ignored
        value, grad = _grad(loss, y, logits)
        assert value.dtype == "float32"
        assert np.isfinite(float(value)), (cls.__name__, mode, y.max())
        assert np.isfinite(np.asarray(grad, "float32")).all()


@pytest.mark.parametrize(
    "loss, y, logits, message",
    [
        (losses.Dice(num_classes=3), [[0, 7]], np.zeros((1, 2, 3)), "7.0"),
        (losses.Dice(num_classes=3), [[0, -1]], np.zeros((1, 2, 3)), "-1.0"),
        (losses.Dice(num_classes=3), [[0.5, 1]], np.zeros((1, 2, 3)), "0.5"),
        (
            losses.CrossEntropy(num_classes=3, ignore_index=255),
            [[0, 254]],
            np.zeros((1, 2, 3)),
            "254.0",
        ),
        (
            losses.CrossEntropy(mode="binary"),
            [[0, 2]],
            np.zeros((1, 2, 1)),
            "2.0",
        ),
        (
            losses.Dice(num_classes=3),
            [[[1, 1, 0]]],
            np.zeros((1, 1, 3)),
            "one-hot",
        ),
        (
            losses.Dice(num_classes=3),
            [[0, 1]],
            np.zeros((1, 2, 4)),
            "predictions have 4 channels",
        ),
        (
            losses.Dice(mode="multilabel", num_classes=3),
            [[0, 1]],
            np.zeros((1, 2, 3)),
            "labels of shape (1, 2)",
        ),
    ],
)
def test_bad_labels_raise_naming_the_value(loss, y, logits, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        loss(np.array(y), logits.astype("float32"))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="mode='semantic'"):
        losses.Dice(mode="semantic", num_classes=3)
    with pytest.raises(ValueError, match="num_classes=None"):
        losses.Dice(num_classes=None)
    with pytest.raises(ValueError, match=r"class_weights=\[1, 2\]"):
        losses.CrossEntropy(num_classes=3, class_weights=[1, 2])
    with pytest.raises(ValueError, match="smooth=0"):
        losses.Dice(num_classes=3, smooth=0)
    with pytest.raises(ValueError, match="no effect"):
        losses.Dice(mode="binary", class_weights=[1, 2])
    with pytest.raises(ValueError, match="Lovasz does not take"):
        losses.Lovasz(num_classes=3, class_weights=[1, 2, 3])
    both = losses.DiceCrossEntropy(mode="binary", class_weights=[1, 2])
    assert both.losses[0].class_weights is None
    assert both.losses[1].class_weights == [1.0, 2.0]
    with pytest.raises(ValueError, match="sample_weight"):
        losses.Dice(num_classes=3)([[0]], np.zeros((1, 1, 3)), [1.0])


def _tiny_model(num_classes=3):
    return kerasseg.models.unet(
        (None, None, 3), num_classes, depth=2, base_filters=4
    )


@pytest.mark.slow
def test_invalid_labels_inside_a_compiled_fit_give_nan_not_a_number():
    model = _tiny_model()
    model.compile(
        "adam", losses.DiceCrossEntropy(num_classes=3), jit_compile=True
    )
    x = RNG.normal(size=(2, 16, 16, 3)).astype("float32")
    good = RNG.integers(0, 3, (2, 16, 16))
    assert np.isfinite(float(model.train_on_batch(x, good)))
    bad = good.copy()
    bad[0, 0, 0] = 7
    assert np.isnan(float(model.train_on_batch(x, bad)))


@pytest.mark.parametrize("cls", ALL_LOSSES)
def test_compiled_loss_survives_keras_file_round_trip(cls, tmp_path):
    loss = cls(num_classes=3, ignore_index=255)
    model = _tiny_model()
    model.compile("adam", loss)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    restored = reloaded.loss
    assert type(restored) is cls
    assert restored.get_config() == loss.get_config()
    y, logits = np.array([[0, 1, 255]]), RNG.normal(size=(1, 3, 3))
    np.testing.assert_allclose(
        float(restored(y, logits)), float(loss(y, logits))
    )
