"""The training-curve picture: every logged value is drawn where a linear
map of its panel puts it, NaNs leave gaps, and the run folder writes it."""

import math
import xml.etree.ElementTree as ET

import pytest

from kerasseg.training import curves
from kerasseg.training import run_folder

NS = "{http://www.w3.org/2000/svg}"


def _points(root, key):
    """Every (x, y) drawn for `key`, polyline by polyline."""
    out = []
    for element in root.iter():
        if element.get("data-key") != key:
            continue
        if element.tag == NS + "polyline":
            out.append(
                [
                    tuple(map(float, p.split(",")))
                    for p in element.get("points").split()
                ]
            )
        elif element.tag == NS + "circle":
            out.append([(float(element.get("cx")), float(element.get("cy")))])
    return out


HISTORY = [
    {"epoch": 1, "loss": 2.0, "val_loss": 2.5, "mean_iou": 0.1},
    {"epoch": 2, "loss": 1.0, "val_loss": 1.5, "mean_iou": 0.4},
    {"epoch": 3, "loss": 0.5, "val_loss": 1.0, "mean_iou": 0.7},
    {"epoch": 4, "loss": 0.25, "val_loss": 1.25, "mean_iou": 0.6},
]


def test_panels_put_the_loss_first_and_pair_validation_values():
    assert curves.panels(HISTORY) == [
        ("loss", "loss", "val_loss"),
        ("mean_iou", "mean_iou", None),
    ]
    # A value logged for validation only still gets its panel.
    assert curves.panels([{"epoch": 1, "val_dice": 0.5}]) == [
        ("dice", None, "val_dice")
    ]


def test_points_are_a_linear_map_of_epoch_and_value():
    root = ET.fromstring(curves.svg(HISTORY))
    assert root.tag == NS + "svg"
    (loss,) = _points(root, "loss")
    (val_loss,) = _points(root, "val_loss")
    (iou,) = _points(root, "mean_iou")
    assert len(loss) == len(val_loss) == len(iou) == 4
    # x: first epoch at the left edge, last at the right, evenly spaced.
    left, right = curves.LEFT, curves.WIDTH - curves.RIGHT
    for series in (loss, val_loss, iou):
        xs = [x for x, _ in series]
        assert xs[0] == pytest.approx(left) and xs[-1] == pytest.approx(right)
        assert xs[2] - xs[1] == pytest.approx((right - left) / 3, abs=0.01)
    # y: the loss panel spans the smallest (0.25, bottom) to the largest
    # value of both series (2.5, top); each point sits linearly between.
    top, bottom = curves.TOP, curves.HEIGHT - curves.BOTTOM
    for series, values in (
        (loss, [2.0, 1.0, 0.5, 0.25]),
        (val_loss, [2.5, 1.5, 1.0, 1.25]),
    ):
        for (_, y), value in zip(series, values):
            expected = bottom - (value - 0.25) / (2.5 - 0.25) * (bottom - top)
            assert y == pytest.approx(expected, abs=0.01)
    # The second panel lies one panel height lower, scaled to its own range.
    ys = [y for _, y in iou]
    assert ys[0] == pytest.approx(curves.HEIGHT + bottom, abs=0.01)  # 0.1: min
    assert ys[2] == pytest.approx(curves.HEIGHT + top, abs=0.01)  # 0.7: max


def test_non_finite_values_leave_gaps_and_a_lone_value_is_a_dot():
    history = [
        {"epoch": 1, "loss": 1.0},
        {"epoch": 2, "loss": 0.8},
        {"epoch": 3, "loss": math.nan},
        {"epoch": 4, "loss": 0.5},
        {"epoch": 5, "loss": math.inf},
    ]
    root = ET.fromstring(curves.svg(history))
    runs = _points(root, "loss")
    assert [len(r) for r in runs] == [2, 1]
    assert root.findall(f".//{NS}circle")[0].get("data-key") == "loss"


def test_empty_history_and_bad_input():
    root = ET.fromstring(curves.svg([]))
    assert "no epochs" in "".join(root.itertext())
    with pytest.raises(ValueError, match="history must be a list of dicts"):
        curves.svg([{"loss": 1.0}])
    with pytest.raises(ValueError, match="history must be a list"):
        curves.svg({"loss": [1.0]})


def test_run_folder_writes_the_picture_with_the_history(tmp_path):
    run_folder.write_history(HISTORY, str(tmp_path))
    root = ET.parse(tmp_path / "curves.svg").getroot()
    assert _points(root, "val_loss") == _points(
        ET.fromstring(curves.svg(HISTORY)), "val_loss"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "curves.svg",
        "history.csv",
        "history.json",
    ]
