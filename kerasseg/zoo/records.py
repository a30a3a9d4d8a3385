"""Zoo records: one frozen `record.json` beside each entry's weights.

The record is the single owner of what an entry is: the training config
that produced it, the weights file name and sha256, the parameter count,
the layout hash, classes and palette, data and licence, the metrics with
the command that measured them, and the versions and machine. Cards and
`docs/zoo.md` are rendered from it, and loading checks against it.
"""

import dataclasses
import difflib
import fnmatch
import hashlib
import json
import os
import pathlib

RECORD = "record.json"
ENV_DIR = "KERASSEG_ZOO_DIR"
# An entry folder is named after the entry; a record file in it says the rest.
REQUIRED = (
    "name",
    "summary",
    "task",
    "config",
    "weights_file",
    "sha256",
    "size",
    "storage",
    "params",
    "layout_sha256",
    "input_channels",
    "preprocessing",
    "class_names",
    "palette",
    "dataset",
    "licence",
    "metrics",
    "training",
    "versions",
    "date",
)


class ZooError(ValueError):
    """A zoo entry that cannot be found, verified or loaded."""


def entries_dir():
    """The folder of published entries: `KERASSEG_ZOO_DIR` if set, else the
    one the package ships with: `kerasseg/zoo_entries/` in an installed
    wheel (setup.py maps the repository's `zoo/` there), the checkout's
    `zoo/` beside the package in a source or editable install."""
    if os.environ.get(ENV_DIR):
        return pathlib.Path(os.environ[ENV_DIR])
    package = pathlib.Path(__file__).resolve().parents[1]
    shipped = package / "zoo_entries"
    if shipped.is_dir():
        return shipped
    return package.parent / "zoo"


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def layout(model):
    """The ordered `(variable path, shape)` list that weight files follow."""
    return [[w.path, list(w.shape)] for w in model.weights]


def layout_sha256(model):
    """A hash of `layout(model)`: Keras weight files match variables by
    order, so a refactor that reorders or reshapes them changes it."""
    text = json.dumps(layout(model), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def weights_file_name(name, sha256):
    """`<name>-<sha256[:8]>.weights.h5`, the zoo's file name rule."""
    return f"{name}-{sha256[:8]}.weights.h5"


@dataclasses.dataclass(frozen=True)
class Record:
    """A parsed `record.json` and the folder it lives in."""

    data: dict
    folder: pathlib.Path

    @property
    def name(self):
        return self.data["name"]

    @property
    def model(self):
        """The registered model name (before the dot)."""
        return self.name.split(".", 1)[0]

    @property
    def tag(self):
        return self.name.split(".", 1)[1]

    def __getitem__(self, key):
        return self.data[key]


def _check(data, path):
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ZooError(f"{path} lacks the keys {missing}.")
    name = data["name"]
    if name.count(".") != 1 or not all(name.split(".")):
        raise ZooError(
            f"{path}: the entry name must be <model>.<tag>; got {name!r}."
        )
    if path.parent.name != name:
        raise ZooError(
            f"{path}: the entry {name!r} must live in a folder of that name."
        )
    expected = weights_file_name(name, data["sha256"])
    if data["weights_file"] != expected:
        raise ZooError(
            f"{path}: weights_file must be {expected!r} (name and the "
            f"sha256's first 8 digits); got {data['weights_file']!r}."
        )


def read(folder=None):
    """All records under `folder` (default: `entries_dir()`), by name."""
    folder = pathlib.Path(folder) if folder else entries_dir()
    records = {}
    for path in sorted(folder.glob(f"*/{RECORD}")):
        with open(path) as f:
            data = json.load(f)
        _check(data, path)
        records[data["name"]] = Record(data, path.parent)
    return records


def get(name, folder=None):
    """The record named `name`; an unknown name lists close matches."""
    records = read(folder)
    if name in records:
        return records[name]
    close = difflib.get_close_matches(str(name), records, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ZooError(
        f"Unknown zoo entry {name!r}.{hint} kerasseg.list_pretrained() "
        f"lists the {len(records)} entries."
    )


def names(pattern="*", folder=None):
    return sorted(fnmatch.filter(read(folder), pattern))
