"""torchvision's ImageNet weights for kerasseg's ResNet18 and ResNet34.

keras.applications has no ResNet18/34, the encoders of the most used
segmentation_models U-Nets; torchvision publishes their ImageNet weights
as `.pth` files. This module downloads them (or reads a local copy),
checks them, and converts them to the Keras layout of
`kerasseg.encoders.resnet` (same layer structure, written after
torchvision's).

A `.pth` file is a zip archive holding a pickled state dict whose tensors
live in `<archive>/data/<key>` files. It is read here without PyTorch: a
restricted unpickler that knows only the few names such a file uses (the
ordered dict, the storage types and `_rebuild_tensor_v2`) and refuses
anything else, so no code in the file can run.
"""

import collections
import hashlib
import os
import pickle
import zipfile

import numpy as np

# Where torchvision publishes its weights, and each file's name: the part
# after the dash is the first 8 hex digits of the file's sha256, which
# torch.hub checks (`check_hash=True`) and so does this module.
URL = "https://download.pytorch.org/models/"
FILES = {
    "ResNet18": "resnet18-f37072fd.pth",
    "ResNet34": "resnet34-b627a593.pth",
}

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "BFloat16Storage": None,  # refused: numpy has no bfloat16
}


class _Storage:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(storage, offset, size, stride, *_):
    data, dtype = storage
    if not size:
        return np.asarray(data[offset], dtype)
    itemsize = np.dtype(dtype).itemsize
    return np.lib.stride_tricks.as_strided(
        data[offset:],
        shape=tuple(size),
        strides=tuple(s * itemsize for s in stride),
    ).copy()


class _Unpickler(pickle.Unpickler):
    """Unpickles a state dict's `data.pkl`; knows no other names."""

    def __init__(self, file, archive, prefix, path):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _Storage(name)
        raise ValueError(
            f"{self.path} is not a plain state dict: it names "
            f"{module}.{name}, which kerasseg does not unpickle. Expected "
            "a torchvision weights file (an ordered dict of tensors)."
        )

    def persistent_load(self, pid):
        kind, storage, key, _, _ = pid
        if kind != "storage" or not isinstance(storage, _Storage):
            raise ValueError(f"{self.path}: unexpected record {pid!r}.")
        dtype = _DTYPES[storage.name]
        if dtype is None:
            raise ValueError(
                f"{self.path} holds {storage.name} tensors; convert it to "
                "float32 first."
            )
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return np.frombuffer(raw, dtype).copy(), dtype


def read_state_dict(path):
    """`{name: numpy array}` from a PyTorch `.pth` file (zip format, as
    `torch.save` writes since PyTorch 1.6), without PyTorch.

    Raises:
        ValueError: where the file is not such an archive or holds more
            than tensors in (ordered) dicts.
    """
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a zip-format PyTorch file (torch.save writes one "
            "since PyTorch 1.6; an older file must be loaded and saved "
            "again with a recent PyTorch)."
        )
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path} holds no single data.pkl: {pickles}")
        prefix = pickles[0][: -len("/data.pkl")]
        with archive.open(pickles[0]) as file:
            state = _Unpickler(file, archive, prefix, path).load()
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a dict.")
    return dict(state)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(family):
    """The local path of torchvision's ImageNet file for `family`
    ("ResNet18" or "ResNet34"), downloaded into `$KERAS_HOME/models` by
    `keras.utils.get_file` where it is not there yet, and checked against
    the sha256 prefix in its name."""
    import keras

    name = FILES[family]
    # Where keras.applications keeps its files; get_file falls back to
    # /tmp/.keras when the folder does not exist yet, so it is created.
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    os.makedirs(os.path.join(home, "models"), exist_ok=True)
    try:
        path = keras.utils.get_file(
            fname=name, origin=URL + name, cache_dir=home, cache_subdir="models"
        )
    except Exception as error:
        raise RuntimeError(
            f"Could not get torchvision's ImageNet weights of {family} from "
            f"{URL + name}: {error} Without internet, copy {name} into "
            "$KERAS_HOME/models (default ~/.keras/models), or pass "
            f"encoder_weights='path/to/{name}'."
        ) from error
    check_hash(path, name)
    return path


def check_hash(path, name):
    """Raises unless the sha256 of `path` starts with the hex digits after
    the dash in torchvision's file name `name`."""
    prefix = name.rsplit("-", 1)[-1].split(".")[0]
    actual = _sha256(path)
    if not actual.startswith(prefix):
        raise ValueError(
            f"{path} has sha256 {actual}; torchvision's {name} starts with "
            f"{prefix}. The file is corrupt or another one: delete it to "
            "download it again."
        )


def _kernel(weight):
    """(out, in, kh, kw) → Keras' (kh, kw, in, out)."""
    return np.transpose(weight, (2, 3, 1, 0))


def resnet_weights(state):
    """`{keras layer name: [weights]}` for kerasseg's ResNet18/34 body from
    a torchvision ResNet state dict (its classifier `fc` is not used)."""
    layers = {}

    def conv_bn(keras_name, conv, bn):
        layers[f"{keras_name}_conv"] = [_kernel(state[f"{conv}.weight"])]
        layers[f"{keras_name}_bn"] = [
            state[f"{bn}.{key}"]
            for key in ("weight", "bias", "running_mean", "running_var")
        ]

    conv_bn("conv1", "conv1", "bn1")
    for stage in range(1, 5):
        block = 0
        while f"layer{stage}.{block}.conv1.weight" in state:
            torch_name = f"layer{stage}.{block}"
            keras_name = f"conv{stage + 1}_block{block + 1}"
            conv_bn(
                f"{keras_name}_1", f"{torch_name}.conv1", f"{torch_name}.bn1"
            )
            conv_bn(
                f"{keras_name}_2", f"{torch_name}.conv2", f"{torch_name}.bn2"
            )
            if f"{torch_name}.downsample.0.weight" in state:
                conv_bn(
                    f"{keras_name}_0",
                    f"{torch_name}.downsample.0",
                    f"{torch_name}.downsample.1",
                )
            block += 1
    return layers


def load_resnet(backbone, path, family):
    """Assigns torchvision's ResNet weights from `path` to `backbone`
    (kerasseg's ResNet18/34 body), adapting the first convolution to the
    backbone's input channels; every layer with weights must be covered."""
    from kerasseg.encoders.applications import adapt_channels

    try:
        weights = resnet_weights(read_state_dict(path))
    except KeyError as error:
        raise ValueError(
            f"{path} is not a torchvision {family} state dict: it lacks "
            f"{error}."
        ) from None
    targets = [layer for layer in backbone.layers if layer.weights]
    missing = sorted({layer.name for layer in targets} - set(weights))
    extra = sorted(set(weights) - {layer.name for layer in backbone.layers})
    if missing or extra:
        raise ValueError(
            f"{path} does not fit kerasseg's {family}: layers without "
            f"weights in the file {missing[:5]}, weights without a layer "
            f"{extra[:5]} (a ResNet18 file into a ResNet34, or another "
            "network)."
        )
    for layer in targets:
        values = weights[layer.name]
        shapes = [tuple(w.shape) for w in layer.weights]
        if layer.name == "conv1_conv" and values[0].shape != shapes[0]:
            kernel = np.swapaxes(values[0], 2, 3)
            kernel = adapt_channels(kernel, shapes[0][2], reduce="sum")
            values = [np.swapaxes(kernel, 2, 3)]
        if [v.shape for v in values] != shapes:
            raise ValueError(
                f"{path}: {layer.name} has shapes "
                f"{[v.shape for v in values]} in the file, {shapes} in "
                f"kerasseg's {family}."
            )
        layer.set_weights(values)
