import os

# Quieter TensorFlow logs; must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasseg  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--run-large",
        action="store_true",
        default=False,
        help="also run tests marked 'large' (full-size models, slow checks)",
    )
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked 'slow' (the second tier of end-to-end "
        "runs: SIGKILL resume, mirrored and two-worker training, measured "
        "XLA choice)",
    )


def pytest_collection_modifyitems(config, items):
    large = config.getoption("--run-large")
    slow = config.getoption("--run-slow") or large
    skip_large = pytest.mark.skip(reason="large: run with --run-large")
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "large" in item.keywords and not large:
            item.add_marker(skip_large)
        elif "slow" in item.keywords and not slow:
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def _isolated_keras_state():
    """Each test starts with float32, a fixed seed and a fresh graph."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    # Without a full garbage collection after every test: with TensorFlow
    # loaded one takes 0.2–1 s, which was 400 of the default tier's 900
    # test-seconds. Python's own collector still runs as usual.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, keras=keras, kerasseg=kerasseg)
