"""Model cards and `docs/zoo.md`, rendered from the records.

The record is the only source of every figure: `card.md` and the zoo table
are regenerated with `python -m kerasseg.zoo.cards`, and a test fails when
a committed file differs from what the records render.
"""

import pathlib
import sys

from kerasseg.zoo import records

NOTES = "notes.md"
CARD = "card.md"
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "zoo.md"


def _fmt(value):
    return "—" if value is None or value != value else f"{value:.4f}"


def _class_table(metrics):
    lines = [
        "| class | IoU | Dice | precision | recall |",
        "|---|---|---|---|---|",
    ]
    for name, row in metrics["classes"].items():
        scores = " | ".join(
            _fmt(row[k]) for k in ("iou", "dice", "precision", "recall")
        )
        lines.append(f"| {name} | {scores} |")
    lines.append(
        f"| **mean** | {_fmt(metrics['mean_iou'])} | "
        f"{_fmt(metrics['mean_dice'])} | | |"
    )
    return lines


def _output(d):
    if d["task"] == "reconstruction":
        return (
            f"the image, {d['input_channels']} channel(s) in the input's "
            "pixel scale"
        )
    text = (
        f"{d['config']['model']['num_classes']} logits per pixel: "
        f"{', '.join(d['class_names'])}"
    )
    if d["task"] == "multitask":
        text = (
            f'"mask": {text}; "label": {len(d["class_names"]) - 1} '
            "logits per image, one per class after background (present or "
            "not)"
        )
    return text


def _scores(held):
    if "psnr" in held:
        from kerasseg.training.evaluation import reconstruction_table

        return [reconstruction_table(held)]
    lines = [
        *_class_table(held),
        "",
        f"Pixel accuracy {held['pixel_accuracy']:.4f}.",
    ]
    if "labels" in held:  # a multi-task model's image-level output
        from kerasseg.training.evaluation import label_table

        lines += [
            "",
            "Image-level labels (which classes after background an image "
            "holds):",
            "",
            label_table(held["labels"]),
        ]
    if "objects" in held:  # the held-out data's instance labels
        from kerasseg.training.evaluation import objects_table

        lines += [
            "",
            "Objects: true objects matched by a predicted one with IoU > "
            "0.5 (F1, precision, recall), at IoU > 0.75, the Data Science "
            "Bowl 2018 score (IoU 0.5–0.95) and panoptic quality; boundary "
            "scores of the foreground.",
            "",
            objects_table(held["objects"]),
        ]
    return lines


def _robustness(section):
    columns = section["columns"]
    lines = [
        section["description"],
        "",
        f"Measured with `{section['command']}` on {section['machine']}.",
        "",
        "| transform | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for row in section["rows"]:
        cells = " | ".join(
            _fmt(row[c]) if isinstance(row[c], float) else str(row[c])
            for c in columns
        )
        lines.append(f"| {row['transform']} | {cells} |")
    return lines


def card(record):
    """The markdown of `record`'s card."""
    d = record.data
    model = d["config"]["model"]
    training = d["training"]
    held = d["metrics"]["held_out"]
    lines = [
        f"# {record.name}",
        "",
        d["summary"],
        "",
        "```python",
        f'model = kerasseg.load("{record.name}")',
        "```",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{record.model}` with {model['options'] or '{}'} |",
        f"| parameters | {d['params']:,} |",
        f"| input | {d['input_channels']} channel(s), any height and width; "
        f"{d['preprocessing']} |",
        f"| output | {_output(d)} |",
        f"| training data | {d['dataset']['train']} |",
        f"| held-out data | {d['dataset']['held_out']} |",
        f"| weights | `{d['weights_file']}`, {d['size']:,} bytes, "
        f"{d['storage']}, sha256 `{d['sha256']}` |",
        f"| training | {training['time']} on {training['machine']} |",
        "| versions | "
        + ", ".join(f"{k} {v}" for k, v in d["versions"].items())
        + " |",
        f"| licence | {d['licence']} |",
        f"| date | {d['date']} |",
        "",
        "## Held-out scores",
        "",
        f"{held['split']}, measured with `{held['command']}`.",
        "",
        *_scores(held),
        "",
    ]
    if "robustness" in d["metrics"]:
        lines += [
            "## Robustness",
            "",
            *_robustness(d["metrics"]["robustness"]),
            "",
        ]
    notes = record.folder / NOTES
    if notes.is_file():
        lines += [notes.read_text().strip(), ""]
    lines += [
        "## Reproduce",
        "",
        "```bash",
        *training["commands"],
        "```",
        "",
    ]
    return "\n".join(lines)


def zoo_table(all_records, folder):
    """The markdown of `docs/zoo.md`: the published records, and the
    entry folders of `folder` that hold only a training config."""
    lines = [
        "# Model zoo",
        "",
        "Pretrained weights by name. Every figure below is read from the "
        "entry's `zoo/<name>/record.json`; this page is generated by "
        "`python -m kerasseg.zoo.cards` (a test fails when it is stale).",
        "",
        "```python",
        # Spaced as ruff formats the block (it formats markdown too).
        "kerasseg.list_pretrained()  # the names below",
        'model = kerasseg.load("unet.nuclei_bbbc007")  # weights checked '
        "by sha256",
        "```",
        "",
        "From a shell: `kerasseg zoo list`, `kerasseg zoo info NAME`, "
        "`kerasseg zoo verify`, `kerasseg zoo evaluate NAME`, and a zoo "
        "name wherever `kerasseg predict` or `kerasseg export` take a "
        "model. Weights are looked for beside the record, then in the "
        "cache (`KERASSEG_HOME`, else `$KERAS_HOME/kerasseg`), then "
        "downloaded from `KERASSEG_ZOO_URL`; `KERASSEG_OFFLINE=1` never "
        "downloads.",
        "",
        "| entry | task | data | parameters | file | held-out mean IoU | "
        "held-out mean Dice |",
        "|---|---|---|---|---|---|---|",
    ]
    others = []
    for record in all_records.values():
        held = record["metrics"]["held_out"]
        row = (
            f"| `{record.name}` (card: `zoo/{record.name}/card.md`) | "
            f"{record['task']} | {record['dataset']['name']} | "
            f"{record['params']:,} | {record['size'] / 1e6:.1f} MB | "
        )
        if "psnr" in held:
            others.append(f"{row}{held['psnr']:.2f} | {held['mae']:.4f} |")
        else:
            lines.append(
                f"{row}{_fmt(held['mean_iou'])} | {_fmt(held['mean_dice'])} |"
            )
    lines.append("")
    if others:
        lines += [
            "Reconstruction entries (autoencoders):",
            "",
            "| entry | task | data | parameters | file | held-out PSNR (dB) "
            "| held-out MAE |",
            "|---|---|---|---|---|---|---|",
            *others,
            "",
        ]
    pending = [
        path.parent.name
        for path in sorted(folder.glob("*/config.yaml"))
        if path.parent.name not in all_records
    ]
    if pending:
        lines += [
            "Training configs committed whose weights are not published "
            "yet (`kerasseg train zoo/<name>/config.yaml` trains one): "
            + ", ".join(f"`{name}`" for name in pending)
            + ".",
            "",
        ]
    return "\n".join(lines)


def render_all(folder=None):
    """`{path: text}` of every card and of `docs/zoo.md`."""
    folder = records.entries_dir() if folder is None else folder
    all_records = records.read(folder)
    out = {r.folder / CARD: card(r) for r in all_records.values()}
    out[DOCS] = zoo_table(all_records, folder)
    return out


def main():
    for path, text in render_all().items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
