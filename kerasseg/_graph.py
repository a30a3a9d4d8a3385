"""Reading a Functional model's (public) config: which layers a layer
reads from. Shared by the encoders' graph rewrites and `kerasseg.outputs`."""


def inbound_layers(value):
    """Names of the layers whose outputs a config's inbound node (or any
    nested part of one) reads, in order."""
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history")
        if value.get("class_name") == "__keras_tensor__" and history:
            return [history[0]]
        return [s for item in value.values() for s in inbound_layers(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in inbound_layers(item)]
    return []


def leaf_layers(model):
    """Every layer of a model that is not itself a model, depth first
    through nested models (an encoder inside a segmenter)."""
    found = []
    for layer in getattr(model, "layers", ()):
        if getattr(layer, "layers", None) is not None and hasattr(
            layer, "inputs"
        ):
            found.extend(leaf_layers(layer))
        else:
            found.append(layer)
    return found
