"""Loading weights by name: resolution, sha256, layout, offline, download.

Each test writes a tiny entry of its own (a `unet_tiny`) into a temporary
zoo folder through `kerasseg.zoo.publish.write_entry`, the code that
publishes the real entries.
"""

import contextlib
import functools
import http.server
import os
import shutil
import threading

import numpy as np
import pytest

import kerasseg
from kerasseg import zoo
from kerasseg.zoo import records
from tests.zoo.conftest import NAME


def _images():
    return np.random.default_rng(0).uniform(0, 255, (2, 32, 40, 1))


def test_load_by_name_gives_the_saved_model(entry):
    folder, record, model = entry
    assert zoo.list_pretrained() == [NAME]
    assert record["weights_file"] == f"{NAME}-{record['sha256'][:8]}.weights.h5"
    loaded = kerasseg.load(NAME)
    np.testing.assert_array_equal(
        loaded.predict(_images(), verbose=0),
        model.predict(_images(), verbose=0),
    )
    assert loaded.class_names == ("background", "nucleus")
    assert record["params"] == model.count_params()


def test_weights_argument_on_builders_and_build(entry, tmp_path):
    _, _, model = entry
    expected = model.predict(_images(), verbose=0)
    by_name = kerasseg.build(
        "unet_tiny", input_shape=(None, None, 1), num_classes=2, weights=NAME
    )
    path = str(tmp_path / "own.weights.h5")
    model.save_weights(path)
    by_path = kerasseg.models.unet(
        (None, None, 1),
        2,
        depth=3,
        base_filters=4,
        upsampling="bilinear",
        weights=path,
    )
    for built in (by_name, by_path):
        np.testing.assert_array_equal(
            built.predict(_images(), verbose=0), expected
        )


def _weights_unchanged(model, before):
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_tampered_and_truncated_files_are_refused(entry):
    folder, record, _ = entry
    path = folder / record["weights_file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(zoo.ZooError) as error:
        kerasseg.load(NAME)
    message = str(error.value)
    assert str(path) in message and record["sha256"] in message
    assert records.sha256_of(path) in message  # the actual hash
    path.write_bytes(bytes(data[:1000]))
    with pytest.raises(zoo.ZooError, match="1000 bytes"):
        kerasseg.load(NAME)


def test_wrong_architecture_is_refused_before_any_weight_is_assigned(
    entry, tmp_path
):
    other = kerasseg.build(
        "unet_tiny", input_shape=(None, None, 1), num_classes=3
    )
    before = other.get_weights()
    with pytest.raises(zoo.ZooError, match="variable layout"):
        zoo.load_weights(other, NAME)
    _weights_unchanged(other, before)
    path = str(tmp_path / "three.weights.h5")
    kerasseg.build(
        "attention_unet_tiny", input_shape=(None, None, 1), num_classes=2
    ).save_weights(path)
    with pytest.raises(zoo.ZooError, match="another architecture"):
        zoo.load_weights(other, path)
    _weights_unchanged(other, before)
    with pytest.raises(zoo.ZooError, match="num_classes"):
        kerasseg.load(NAME, num_classes=5)


def test_unknown_name_lists_close_matches(entry):
    with pytest.raises(zoo.ZooError, match="Did you mean: unet_tiny.test"):
        kerasseg.load("unet_tiny.tst")


def test_offline_with_a_cold_cache_says_what_to_do(entry, monkeypatch):
    folder, record, _ = entry
    (folder / record["weights_file"]).unlink()
    monkeypatch.setenv("KERASSEG_OFFLINE", "1")
    monkeypatch.setenv("KERASSEG_ZOO_URL", "http://127.0.0.1:9/")
    with pytest.raises(zoo.ZooError) as error:
        kerasseg.load(NAME)
    message = str(error.value)
    assert "KERASSEG_OFFLINE=1" in message
    assert str(zoo.files.cache_dir()) in message
    assert record["sha256"] in message
    monkeypatch.delenv("KERASSEG_OFFLINE")
    monkeypatch.delenv("KERASSEG_ZOO_URL")
    with pytest.raises(zoo.ZooError, match="KERASSEG_ZOO_URL"):
        kerasseg.load(NAME)


class _Counting(http.server.SimpleHTTPRequestHandler):
    requests = []

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _server(folder):
    handler = functools.partial(_Counting, directory=str(folder))
    _Counting.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/zoo", _Counting
    finally:
        server.shutdown()
        server.server_close()


def test_download_from_a_mirror_then_cache_hit(entry, tmp_path, monkeypatch):
    folder, record, model = entry
    mirror = tmp_path / "mirror" / "zoo"
    mirror.mkdir(parents=True)
    shutil.move(
        folder / record["weights_file"], mirror / record["weights_file"]
    )
    with _server(mirror.parent) as (url, handler):
        monkeypatch.setenv("KERASSEG_ZOO_URL", url)
        first = kerasseg.load(NAME)
        assert handler.requests == [f"/zoo/{record['weights_file']}"]
        cached = zoo.files.cache_dir() / record["weights_file"]
        assert records.sha256_of(cached) == record["sha256"]
        second = kerasseg.load(NAME)
        assert len(handler.requests) == 1  # a cache hit, no request
    for built in (first, second):
        np.testing.assert_array_equal(
            built.predict(_images(), verbose=0),
            model.predict(_images(), verbose=0),
        )


def test_a_mirror_serving_a_wrong_file_is_refused(entry, tmp_path, monkeypatch):
    folder, record, _ = entry
    mirror = tmp_path / "mirror" / "zoo"
    mirror.mkdir(parents=True)
    (mirror / record["weights_file"]).write_bytes(b"not the weights")
    (folder / record["weights_file"]).unlink()
    with _server(mirror.parent) as (url, _):
        monkeypatch.setenv("KERASSEG_ZOO_URL", url)
        with pytest.raises(zoo.ZooError) as error:
            kerasseg.load(NAME)
    assert record["sha256"] in str(error.value)
    assert url in str(error.value)


def test_records_are_checked_when_read(entry):
    folder, record, _ = entry
    import json

    bad = dict(record, weights_file="renamed.weights.h5")
    (folder / "record.json").write_text(json.dumps(bad))
    with pytest.raises(zoo.ZooError, match="weights_file must be"):
        zoo.list_pretrained()
    os.remove(folder / "record.json")
    assert zoo.list_pretrained() == []
