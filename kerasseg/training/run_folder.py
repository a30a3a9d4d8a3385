"""The run folder of `kerasseg train`: its files, written atomically.

    config.yaml          the resolved config (every default filled in)
    checkpoints/epoch-NNNN/   weights, optimizer state and progress after
                         each completed epoch (the last two are kept)
    best.weights.h5      the weights with the best `train.monitor` (or the
                         last epoch's, for `last`)
    history.json, history.csv   one row per epoch
    curves.svg           the training curves (kerasseg.training.curves)
    compile.json         the measured `jit_compile: auto` choice
    logs/                TensorBoard
    model.keras          the final model (best weights)
    evaluation.json, evaluation.md   scores on the validation data
    export/<model>/1/    the TF Serving SavedModel

Every file goes through `kerasseg._files` (a temporary name, then one
rename), so a killed process leaves no half-written file, and `prepare`
removes the temporary leftovers of one. The training loop is in
`kerasseg.training.run`.
"""

import csv
import io
import json
import os
import shutil

import numpy as np

from kerasseg import _files
from kerasseg.training import config as config_module
from kerasseg.training import curves

CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2
BEST = "best.weights.h5"
MODEL = "model.keras"


def prepare(config, run_dir):
    """Creates `run_dir` with the resolved `config.yaml`, or checks that an
    existing one holds a run of the same config (`train.verbose` aside);
    removes what a killed process left half-written."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, "config.yaml")
    if os.path.exists(path):
        previous = config_module.load(path)
        same = {**previous, "train": {**previous["train"], "verbose": 0}}
        mine = {**config, "train": {**config["train"], "verbose": 0}}
        if same != mine:
            raise config_module.ConfigError(
                f"{run_dir} holds a run of a different config "
                f"({path}); resume with the same config, or use a new "
                "run folder."
            )
    else:
        with _files.atomic_path(path) as tmp:
            config_module.dump(config, tmp)
    _clean_partial(run_dir)


def _clean_partial(run_dir):
    for folder in (run_dir, os.path.join(run_dir, CHECKPOINTS)):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if _files.is_temporary(name):
                path = os.path.join(folder, name)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)


def write_history(history, run_dir):
    """`history.json` and `history.csv` (one row per completed epoch) and
    `curves.svg`, their picture."""
    _files.write_json(os.path.join(run_dir, "history.json"), history)
    keys = sorted({k for row in history for k in row if k != "epoch"})
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["epoch", *keys])
    for row in history:
        writer.writerow([row["epoch"], *(row.get(k, "") for k in keys)])
    _files.write_text(os.path.join(run_dir, "history.csv"), text.getvalue())
    curves.write(history, os.path.join(run_dir, "curves.svg"))


def checkpoints(run_dir):
    """The checkpoint folders of `run_dir`, oldest first."""
    folder = os.path.join(run_dir, CHECKPOINTS)
    if not os.path.isdir(folder):
        return []
    names = [n for n in os.listdir(folder) if n.startswith("epoch-")]
    return sorted(os.path.join(folder, n) for n in names)


def save_checkpoint(model, state, run_dir):
    """Writes `checkpoints/epoch-NNNN/` (weights, optimizer state and
    `state`); keeps the last `KEEP_CHECKPOINTS`. Returns its path."""
    final = os.path.join(run_dir, CHECKPOINTS, f"epoch-{state['epoch']:04d}")
    with _files.atomic_folder(final) as tmp:
        model.save_weights(os.path.join(tmp, "model.weights.h5"))
        np.savez(
            os.path.join(tmp, "optimizer.npz"),
            *[np.asarray(v) for v in optimizer_variables(model)],
        )
        _files.write_json(os.path.join(tmp, "state.json"), state)
    for old in checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_epoch(path):
    """How many epochs the checkpoint at `path` has completed."""
    with open(os.path.join(path, "state.json")) as f:
        return json.load(f)["epoch"]


def optimizer_variables(model):
    """The state a checkpoint keeps: `model.optimizer`'s variables, then
    those of the model's `extra_optimizers` (a recipe's discriminator)."""
    variables = list(model.optimizer.variables)
    for optimizer in getattr(model, "extra_optimizers", ()):
        variables += list(optimizer.variables)
    return variables


def restore_checkpoint(model, path):
    """Loads a checkpoint's weights and optimizer state into the compiled
    `model`; returns its state (epoch, best value, history)."""
    model.load_weights(os.path.join(path, "model.weights.h5"))
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    with np.load(os.path.join(path, "optimizer.npz")) as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    variables = optimizer_variables(model)
    if len(values) != len(variables):
        raise RuntimeError(
            f"{path}: the optimizer state has {len(values)} variables, the "
            f"optimizers {len(variables)}; the checkpoint belongs to "
            "another config."
        )
    for variable, value in zip(variables, values):
        variable.assign(value)
    with open(os.path.join(path, "state.json")) as f:
        return json.load(f)


def save_best(model, run_dir):
    with _files.atomic_path(os.path.join(run_dir, BEST)) as tmp:
        model.save_weights(tmp)


def load_best(model, run_dir):
    """Loads `best.weights.h5` into `model` if the run wrote one."""
    path = os.path.join(run_dir, BEST)
    if os.path.exists(path):
        model.load_weights(path)


def save_model(model, run_dir):
    """Writes `model.keras`; returns its path."""
    path = os.path.join(run_dir, MODEL)
    with _files.atomic_path(path) as tmp:
        model.save(tmp)
    return path


def read_json(run_dir, name):
    """A JSON file of the run folder, or None if it has none."""
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_json(run_dir, name, data):
    _files.write_json(os.path.join(run_dir, name), data)
