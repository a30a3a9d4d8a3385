"""Training curves as an SVG picture: one panel per logged quantity (the
loss, each metric, the learning rate), the training value as a solid line
and the validation value (`val_<name>`) as a dashed one, epochs along x.

    curves.svg(history) -> str          history: history.json's rows
    curves.write(history, path)

The run folder writes `curves.svg` beside `history.json` after every
epoch (`kerasseg.training.run_folder.write_history`); any browser, and
the docs site, shows it. SVG keeps it a text file with no plotting
library to install. Non-finite values (a NaN loss) leave a gap.
"""

import math
from xml.sax.saxutils import escape

from kerasseg import _files

WIDTH = 520  # one panel, in SVG user units (px)
HEIGHT = 170
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 26, 30
TRAIN_COLOUR = "#1f77b4"
VAL_COLOUR = "#d62728"


def panels(history):
    """The quantities to draw, in order (loss first), each with its
    training and validation keys (either may be None)."""
    keys = {k for row in history for k in row if k != "epoch"}
    names = sorted({k[4:] if k.startswith("val_") else k for k in keys})
    names.sort(key=lambda n: (n != "loss", n))
    return [
        (
            name,
            name if name in keys else None,
            f"val_{name}" if f"val_{name}" in keys else None,
        )
        for name in names
    ]


def _finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)


def _ticks(low, high):
    """Three y labels: the bottom, the middle and the top of the range."""
    return [low, (low + high) / 2, high]


def _label(value):
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _panel(history, name, train_key, val_key, top):
    """The SVG elements of one panel whose top edge is at `top`."""
    epochs = [row["epoch"] for row in history]
    values = [
        row[k]
        for row in history
        for k in (train_key, val_key)
        if k is not None and _finite(row.get(k))
    ]
    x0, x1 = LEFT, WIDTH - RIGHT
    y0, y1 = top + TOP, top + HEIGHT - BOTTOM
    out = [
        f'<text x="{LEFT}" y="{top + 16}" font-weight="bold">'
        f"{escape(name)}</text>",
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
        'fill="none" stroke="#999"/>',
    ]
    if not values:
        out.append(
            f'<text x="{(x0 + x1) / 2}" y="{(y0 + y1) / 2}" '
            'text-anchor="middle" fill="#999">no finite values</text>'
        )
        return out
    low, high = min(values), max(values)
    if high == low:  # a flat line sits in the middle of the panel
        low, high = low - 0.5, high + 0.5
    first, last = min(epochs), max(epochs)
    span = max(last - first, 1)

    def x(epoch):
        if last == first:
            return (x0 + x1) / 2
        return x0 + (epoch - first) / span * (x1 - x0)

    def y(value):
        return y1 - (value - low) / (high - low) * (y1 - y0)

    for value in _ticks(low, high):
        out.append(
            f'<text x="{x0 - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{_label(value)}</text>'
        )
    step = max(1, math.ceil(span / 10))
    for epoch in sorted({*range(first, last, step), last}):
        out.append(
            f'<text x="{x(epoch):.1f}" y="{y1 + 16}" '
            f'text-anchor="middle">{epoch}</text>'
        )
    legend_x = x1 - 4
    for key, colour, dash in (
        (val_key, VAL_COLOUR, ' stroke-dasharray="5,3"'),
        (train_key, TRAIN_COLOUR, ""),
    ):
        if key is None:
            continue
        # Consecutive finite values make one polyline; a gap starts another.
        runs, current = [], []
        for epoch, row in zip(epochs, history):
            if _finite(row.get(key)):
                current.append(f"{x(epoch):.2f},{y(row[key]):.2f}")
            elif current:
                runs.append(current)
                current = []
        if current:
            runs.append(current)
        for points in runs:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                out.append(
                    f'<circle data-key="{escape(key)}" cx="{cx}" cy="{cy}" '
                    f'r="2.5" fill="{colour}"/>'
                )
            else:
                out.append(
                    f'<polyline data-key="{escape(key)}" fill="none" '
                    f'stroke="{colour}" stroke-width="1.8"{dash} '
                    f'points="{" ".join(points)}"/>'
                )
        out.append(
            f'<text x="{legend_x}" y="{top + 16}" text-anchor="end" '
            f'fill="{colour}">{escape(key)}</text>'
        )
        legend_x -= 8 * len(key) + 16
    return out


def svg(history):
    """The SVG document (text) of `history`: a list of rows, each with an
    `epoch` and the logged values (history.json's format)."""
    if not isinstance(history, (list, tuple)) or not all(
        isinstance(row, dict) and "epoch" in row for row in history
    ):
        raise ValueError(
            "curves.svg: history must be a list of dicts, each with an "
            "'epoch' (history.json's rows)."
        )
    drawn = panels(history) if history else []
    height = max(len(drawn), 1) * HEIGHT + 20
    body = []
    for n, (name, train_key, val_key) in enumerate(drawn):
        body.extend(_panel(history, name, train_key, val_key, n * HEIGHT))
    if not drawn:
        body.append('<text x="20" y="40">no epochs logged yet</text>')
    body.append(
        f'<text x="{WIDTH / 2}" y="{height - 6}" text-anchor="middle" '
        'fill="#555">epoch</text>'
    )
    return "\n".join(
        [
            '<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" '
            'font-size="11">',
            f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
            *body,
            "</svg>",
            "",
        ]
    )


def write(history, path):
    """Writes `svg(history)` to `path` atomically."""
    _files.write_text(path, svg(history))
