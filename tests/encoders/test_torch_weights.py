"""torchvision's ResNet18/34 ImageNet weights: the `.pth` reader, the
conversion (checked against a torchvision-layout forward pass written here
with torch.nn.functional), the download with its hash check, and errors."""

import collections
import hashlib
import pickle
import zipfile

import numpy as np
import pytest

from kerasseg.encoders import get_encoder
from kerasseg.encoders import torch_weights

torch = pytest.importorskip("torch")
F = torch.nn.functional

BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
MEAN = np.array([0.485, 0.456, 0.406], "float32")
STD = np.array([0.229, 0.224, 0.225], "float32")


def _state_dict(name, seed=0):
    """A torchvision ResNet's state dict (its names and shapes) with random
    values and non-trivial BatchNorm statistics."""
    g = torch.Generator().manual_seed(seed)
    state = collections.OrderedDict()

    def conv(key, out, cin, k):
        std = (2 / (cin * k * k)) ** 0.5
        state[f"{key}.weight"] = torch.randn(out, cin, k, k, generator=g) * std

    def bn(key, n):
        state[f"{key}.weight"] = 1 + 0.1 * torch.randn(n, generator=g)
        state[f"{key}.bias"] = 0.1 * torch.randn(n, generator=g)
        state[f"{key}.running_mean"] = 0.1 * torch.randn(n, generator=g)
        state[f"{key}.running_var"] = 0.5 + torch.rand(n, generator=g)
        state[f"{key}.num_batches_tracked"] = torch.tensor(100)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    cin = 64
    for stage, (blocks, width) in enumerate(
        zip(BLOCKS[name], (64, 128, 256, 512)), start=1
    ):
        for b in range(blocks):
            key = f"layer{stage}.{b}"
            conv(f"{key}.conv1", width, cin, 3)
            bn(f"{key}.bn1", width)
            conv(f"{key}.conv2", width, width, 3)
            bn(f"{key}.bn2", width)
            if b == 0 and stage > 1:
                conv(f"{key}.downsample.0", width, cin, 1)
                bn(f"{key}.downsample.1", width)
            cin = width
    state["fc.weight"] = torch.randn(1000, 512, generator=g)
    state["fc.bias"] = torch.randn(1000, generator=g)
    return state


def _reference_p5(state, name, pixels):
    """torchvision's ResNet forward pass up to layer4, from the state dict
    (eval mode), on 0–255 NHWC pixels."""
    x = torch.from_numpy(((pixels / 255 - MEAN) / STD).transpose(0, 3, 1, 2))

    def bn(x, key):
        return F.batch_norm(
            x,
            state[f"{key}.running_mean"],
            state[f"{key}.running_var"],
            state[f"{key}.weight"],
            state[f"{key}.bias"],
            eps=1e-5,
        )

    x = F.relu(
        bn(F.conv2d(x, state["conv1.weight"], stride=2, padding=3), "bn1")
    )
    x = F.max_pool2d(x, 3, stride=2, padding=1)
    for stage, blocks in enumerate(BLOCKS[name], start=1):
        for b in range(blocks):
            key = f"layer{stage}.{b}"
            stride = 2 if b == 0 and stage > 1 else 1
            y = F.conv2d(
                x, state[f"{key}.conv1.weight"], stride=stride, padding=1
            )
            y = F.relu(bn(y, f"{key}.bn1"))
            y = bn(
                F.conv2d(y, state[f"{key}.conv2.weight"], padding=1),
                f"{key}.bn2",
            )
            if f"{key}.downsample.0.weight" in state:
                x = bn(
                    F.conv2d(
                        x, state[f"{key}.downsample.0.weight"], stride=stride
                    ),
                    f"{key}.downsample.1",
                )
            x = F.relu(x + y)
    return x.numpy().transpose(0, 2, 3, 1)


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _p5(encoder, x):
    return np.asarray(encoder(x, training=False)["P5"])


def _assert_close(actual, reference):
    # Float32 sums of hundreds of terms in another order: the error scales
    # with the activations' size (up to ~100 here), not each value's; a
    # wrong mapping of any layer is off by O(1).
    atol = 2e-5 * np.abs(reference).max()
    np.testing.assert_allclose(actual, reference, rtol=1e-4, atol=atol)


@pytest.fixture
def pth(tmp_path):
    def write(name, seed=0, filename=None):
        state = _state_dict(name, seed)
        path = tmp_path / (filename or f"{name}.pth")
        torch.save(state, path)
        return state, path

    return write


def test_reader_gives_the_tensors_without_pytorch(tmp_path):
    state = collections.OrderedDict(
        a=torch.randn(3, 4),
        transposed=torch.arange(6).reshape(2, 3).t(),
        scalar=torch.tensor(5),
        half=torch.randn(2, 2).half(),
        view=torch.randn(10)[3:7],
    )
    torch.save(state, tmp_path / "x.pth")
    read = torch_weights.read_state_dict(tmp_path / "x.pth")
    assert list(read) == list(state)
    for key, value in state.items():
        assert read[key].dtype == value.numpy().dtype, key
        np.testing.assert_array_equal(read[key], value.numpy(), err_msg=key)


def test_reader_refuses_anything_but_tensors(tmp_path):
    torch.save({"layer": torch.nn.Linear(2, 2)}, tmp_path / "module.pth")
    with pytest.raises(ValueError, match="not a plain state dict"):
        torch_weights.read_state_dict(tmp_path / "module.pth")
    (tmp_path / "old.pth").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a zip-format PyTorch file"):
        torch_weights.read_state_dict(tmp_path / "old.pth")
    with zipfile.ZipFile(tmp_path / "empty.pth", "w") as archive:
        archive.writestr("x/other.txt", "")
    with pytest.raises(ValueError, match="no single data.pkl"):
        torch_weights.read_state_dict(tmp_path / "empty.pth")


@pytest.mark.parametrize(
    "name", ["resnet18", pytest.param("resnet34", marks=pytest.mark.slow)]
)
def test_converted_weights_compute_torchvisions_features(pth, name):
    state, path = pth(name)
    encoder = get_encoder(name, (None, None, 3), weights=str(path))
    x = _pixels((2, 64, 96, 3))
    _assert_close(_p5(encoder, x), _reference_p5(state, name, x))


def test_one_channel_stem_sums_the_rgb_kernel(pth):
    state, path = pth("resnet18")
    grey = get_encoder("resnet18", (None, None, 1), weights=path)
    (conv,) = [
        layer for layer in grey._flatten_layers() if layer.name == "conv1_conv"
    ]
    expected = state["conv1.weight"].numpy().sum(1, keepdims=True)
    np.testing.assert_allclose(
        np.asarray(conv.kernel), expected.transpose(2, 3, 1, 0), atol=1e-6
    )


def test_imagenet_downloads_checks_and_converts(pth, tmp_path, monkeypatch):
    state, path = pth("resnet18")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    served = tmp_path / "served"
    served.mkdir()
    good = f"resnet18-{digest[:8]}.pth"
    path.rename(served / good)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch_weights, "URL", served.as_uri() + "/")
    monkeypatch.setitem(torch_weights.FILES, "ResNet18", good)
    encoder = get_encoder("resnet18", (None, None, 3), weights="imagenet")
    assert (tmp_path / "home" / "models" / good).is_file()
    x = _pixels((1, 64, 64, 3))
    np.testing.assert_allclose(
        _p5(encoder, x),
        _reference_p5(state, "resnet18", x),
        rtol=1e-4,
        atol=1e-4,
    )
    # A file whose sha256 does not start with its name's digits.
    bad = "resnet18-00000000.pth"
    (served / bad).write_bytes((served / good).read_bytes())
    monkeypatch.setitem(torch_weights.FILES, "ResNet18", bad)
    with pytest.raises(ValueError, match=f"has sha256 {digest}"):
        get_encoder("resnet18", (None, None, 3), weights="imagenet")


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(
        torch_weights, "URL", (tmp_path / "none").as_uri() + "/"
    )
    with pytest.raises(RuntimeError) as error:
        get_encoder("resnet34", (None, None, 3), weights="imagenet")
    message = str(error.value)
    assert "resnet34-b627a593.pth" in message and "~/.keras/models" in message


def test_a_file_of_another_network_is_refused(pth, tmp_path):
    _, path = pth("resnet18")
    with pytest.raises(ValueError, match="does not fit kerasseg's ResNet34"):
        get_encoder("resnet34", (None, None, 3), weights=path)
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "x.pth")
    with pytest.raises(ValueError, match="lacks 'bn1.weight'"):
        get_encoder("resnet18", (None, None, 3), weights=tmp_path / "x.pth")
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="a torchvision .pth file"):
        get_encoder("resnet18", (None, None, 3), weights=tmp_path / "w.npz")
