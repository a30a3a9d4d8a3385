"""kerasseg.postprocess and kerasseg.instance_metrics on hand-made cases."""

import numpy as np
import pytest

from kerasseg import instance_metrics
from kerasseg import postprocess


def disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius**2


def two_touching_discs():
    return disc((40, 60), (20, 18), 10) | disc((40, 60), (20, 36), 10)


def test_watershed_splits_touching_discs_that_components_join():
    mask = two_touching_discs()
    assert postprocess.connected_components(mask).max() == 1
    labels = postprocess.watershed_split(mask)
    assert labels.max() == 2
    # Every mask pixel is labelled, nothing outside it.
    assert np.array_equal(labels > 0, mask)
    # The split runs between the centres: each disc's centre in its own.
    assert labels[20, 18] != labels[20, 36]


def test_watershed_keeps_a_convex_object_whole():
    mask = disc((40, 40), (20, 20), 12)
    assert postprocess.watershed_split(mask).max() == 1


def test_watershed_on_a_given_distance_map():
    mask = np.ones((10, 20), bool)
    distance = np.zeros((10, 20))
    distance[:, 2:8] = 5.0  # two plateaus, a valley between
    distance[:, 12:18] = 5.0
    labels = postprocess.watershed_split(mask, distance=distance, h=1)
    assert labels.max() == 2
    assert labels[5, 4] != labels[5, 15]


def brute_force_normalized_distance(labels):
    """From the definition: each object pixel's distance to the nearest
    pixel not of its object (outside the image counts), over the object's
    largest."""
    h, w = labels.shape
    out = np.zeros((h, w))
    # The image with a ring of "outside" (-1) around it.
    ringed = np.full((h + 2, w + 2), -1)
    ringed[1:-1, 1:-1] = labels
    yy, xx = np.mgrid[-1 : h + 1, -1 : w + 1]
    for obj in np.unique(labels[labels > 0]):
        others = ringed != obj
        oy, ox = yy[others], xx[others]
        ys, xs = np.nonzero(labels == obj)
        d = np.sqrt((ys[:, None] - oy) ** 2 + (xs[:, None] - ox) ** 2).min(1)
        out[ys, xs] = d / d.max()
    return out


def test_normalized_distance_against_its_definition():
    rng = np.random.default_rng(0)
    # Random blobs that touch and cross the image border, odd ids.
    labels = np.zeros((23, 31), int)
    for obj in (3, 7, 8, 20):
        cy, cx = rng.integers(0, 23), rng.integers(0, 31)
        labels[disc(labels.shape, (cy, cx), rng.integers(3, 9))] = obj
    want = brute_force_normalized_distance(labels)
    got = postprocess.normalized_distance(labels)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)
    # Every object peaks at 1; the background stays 0.
    for obj in np.unique(labels[labels > 0]):
        assert got[labels == obj].max() == pytest.approx(1.0)
    assert np.all(got[labels == 0] == 0)


def test_normalized_distance_separates_what_the_mask_joins():
    """Two discs merged deep into each other: the mask's distance transform
    sees one blob (no seed for the smaller at h = 1 px), the normalized
    distance a valley where the objects meet, so the watershed on it
    splits them."""
    a, b = disc((40, 60), (20, 18), 11), disc((40, 60), (20, 31), 9)
    labels = np.where(a, 1, np.where(b, 2, 0))
    target = postprocess.normalized_distance(labels)
    mask = labels > 0
    assert postprocess.watershed_split(mask, h=1.0).max() == 1
    split = postprocess.watershed_split(mask, h=0.5, distance=target)
    assert split.max() == 2
    assert split[20, 18] != split[20, 31]


def test_normalized_distance_names_bad_labels():
    with pytest.raises(ValueError, match="integer instance label image"):
        postprocess.normalized_distance(np.zeros((4, 4), "float32"))
    with pytest.raises(ValueError, match="integer instance label image"):
        postprocess.normalized_distance(np.zeros((2, 4, 4), int))


def test_hole_filling_and_small_object_removal():
    mask = np.zeros((20, 20), int)
    mask[2:10, 2:10] = 1
    mask[5, 5] = 0  # a hole
    mask[15, 15] = 1  # a 1-pixel speck
    labels, classes = postprocess.instances(mask, fill=True, min_size=2)
    assert labels.max() == 1
    assert labels[5, 5] == 1
    assert labels[15, 15] == 0
    assert (labels > 0).sum() == 64
    assert classes.tolist() == [0, 1]


def test_instances_per_class_and_the_objects_table():
    mask = np.zeros((10, 12), int)
    mask[0:2, 0:3] = 2  # class 2, area 6
    mask[5:9, 5:7] = 1  # class 1, area 8
    mask[5:9, 9:11] = 1  # class 1, area 8, separate
    mask[0, 11] = 255  # ignored
    labels, classes = postprocess.instances(mask, ignore_index=255)
    assert labels.max() == 3
    # classes[labels] gives the class mask back (ignore → 0).
    assert np.array_equal(classes[labels], np.where(mask == 255, 0, mask))
    rows = postprocess.objects(labels, classes)
    by_class = sorted((r["class"], r["area"]) for r in rows)
    assert by_class == [(1, 8), (1, 8), (2, 6)]
    two = next(r for r in rows if r["class"] == 2)
    assert (two["centroid_y"], two["centroid_x"]) == (0.5, 1.0)
    assert (two["bbox_y0"], two["bbox_x0"], two["bbox_y1"]) == (0, 0, 2)
    assert two["bbox_x1"] == 3


def test_eight_connectivity_joins_diagonal_pixels():
    mask = np.eye(4, dtype=bool)
    assert postprocess.connected_components(mask, connectivity=1).max() == 4
    assert postprocess.connected_components(mask, connectivity=2).max() == 1


def test_objects_csv(tmp_path):
    mask = np.zeros((6, 6), int)
    mask[1:3, 1:3] = 1
    labels, classes = postprocess.instances(mask)
    path = tmp_path / "objects.csv"
    postprocess.write_objects_csv(
        path, postprocess.objects(labels, classes), ["background", "nucleus"]
    )
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:4] == ["id", "class", "class_name", "area"]
    assert lines[1].split(",")[:4] == ["1", "1", "nucleus", "4"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mask=np.zeros((2, 3, 4), int)), "2-D"),
        (dict(mask=np.zeros((4, 4))), "integer class ids"),
        (dict(mask=np.zeros((4, 4), int), method="blobs"), "method"),
        (dict(mask=np.zeros((4, 4), int), min_size=-1), "min_size"),
        (dict(mask=np.zeros((4, 4), int), connectivity=3), "connectivity"),
        (dict(mask=np.ones((4, 4), int), method="watershed", h=0), "`h`"),
        (
            dict(mask=np.ones((4, 4), int), method="watershed", sigma=-1),
            "sigma",
        ),
    ],
)
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        postprocess.instances(**kwargs)


# === instance metrics ===


def test_instance_scores_hand_counted():
    truth = np.zeros((20, 20), int)
    truth[0:4, 0:4] = 1  # 16 px, predicted exactly
    truth[10:14, 0:4] = 2  # 16 px, predicted shifted by one row
    truth[0:4, 10:14] = 3  # missed
    predicted = np.zeros_like(truth)
    predicted[0:4, 0:4] = 7
    predicted[11:15, 0:4] = 8  # IoU 12 / 20 = 0.6
    predicted[16:20, 16:20] = 9  # false positive
    scores = instance_metrics.InstanceScores()
    scores.update(truth, predicted)
    out = scores.result()
    # At 0.5: TP 2 (IoU 1, 0.6), FP 1, FN 1.
    assert out["precision@0.5"] == pytest.approx(2 / 3)
    assert out["recall@0.5"] == pytest.approx(2 / 3)
    assert out["f1@0.5"] == pytest.approx(4 / 6)
    # At 0.6 the shifted pair (IoU exactly 0.6) no longer matches (IoU > t).
    assert out["f1@0.6"] == pytest.approx(2 / 6)
    # DSB: thresholds 0.5, 0.55 → 2/4; 0.6 … 0.95 (8 of them) → 1/5.
    assert out["dsb_score"] == pytest.approx((2 * 0.5 + 8 * 0.2) / 10)
    # PQ: SQ = (1 + 0.6) / 2, RQ = 2 / (2 + 0.5 + 0.5).
    assert out["sq"] == pytest.approx(0.8)
    assert out["rq"] == pytest.approx(2 / 3)
    assert out["pq"] == pytest.approx(0.8 * 2 / 3)


def test_instance_scores_accumulate_over_images_and_classes():
    a = np.zeros((6, 6), int)
    a[0:2, 0:2] = 1
    a[4:6, 4:6] = 2
    scores = instance_metrics.InstanceScores(thresholds=(0.5,))
    # Image 1: both right. Image 2: object 2 predicted with the wrong class.
    classes = np.array([0, 1, 2])
    scores.update(a, a, classes, classes)
    scores.update(a, a, classes, np.array([0, 1, 1]))
    out = scores.result()
    assert out["f1@0.5"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    # Class 1: TP 2, FP 1; class 2: TP 1, FN 1.
    assert out["pq_per_class"][1]["rq"] == pytest.approx(2 / 2.5)
    assert out["pq_per_class"][2]["rq"] == pytest.approx(1 / 1.5)
    assert out["dsb_score"] == pytest.approx((1.0 + 1 / 3) / 2)


def test_instance_scores_refuse_thresholds_below_one_half():
    with pytest.raises(ValueError, match="thresholds"):
        instance_metrics.InstanceScores(thresholds=(0.3,))


def test_iou_matrix_names_shape_mismatch():
    with pytest.raises(ValueError, match="one shape"):
        instance_metrics.iou_matrix(
            np.zeros((3, 3), int), np.zeros((3, 4), int)
        )
