import re

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix
from sklearn.metrics import f1_score
from sklearn.metrics import jaccard_score
from sklearn.metrics import precision_score
from sklearn.metrics import recall_score

import kerasseg
from kerasseg import metrics

K = 5


def _stream(seed=0, batches=4, absent=4):
    """Batches of sparse labels (with 255) and logits; class `absent` never
    occurs in labels or predictions."""
    rng = np.random.default_rng(seed)
    for b in range(batches):
        shape = (2, 6 + b, 7)  # different content and size per batch
        y = rng.integers(0, absent, shape)
        y[rng.random(shape) < 0.15] = 255
        logits = rng.normal(size=shape + (K,)).astype("float32")
        logits[..., absent] = -20.0
        yield y, logits


def _sklearn_inputs(stream):
    truth, pred = [], []
    for y, logits in stream:
        valid = y != 255
        truth.append(y[valid])
        pred.append(logits.argmax(-1)[valid])
    return np.concatenate(truth), np.concatenate(pred)


def _run(metric, stream):
    for y, logits in stream:
        metric.update_state(y, logits)
    return metric.result()


@pytest.mark.parametrize(
    "cls, reference",
    [
        (metrics.MeanIoU, jaccard_score),
        (metrics.Dice, f1_score),
        (metrics.Precision, precision_score),
        (metrics.Recall, recall_score),
    ],
)
def test_multiclass_scores_match_sklearn(cls, reference):
    truth, pred = _sklearn_inputs(_stream())
    present = sorted(set(truth) | set(pred))
    assert 4 not in present
    kwargs = dict(labels=present, zero_division=0)
    mean = _run(cls(K, ignore_index=255), _stream())
    expected = reference(truth, pred, average="macro", **kwargs)
    np.testing.assert_allclose(float(mean), expected, rtol=1e-5)

    per_class = _run(cls(K, ignore_index=255, per_class=True), _stream())
    name = cls(K).name
    values = reference(truth, pred, average=None, **kwargs)
    for c, value in zip(present, values):
        np.testing.assert_allclose(
            float(per_class[f"{name}_{c}"]), value, rtol=1e-5
        )
    # The absent class is NaN per class and left out of the mean.
    assert np.isnan(float(per_class[f"{name}_4"]))
    assert np.isfinite(float(mean))


def test_pixel_accuracy_and_confusion_matrix_match_sklearn():
    truth, pred = _sklearn_inputs(_stream())
    metric = metrics.PixelAccuracy(K, ignore_index=255)
    np.testing.assert_allclose(
        float(_run(metric, _stream())), accuracy_score(truth, pred), 1e-6
    )
    np.testing.assert_array_equal(
        np.asarray(metric.confusion),
        confusion_matrix(truth, pred, labels=range(K)),
    )


def test_one_hot_labels_and_probabilities_give_the_same_counts():
    a = metrics.MeanIoU(K, ignore_index=255)
    b = metrics.MeanIoU(K, from_logits=False)
    for y, logits in _stream():
        a.update_state(y, logits)
        one_hot = np.eye(K)[np.where(y == 255, 0, y)] * (y != 255)[..., None]
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        b.update_state(one_hot, probs)
    np.testing.assert_array_equal(
        np.asarray(a.confusion), np.asarray(b.confusion)
    )


def test_reset_state_starts_over():
    metric = metrics.MeanIoU(K, ignore_index=255)
    _run(metric, _stream(seed=1))
    metric.reset_state()
    truth, pred = _sklearn_inputs(_stream(seed=2))
    value = _run(metric, _stream(seed=2))
    expected = jaccard_score(
        truth, pred, average="macro", labels=sorted(set(truth) | set(pred))
    )
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)


def test_binary_mode_thresholds_probabilities():
    rng = np.random.default_rng(3)
    truth, pred = [], []
    iou = metrics.MeanIoU(
        mode="binary",
        threshold=0.7,
        ignore_index=255,
        per_class=True,
        class_names=["bg", "fg"],
    )
    for _ in range(3):
        y = rng.integers(0, 2, (2, 8, 8))
        y[rng.random(y.shape) < 0.1] = 255
        logits = rng.normal(size=(2, 8, 8, 1)).astype("float32")
        iou.update_state(y, logits)
        valid = y != 255
        truth.append(y[valid])
        pred.append((1 / (1 + np.exp(-logits[..., 0])) > 0.7)[valid])
    truth, pred = np.concatenate(truth), np.concatenate(pred)
    result = iou.result()
    expected = jaccard_score(truth, pred, average=None)
    np.testing.assert_allclose(float(result["mean_iou_bg"]), expected[0], 1e-5)
    np.testing.assert_allclose(float(result["mean_iou_fg"]), expected[1], 1e-5)


def test_multilabel_scores_each_label_on_its_own():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, (3, 6, 6, 3)).astype("float32")
    y[rng.random(y.shape) < 0.1] = 255
    logits = rng.normal(size=y.shape).astype("float32")
    pred = logits > 0
    per_label = metrics.MeanIoU(
        3, mode="multilabel", ignore_index=255, per_class=True
    )
    per_label.update_state(y, logits)
    dice = metrics.Dice(3, mode="multilabel", ignore_index=255)
    dice.update_state(y, logits)
    accuracy = metrics.PixelAccuracy(3, mode="multilabel", ignore_index=255)
    accuracy.update_state(y, logits)
    ious, f1s, hits, count = [], [], 0, 0
    for c in range(3):
        valid = y[..., c] != 255
        t, p = y[..., c][valid], pred[..., c][valid]
        ious.append(jaccard_score(t, p))
        f1s.append(f1_score(t, p))
        hits, count = hits + (t == p).sum(), count + t.size
        np.testing.assert_allclose(
            float(per_label.result()[f"mean_iou_{c}"]), ious[-1], 1e-5
        )
    np.testing.assert_allclose(float(dice.result()), np.mean(f1s), 1e-5)
    np.testing.assert_allclose(float(accuracy.result()), hits / count, 1e-6)


def test_per_class_table_matches_sklearn():
    truth, pred = _sklearn_inputs(_stream())
    confusion = confusion_matrix(truth, pred, labels=range(K))
    names = ["a", "b", "c", "d", "e"]
    rows = metrics.per_class_table(confusion, names)
    iou = jaccard_score(
        truth, pred, average=None, labels=range(K), zero_division=0
    )
    for c, row in enumerate(rows[:4]):
        assert row["class"] == names[c]
        assert row["iou"] == pytest.approx(iou[c], abs=1e-4)
        assert row["support"] == (truth == c).sum()
    assert np.isnan(rows[4]["iou"]) and rows[4]["support"] == 0


def test_bad_labels_raise_naming_the_value():
    metric = metrics.MeanIoU(3, ignore_index=255)
    with pytest.raises(ValueError, match=re.escape("9.0")):
        metric.update_state(np.array([[0, 9]]), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="class_names"):
        metrics.MeanIoU(3, class_names=["a"])
    with pytest.raises(ValueError, match="threshold=1.5"):
        metrics.MeanIoU(mode="binary", threshold=1.5)


@pytest.mark.slow
def test_streaming_evaluate_with_xla_matches_sklearn_and_reloads(tmp_path):
    model = kerasseg.models.unet((None, None, 3), 3, depth=2, base_filters=4)
    model.compile(
        "adam",
        kerasseg.losses.DiceCrossEntropy(num_classes=3, ignore_index=255),
        metrics=[
            metrics.MeanIoU(3, ignore_index=255),
            metrics.MeanIoU(3, ignore_index=255, per_class=True, name="iou"),
            metrics.PixelAccuracy(3, ignore_index=255),
        ],
        jit_compile=True,
    )
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 3, (6, 16, 16))
    y[:, :2] = 255
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    logs = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    pred = np.asarray(model.predict(x, verbose=0)).argmax(-1)
    valid = y != 255
    truth, pred = y[valid], pred[valid]
    present = sorted(set(truth) | set(pred))
    expected = jaccard_score(truth, pred, average="macro", labels=present)
    np.testing.assert_allclose(logs["mean_iou"], expected, rtol=1e-4)
    assert {"iou_0", "iou_1", "iou_2"} <= set(logs)
    np.testing.assert_allclose(
        logs["pixel_accuracy"], accuracy_score(truth, pred), rtol=1e-5
    )
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    again = reloaded.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    np.testing.assert_allclose(again["mean_iou"], logs["mean_iou"], rtol=1e-6)


def test_psnr_is_the_mean_of_each_images_psnr():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 255, (3, 8, 8, 2))
    noisy = truth + rng.normal(
        0, [[[[5.0]]], [[[10.0]]], [[[20.0]]]], truth.shape
    )
    metric = kerasseg.metrics.PSNR()
    metric.update_state(truth[:2], noisy[:2])
    metric.update_state(truth[2:], noisy[2:])
    mse = ((truth - noisy) ** 2).mean(axis=(1, 2, 3))
    want = np.mean(10 * np.log10(255.0**2 / mse))
    assert float(metric.result()) == pytest.approx(want, rel=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    again = kerasseg.metrics.PSNR.from_config(
        kerasseg.metrics.PSNR(max_value=1.0).get_config()
    )
    assert again.max_value == 1.0
    with pytest.raises(ValueError, match="max_value"):
        kerasseg.metrics.PSNR(max_value=0)
