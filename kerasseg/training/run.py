"""`kerasseg train`: one config in, one run folder out.

The run folder holds:

    config.yaml          the resolved config (every default filled in)
    checkpoints/epoch-NNNN/   weights, optimizer state and progress after
                         each completed epoch (the last two are kept)
    best.weights.h5      the weights with the best `train.monitor`
    history.json, history.csv   one row per epoch
    logs/                TensorBoard
    model.keras          the final model (best weights)
    evaluation.json, evaluation.md   per-class scores on the validation data
    export/<model>/1/    the TF Serving SavedModel

Starting the same command again in the same folder resumes after the last
completed epoch: weights, optimizer state and the data order and
augmentation of the remaining epochs are those of an uninterrupted run.
Every file is written to a temporary name and renamed, so a killed process
leaves no half-written checkpoint.
"""

import csv
import json
import math
import os
import shutil
import sys
import tempfile

import keras
import numpy as np

from kerasseg import _files
from kerasseg.training import builders
from kerasseg.training import config as config_module
from kerasseg.training import evaluation
from kerasseg.training import xla

CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names where."""


class _StopOnNonFinite(keras.callbacks.Callback):
    def __init__(self, last_checkpoint):
        super().__init__()
        self.last_checkpoint = last_checkpoint
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            kept = self.last_checkpoint or "none yet (diverged in epoch 1)"
            raise TrainingDiverged(
                f"The loss became {float(loss)} at epoch {self.epoch + 1}, "
                f"batch {batch + 1}. Training stopped; the last good "
                f"checkpoint is kept: {kept}. Lower train.learning_rate, "
                "or check the data for NaN pixels."
            )


class _Progress(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, counting epochs of the whole run: each epoch is
    its own `fit` call (with its own seeded data), which would otherwise
    print "Epoch 3/3"."""

    def __init__(self, total):
        super().__init__()
        self.total = total

    def set_params(self, params):
        super().set_params({**params, "epochs": self.total})


# --- Files -----------------------------------------------------------------


def _atomic_json(data, path):
    _files.write_json(path, data)


def _write_history(history, run_dir):
    _atomic_json(history, os.path.join(run_dir, "history.json"))
    keys = sorted({k for row in history for k in row if k != "epoch"})
    tmp = os.path.join(run_dir, "history.csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *keys])
        for row in history:
            writer.writerow([row["epoch"], *(row.get(k, "") for k in keys)])
    os.replace(tmp, os.path.join(run_dir, "history.csv"))


def _checkpoints(run_dir):
    folder = os.path.join(run_dir, CHECKPOINTS)
    if not os.path.isdir(folder):
        return []
    names = [n for n in os.listdir(folder) if n.startswith("epoch-")]
    return sorted(os.path.join(folder, n) for n in names)


def _save_checkpoint(model, state, run_dir):
    """Writes `checkpoints/epoch-NNNN/` atomically; keeps the last two."""
    folder = os.path.join(run_dir, CHECKPOINTS)
    os.makedirs(folder, exist_ok=True)
    final = os.path.join(folder, f"epoch-{state['epoch']:04d}")
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=folder)
    model.save_weights(os.path.join(tmp, "model.weights.h5"))
    np.savez(
        os.path.join(tmp, "optimizer.npz"),
        *[np.asarray(v) for v in model.optimizer.variables],
    )
    _atomic_json(state, os.path.join(tmp, "state.json"))
    if os.path.exists(final):
        shutil.rmtree(final)
    os.rename(tmp, final)
    for old in _checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _restore_checkpoint(model, path):
    model.load_weights(os.path.join(path, "model.weights.h5"))
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    with np.load(os.path.join(path, "optimizer.npz")) as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    if len(values) != len(optimizer.variables):
        raise RuntimeError(
            f"{path}: the optimizer state has {len(values)} variables, the "
            f"optimizer {len(optimizer.variables)}; the checkpoint belongs "
            "to another config."
        )
    for variable, value in zip(optimizer.variables, values):
        variable.assign(value)
    with open(os.path.join(path, "state.json")) as f:
        return json.load(f)


def _clean_partial(run_dir):
    """Removes temporary files a killed process left behind."""
    folder = os.path.join(run_dir, CHECKPOINTS)
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
    for name in os.listdir(run_dir):
        if name.endswith(".tmp"):
            os.remove(os.path.join(run_dir, name))


def _prepare_run_dir(config, run_dir):
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
        tmp = f"{path}.tmp"
        config_module.dump(config, tmp)
        os.replace(tmp, path)
    _clean_partial(run_dir)


# --- Compute settings ------------------------------------------------------


def strategy_for(name):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":  # the cluster comes from TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def fit_verbose(verbose, stream=None):
    """Keras' progress setting for `train.verbose`: its progress bar (1)
    becomes one line per epoch (2) when output goes to a file or a pipe,
    where a bar's carriage returns would fill the log."""
    stream = sys.stdout if stream is None else stream
    if verbose == 1 and not (hasattr(stream, "isatty") and stream.isatty()):
        return 2
    return verbose


def epoch_seed(seed, epoch):
    """The seed of one epoch's data and random ops: a resumed run repeats
    the epochs it had not finished exactly."""
    return seed * 100003 + epoch


def jit_compile_for(setting, deterministic=False, strategy="default"):
    """XLA or not: True for "on", False for "off", None for "auto" (to be
    measured, `kerasseg.training.xla`). Keras runs deterministic
    TensorFlow ops without XLA, and the multi-worker loop runs without it
    (the config check refuses "on" for both), so "auto" is off then."""
    jit = xla.jit_compile_of(setting)
    if jit == "auto":
        return False if deterministic or strategy == "multi_worker" else None
    return jit


def _measured_jit_compile(config, model, make_data, out_dir, compile_args):
    """The faster of XLA and graph execution for this model, batch and
    device, measured once per run on a copy of the model and kept in
    `compile.json` (a resumed run reads it back)."""
    path = os.path.join(out_dir, "compile.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)["jit_compile"]
    # A fresh pipeline for epoch 0, so the one training uses is untouched.
    x, y = next(iter(make_data(0).take(1)))
    jit, seconds = xla.choose_jit_compile(
        model,
        x,
        y,
        loss=compile_args["loss"],
        optimizer=compile_args["optimizer"],
    )
    _atomic_json({"jit_compile": jit, "seconds_per_step": seconds}, path)
    if config["train"]["verbose"]:
        times = ", ".join(
            f"{k} {v:.3f} s/step"
            for k, v in seconds.items()
            if isinstance(v, float)
        )
        print(f"jit_compile auto: {times} → {'XLA' if jit else 'graph'}")
    return jit


# --- The run ---------------------------------------------------------------


def _steps(config, dataset):
    steps = config["train"]["steps_per_epoch"]
    if steps:
        return steps
    count = int(dataset.cardinality())
    if count <= 0:
        raise config_module.ConfigError(
            "The training data has no known length; set train.steps_per_epoch."
        )
    return count


def _monitor_better(config, value, best):
    name = config["train"]["monitor"]
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best if name.endswith("loss") else value > best


def train(
    config,
    run_dir,
    *,
    overrides=(),
    train_data=None,
    val_data=None,
):
    """Trains, evaluates and exports one model from a config.

    Args:
        config: a config file path, or a dict (checked like a file).
        run_dir: the run folder; an existing one with the same config
            resumes after its last completed epoch.
        overrides: `section.key=value` strings applied to the config.
        train_data: a function `epoch -> dataset` replacing the config's
            training data (for data the config cannot describe).
        val_data: a dataset replacing the config's validation data.

    Returns:
        A dict: `run_dir`, `history` (one dict per epoch), `evaluation`
        (see `kerasseg.training.evaluation.evaluate`), `model_path`,
        `export_path` (or None) and `resumed_from` (the epoch resumed
        after, 0 for a fresh run).

    Raises:
        ConfigError: a config that cannot run (before anything trains).
        TrainingDiverged: the loss became NaN or infinite.

    `train.deterministic: true` turns TensorFlow's op determinism on for
    the rest of the process (TensorFlow cannot turn it off again).
    """
    if isinstance(config, dict):
        config = config_module.load(raw=config, overrides=overrides)
    else:
        config = config_module.load(config, overrides)
    run_dir = os.fspath(run_dir)
    cfg = config["train"]
    import tensorflow as tf

    strategy = strategy_for(cfg["strategy"])
    _prepare_run_dir(config, run_dir)
    if cfg["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(cfg["seed"])
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(cfg["precision"])
    try:
        return _train(config, run_dir, strategy, train_data, val_data)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _epoch_data(config, train_data):
    seed = config["train"]["seed"]
    steps = config["train"]["steps_per_epoch"]

    def make(epoch):
        # A fresh pipeline per epoch, seeded by (seed, epoch): a resumed
        # run sees the data order and augmentation of an uninterrupted one.
        ds = (
            train_data(epoch)
            if train_data
            else builders.dataset(config, "train", seed=epoch_seed(seed, epoch))
        )
        return ds.repeat() if steps else ds

    return make


def _train(config, out_dir, strategy, train_data, val_data):
    cfg = config["train"]
    make_data = _epoch_data(config, train_data)
    first = make_data(0)
    steps = _steps(config, first)
    given_val = val_data
    if val_data is None:
        val_data = builders.dataset(
            config, "val", val_batch_size=strategy.num_replicas_in_sync
        )
    class_weights = cfg["class_weights"]
    if class_weights == "median_frequency":
        from kerasseg import data

        classes = max(config["model"]["num_classes"], 2)
        counts = data.class_counts(
            builders.masks_of(first.take(steps)),
            classes,
            ignore_index=config["data"]["ignore_index"],
        )
        class_weights = data.class_weights(counts).tolist()

    with strategy.scope():
        model = builders.model(config)
        compile_args = dict(
            optimizer=builders.optimizer(config, steps),
            loss=builders.loss(config, class_weights),
            loss_weights=builders.loss_weights(config),
            metrics=builders.metrics(config),
        )
        jit = jit_compile_for(
            cfg["jit_compile"], cfg["deterministic"], cfg["strategy"]
        )
        if jit is None:
            jit = _measured_jit_compile(
                config, model, make_data, out_dir, compile_args
            )
        model.compile(**compile_args, jit_compile=jit)
        checkpoints = _checkpoints(out_dir)
        state = {"epoch": 0, "best": None, "history": []}
        if checkpoints:
            state = _restore_checkpoint(model, checkpoints[-1])
    resumed_from = state["epoch"]
    if resumed_from and cfg["verbose"]:
        print(
            f"Resuming {out_dir} after epoch {resumed_from} of {cfg['epochs']}"
        )
    if strategy.num_replicas_in_sync > 1 and cfg["verbose"]:
        print(
            f"Training on {strategy.num_replicas_in_sync} replicas "
            f"(train.strategy: {cfg['strategy']})"
        )
    guard = _StopOnNonFinite(checkpoints[-1] if checkpoints else None)
    callbacks = [guard]
    if cfg["verbose"]:
        callbacks.append(_Progress(cfg["epochs"]))
    callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")))
    best_path = os.path.join(out_dir, "best.weights.h5")
    multi_worker = cfg["strategy"] == "multi_worker"
    if multi_worker:  # Keras' fit cannot run there: multiworker.py
        from kerasseg.training import multiworker

        hooks = keras.callbacks.CallbackList(
            callbacks,
            model=model,
            epochs=cfg["epochs"],
            steps=steps,
            verbose=cfg["verbose"],
        )
        # A fresh epoch-0 pipeline, so the one training uses is untouched.
        multiworker.build(model, make_data(0), strategy)
        hooks.on_train_begin()
    for epoch in range(state["epoch"], cfg["epochs"]):
        keras.utils.set_random_seed(epoch_seed(cfg["seed"], epoch))
        if multi_worker:
            hooks.on_epoch_begin(epoch)
            logs = multiworker.fit_epoch(
                model,
                strategy,
                make_data(epoch) if epoch else first,
                steps,
                callbacks=hooks,
                val_data=val_data,
            )
            hooks.on_epoch_end(epoch, logs)
        else:
            with strategy.scope():
                history = model.fit(
                    make_data(epoch) if epoch else first,
                    initial_epoch=epoch,
                    epochs=epoch + 1,
                    steps_per_epoch=steps,
                    validation_data=val_data,
                    callbacks=callbacks,
                    verbose=fit_verbose(cfg["verbose"]),
                    shuffle=False,  # the pipeline shuffles, seeded per epoch
                )
            logs = {k: float(v[-1]) for k, v in history.history.items()}
        first = None
        state["history"].append({"epoch": epoch + 1, **logs})
        value = logs.get(cfg["monitor"])
        if _monitor_better(config, value, state["best"]):
            state["best"] = value
            tmp = best_path.replace(".weights.h5", ".tmp.weights.h5")
            model.save_weights(tmp)
            os.replace(tmp, best_path)
        state["epoch"] = epoch + 1
        guard.last_checkpoint = _save_checkpoint(model, state, out_dir)
        _write_history(state["history"], out_dir)
    if multi_worker:
        hooks.on_train_end()

    if os.path.exists(best_path):
        model.load_weights(best_path)
    model_path = os.path.join(out_dir, "model.keras")
    tmp = os.path.join(out_dir, "model.tmp.keras")
    model.save(tmp)
    os.replace(tmp, model_path)
    # Evaluate and export the saved file, outside any strategy: what users
    # get is what is measured, and a multi-replica model would split the
    # one-image evaluation batches.
    model = keras.saving.load_model(model_path)
    eval_data = given_val
    if eval_data is None:
        eval_data = builders.dataset(config, "val")
    split = "validation"
    if eval_data is None:  # no validation data: say so in the result
        eval_data, split = make_data(0).take(steps), "training"
    result = builders.evaluate(
        config, model, eval_data, class_names=config["data"]["class_names"]
    )
    result["data"] = split
    evaluation.save(
        result,
        os.path.join(out_dir, "evaluation.json"),
        os.path.join(out_dir, "evaluation.md"),
    )
    export_path = None
    if config["export"]["saved_model"]:
        from kerasseg import export

        export_path = export.saved_model(
            model,
            os.path.join(out_dir, "export"),
            version=1,
            overwrite=True,
            image_size=config["export"]["image_size"],
        )
    if cfg["verbose"]:
        print(evaluation.table(result))
    return {
        "run_dir": out_dir,
        "history": state["history"],
        "evaluation": result,
        "model_path": model_path,
        "export_path": export_path,
        "resumed_from": resumed_from,
    }
