"""kerasseg.boundary_metrics against computations written here from the
definitions: contours by looking at each pixel's four neighbours, distances
by brute force over every pair of contour pixels."""

import numpy as np
import pytest

from kerasseg.boundary_metrics import BoundaryScores


def contour_by_hand(mask):
    h, w = mask.shape
    out = np.zeros_like(mask, dtype=bool)
    for y in range(h):
        for x in range(w):
            if not mask[y, x]:
                continue
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                yy, xx = y + dy, x + dx
                if not (0 <= yy < h and 0 <= xx < w) or not mask[yy, xx]:
                    out[y, x] = True
    return out


def directed(a, b):
    """Distances from each contour pixel of `a` to the nearest of `b`."""
    pa, pb = np.argwhere(a).astype(float), np.argwhere(b).astype(float)
    return np.sqrt(((pa[:, None] - pb[None]) ** 2).sum(-1)).min(1)


def band_by_hand(mask, width):
    # Distance of each mask pixel to the nearest pixel outside the mask,
    # the ring just outside the image counting as outside.
    h, w = mask.shape
    padded = np.pad(mask, 1)
    outside = np.argwhere(~padded).astype(float)
    inside = np.argwhere(padded).astype(float)
    d = np.sqrt(((inside[:, None] - outside[None]) ** 2).sum(-1)).min(1)
    out = np.zeros_like(padded)
    out[tuple(inside[d <= width].astype(int).T)] = True
    return out[1:-1, 1:-1]


def reference(pairs, c, tolerance, band):
    near_p = all_p = near_t = all_t = inter = union = 0
    hd95, assd = [], []
    for truth, predicted in pairs:
        t, p = truth == c, predicted == c
        ct, cp = contour_by_hand(t), contour_by_hand(p)
        if ct.any() and cp.any():
            d_pt, d_tp = directed(cp, ct), directed(ct, cp)
            near_p += (d_pt <= tolerance).sum()
            near_t += (d_tp <= tolerance).sum()
            hd95.append(max(np.percentile(d_pt, 95), np.percentile(d_tp, 95)))
            assd.append(np.concatenate([d_pt, d_tp]).mean())
        all_p += cp.sum()
        all_t += ct.sum()
        bt, bp = band_by_hand(t, band), band_by_hand(p, band)
        inter += (bt & bp).sum()
        union += (bt | bp).sum()
    precision, recall = near_p / all_p, near_t / all_t
    return {
        "boundary_precision": precision,
        "boundary_recall": recall,
        "boundary_f1": 2 * precision * recall / (precision + recall),
        "surface_dice": (near_p + near_t) / (all_p + all_t),
        "boundary_iou": inter / union,
        "hd95": np.mean(hd95),
        "assd": np.mean(assd),
    }


def random_masks(rng, shape, num_classes):
    # Blobs: smoothed noise, thresholded into classes.
    noise = rng.normal(size=(shape[0] // 4 + 1, shape[1] // 4 + 1))
    big = np.kron(noise, np.ones((4, 4)))[: shape[0], : shape[1]]
    big += 0.5 * rng.normal(size=shape)
    edges = np.quantile(big, np.linspace(0, 1, num_classes + 1)[1:-1])
    return np.digitize(big, edges)


def test_against_the_definitions_on_random_masks():
    rng = np.random.default_rng(0)
    pairs = [
        (random_masks(rng, (24, 28), 3), random_masks(rng, (24, 28), 3))
        for _ in range(3)
    ]
    scores = BoundaryScores(num_classes=3, tolerance=1.5, band=2.0)
    for truth, predicted in pairs:
        scores.update(truth, predicted)
    out = scores.result()
    for c in (1, 2):
        expected = reference(pairs, c, 1.5, 2.0)
        for key, value in expected.items():
            assert out["per_class"][c][key] == pytest.approx(value), (c, key)
    assert out["boundary_f1"] == pytest.approx(
        np.mean([out["per_class"][c]["boundary_f1"] for c in (1, 2)])
    )


def test_a_square_shifted_by_one_pixel():
    truth = np.zeros((12, 12), int)
    truth[3:8, 3:8] = 1
    predicted = np.roll(truth, 1, axis=1)
    scores = BoundaryScores(num_classes=2, tolerance=0)
    scores.update(truth, predicted)
    out = scores.result()
    # 16 contour pixels each; the shared ones: rows 3 and 7, columns 4–7
    # of the truth's top and bottom edges → 8 of 16 on each side.
    assert out["boundary_precision"] == pytest.approx(8 / 16)
    assert out["boundary_recall"] == pytest.approx(8 / 16)
    assert out["hd95"] == pytest.approx(1.0)
    scores = BoundaryScores(num_classes=2, tolerance=1)
    scores.update(truth, predicted)
    assert scores.result()["boundary_f1"] == 1.0


def test_ignored_pixels_belong_to_no_class():
    truth = np.zeros((10, 10), int)
    truth[2:6, 2:6] = 1
    predicted = truth.copy()
    truth[:, 8:] = 255
    predicted[:, 8:] = 1  # a wrong prediction where the truth is ignored
    scores = BoundaryScores(num_classes=2, ignore_index=255)
    scores.update(truth, predicted)
    out = scores.result()
    assert out["boundary_f1"] == 1.0
    assert out["hd95"] == 0.0


def test_a_class_missing_on_one_side_is_counted_undefined():
    truth = np.zeros((8, 8), int)
    truth[2:5, 2:5] = 1
    scores = BoundaryScores(num_classes=3)
    scores.update(truth, np.zeros_like(truth))
    out = scores.result()
    assert out["per_class"][1]["undefined"] == 1
    assert out["per_class"][1]["boundary_recall"] == 0.0
    assert np.isnan(out["per_class"][1]["hd95"])
    # Class 2 is absent from both masks: not scored, not averaged in.
    assert np.isnan(out["per_class"][2]["boundary_f1"])
    assert out["boundary_f1"] == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=1), "num_classes"),
        (dict(num_classes=3, classes=[3]), "classes"),
        (dict(num_classes=3, tolerance=-1), "tolerance"),
        (dict(num_classes=3, band=0), "band"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BoundaryScores(**kwargs)
