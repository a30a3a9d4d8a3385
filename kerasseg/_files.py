"""Atomic file writes: a reader (or a killed writer) never sees half a file.

The data goes to a temporary file in the target's folder, is flushed to
disk, and replaces the target in one `os.replace`.
"""

import contextlib
import json
import os
import shutil
import tempfile


def keras_home():
    """Keras' own folder: `$KERAS_HOME`, else `~/.keras`."""
    return os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on success it replaces
    `path`, on an exception it is removed and `path` is left as it was."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(path)
    # Keep the suffix: Keras picks the file format from it.
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f".{base}.", suffix=f".tmp{_suffix(base)}"
    )
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _suffix(name):
    for suffix in (".weights.h5", ".keras", ".json", ".md", ".csv", ".yaml"):
        if name.endswith(suffix):
            return suffix
    return ""


def write_text(path, text):
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)


def write_json(path, data):
    write_text(path, json.dumps(data, indent=2) + "\n")


@contextlib.contextmanager
def atomic_folder(path, *, overwrite=True):
    """Yields a temporary folder beside `path` that becomes `path` when the
    block succeeds (an existing `path` is replaced only with `overwrite`);
    on an exception it is removed and `path` is left as it was."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    try:
        yield tmp
        if os.path.exists(path):
            if not overwrite:
                raise FileExistsError(f"{path} appeared while it was written.")
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(path, os.path.join(old, "v"))
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def is_temporary(name):
    """Whether a file or folder name is one of these writers' leftovers
    (a killed process leaves them; nothing else is named so)."""
    return name.startswith((".tmp-", ".old-")) or (
        name.startswith(".") and ".tmp" in name
    )
