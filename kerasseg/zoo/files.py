"""Where an entry's weights file comes from, and the checks it must pass.

Resolution order: the file shipped beside the record → the cache
(`KERASSEG_HOME`, else `$KERAS_HOME/kerasseg`, else `~/.keras/kerasseg`,
in its `zoo/` folder) → a download with `keras.utils.get_file` from the
base URL (`KERASSEG_ZOO_URL`, else `set_url`). `KERASSEG_OFFLINE=1` never
downloads. Wherever the file comes from, its size and sha256 are checked
on every load, before any weight is assigned.
"""

import os
import pathlib

import h5py

from kerasseg._files import keras_home
from kerasseg.zoo.records import ZooError
from kerasseg.zoo.records import sha256_of

ENV_HOME = "KERASSEG_HOME"
ENV_URL = "KERASSEG_ZOO_URL"
ENV_OFFLINE = "KERASSEG_OFFLINE"
_SETTINGS = {"url": None}


def set_url(url):
    """Sets the base URL that weights files are downloaded from (a mirror
    holding `<base>/<weights file>`); `KERASSEG_ZOO_URL` takes precedence.
    None unsets it."""
    _SETTINGS["url"] = url


def base_url():
    return os.environ.get(ENV_URL) or _SETTINGS["url"]


def offline():
    return os.environ.get(ENV_OFFLINE, "").lower() in ("1", "true", "yes")


def home():
    if os.environ.get(ENV_HOME):
        return pathlib.Path(os.environ[ENV_HOME])
    return pathlib.Path(keras_home()) / "kerasseg"


def cache_dir():
    return home() / "zoo"


def _origin(record):
    url = base_url()
    return None if not url else f"{url.rstrip('/')}/{record['weights_file']}"


def verify(path, record):
    """Raises `ZooError` unless `path` has the record's size and sha256."""
    path = pathlib.Path(path)
    where = f"{record.name}: {path}"
    origin = _origin(record) or "(no download URL set)"
    size = path.stat().st_size
    if size != record["size"]:
        raise ZooError(
            f"{where} has {size} bytes; the record expects {record['size']} "
            f"(a truncated or different file). Expected sha256 "
            f"{record['sha256']}, actual {sha256_of(path)}. Delete it to "
            f"download it again from {origin}."
        )
    actual = sha256_of(path)
    if actual != record["sha256"]:
        raise ZooError(
            f"{where} does not match its record: expected sha256 "
            f"{record['sha256']}, actual {actual} (the file was changed or "
            f"corrupted). Delete it to download it again from {origin}."
        )
    return path


def resolve(record):
    """The verified local path of `record`'s weights file."""
    name = record["weights_file"]
    for candidate in (record.folder / name, cache_dir() / name):
        if candidate.is_file():
            return verify(candidate, record)
    origin = _origin(record)
    tried = f"{record.folder / name} and {cache_dir() / name}"
    if offline():
        raise ZooError(
            f"{record.name}: {name} is not on this machine (looked in "
            f"{tried}) and {ENV_OFFLINE}=1 forbids downloads. Copy the file "
            f"to {cache_dir()} (sha256 {record['sha256']}) or unset "
            f"{ENV_OFFLINE}{f' to download {origin}' if origin else ''}."
        )
    if origin is None:
        raise ZooError(
            f"{record.name}: {name} is not on this machine (looked in "
            f"{tried}) and no download URL is set. Set {ENV_URL} (or "
            "kerasseg.zoo.set_url) to a mirror holding the file, or copy it "
            f"to {cache_dir()} (sha256 {record['sha256']})."
        )
    import keras

    # get_file falls back to /tmp/.keras when its cache folder does not
    # exist yet; create it so the file lands where this module looks.
    cache_dir().mkdir(parents=True, exist_ok=True)
    try:
        path = keras.utils.get_file(
            fname=name,
            origin=origin,
            file_hash=record["sha256"],
            hash_algorithm="sha256",
            cache_dir=str(home()),
            cache_subdir="zoo",
        )
    except Exception as error:  # urllib, HTTP and keras' hash errors
        raise ZooError(
            f"{record.name}: downloading {origin} to {cache_dir() / name} "
            f"failed ({type(error).__name__}: {error}). Expected sha256 "
            f"{record['sha256']}."
        ) from error
    return verify(path, record)


def file_shapes(path):
    """The variable shapes a `.weights.h5` file holds, in file order."""
    shapes = []

    def visit(_, item):
        if isinstance(item, h5py.Dataset):
            shapes.append(tuple(item.shape))

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError as error:
        raise ZooError(
            f"{path} is not a readable .weights.h5 file ({error})."
        ) from None
    return shapes


def check_fits(path, model):
    """Raises unless `path` holds exactly the variable shapes of `model`
    (checked before `load_weights` assigns anything)."""
    have = sorted(file_shapes(path))
    want = sorted(tuple(w.shape) for w in model.weights)
    if have != want:
        missing = len(set(want) - set(have)) + len(set(have) - set(want))
        raise ZooError(
            f"{path} does not fit model {model.name!r}: the file holds "
            f"{len(have)} variables, the model {len(want)}"
            f"{f' ({missing} shapes differ)' if missing else ''}. It was "
            "saved from another architecture or configuration."
        )
