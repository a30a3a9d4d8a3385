"""The encoder side of the seam: stride-keyed feature dicts.

An encoder is a nested `keras.Model` named "encoder" whose output is a dict
keyed by level: `"Pn"` is a feature map `2**n` times smaller than the input
(the keras-hub `pyramid_outputs` convention). These helpers are the only
place that reads those keys.
"""

import re

_KEY = re.compile(r"^P(\d+)$")


def level_of(key):
    """Returns n for the key "Pn".

    Raises:
        ValueError: if `key` is not of the form "Pn".
    """
    match = _KEY.match(key) if isinstance(key, str) else None
    if match is None:
        raise ValueError(
            "Feature keys must look like 'P0', 'P1', … ('Pn' is 2**n times "
            f"smaller than the input). Received: {key!r}"
        )
    return int(match.group(1))


def stride_of(key):
    """Returns the stride of the feature map "Pn", i.e. `2**n`."""
    return 2 ** level_of(key)


def key_of(level):
    """Returns the key "Pn" for level n."""
    return f"P{int(level)}"


def levels_deepest_first(features):
    """Returns the keys of a feature dict sorted from deepest to shallowest."""
    if not isinstance(features, dict) or not features:
        raise ValueError(
            "Expected a non-empty dict of feature maps keyed 'P0', 'P1', …. "
            f"Received: {type(features).__name__} {features!r}"
        )
    return sorted(features, key=level_of, reverse=True)


def pyramid_levels(features, *, model):
    """The keys of P2 (stride 4) and every deeper level, deepest first:
    the levels a feature pyramid (FPN, UPerNet) reads.

    Raises:
        ValueError: if the dict lacks P2 or any deeper level; the message
            names `model` and the levels the encoder gives.
    """
    keys = [k for k in levels_deepest_first(features) if level_of(k) >= 2]
    if "P2" not in keys or len(keys) < 2:
        raise ValueError(
            f"{model} needs the stride-4 features 'P2' and a deeper level; "
            f"the encoder gives {sorted(features, key=level_of)}."
        )
    return keys


def total_stride(features):
    """Returns the stride of the deepest feature map in a feature dict."""
    return stride_of(levels_deepest_first(features)[0])


def check_encoder(encoder):
    """Checks that a model honours the encoder contract.

    Raises:
        ValueError: if `encoder` is not a `keras.Model` with dict outputs
            keyed "Pn".
    """
    outputs = getattr(encoder, "output", None)
    if not isinstance(outputs, dict):
        raise ValueError(
            "An encoder must be a keras.Model whose output is a dict of "
            "feature maps keyed 'P0', 'P1', …. "
            f"Received: {encoder!r} with output {outputs!r}"
        )
    levels_deepest_first(outputs)
    return encoder
