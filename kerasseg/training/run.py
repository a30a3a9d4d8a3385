"""`kerasseg train`: one config in, one run folder out.

The loop: compile (or restore the last checkpoint) → one `fit` per epoch,
each with its own seeded data (the multi-worker loop of `multiworker.py`
behind the same per-epoch function) → finalize (best weights, `model.keras`,
evaluation, export). The run folder's files are `run_folder.py`'s.

Starting the same command again in the same folder resumes after the last
completed epoch: weights, optimizer state and the data order and
augmentation of the remaining epochs are those of an uninterrupted run.
"""

import math
import os
import sys

import keras

from kerasseg.training import batch_norm
from kerasseg.training import builders
from kerasseg.training import config as config_module
from kerasseg.training import evaluation
from kerasseg.training import recipes
from kerasseg.training import run_folder
from kerasseg.training import xla
from kerasseg.training.finetune import freeze_encoder
from kerasseg.training.finetune import unfreeze_encoder


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
    kept = run_folder.read_json(out_dir, "compile.json")
    if kept is not None:
        return kept["jit_compile"]
    # A fresh pipeline for epoch 0, so the one training uses is untouched.
    x, y = next(iter(make_data(0).take(1)))
    if isinstance(x, dict):  # a recipe's batch: measure the segmenter's
        x = x["image"]
    jit, seconds = xla.choose_jit_compile(
        recipes.segmenter_of(model),
        x,
        y,
        loss=compile_args["loss"],
        optimizer=compile_args["optimizer"],
    )
    run_folder.write_json(
        out_dir,
        "compile.json",
        {"jit_compile": jit, "seconds_per_step": seconds},
    )
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
    if name == config_module.LAST:  # every epoch replaces the one before
        return True
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
    from kerasseg import _tensorflow

    tf = _tensorflow.require("Training (kerasseg train, run.train)")

    strategy = strategy_for(cfg["strategy"])
    run_folder.prepare(config, run_dir)
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
    model, state, last, compile_for = _compile(
        config, out_dir, strategy, make_data, first, steps
    )
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
    guard = _StopOnNonFinite(last)
    callbacks = [guard]
    if cfg["verbose"]:
        callbacks.append(_Progress(cfg["epochs"]))
    callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")))
    fit_epoch, finish = _epoch_runner(
        config, model, strategy, make_data, steps, callbacks, val_data
    )
    for epoch in range(state["epoch"], cfg["epochs"]):
        keras.utils.set_random_seed(epoch_seed(cfg["seed"], epoch))
        if epoch and config_module.stage_of(config, epoch) != (
            config_module.stage_of(config, epoch - 1)
        ):
            # Two-stage fine-tuning: the encoder joins in, with a fresh
            # optimizer at the unfrozen learning rate.
            compile_for(config_module.stage_of(config, epoch))
            if cfg["verbose"]:
                print(f"Epoch {epoch + 1}: the encoder is trainable now.")
        logs = fit_epoch(epoch, make_data(epoch) if epoch else first)
        first = None
        state["history"].append({"epoch": epoch + 1, **logs})
        value = logs.get(cfg["monitor"])
        if _monitor_better(config, value, state["best"]):
            state["best"] = value
            run_folder.save_best(model, out_dir)
        state["epoch"] = epoch + 1
        guard.last_checkpoint = run_folder.save_checkpoint(
            model, state, out_dir
        )
        run_folder.write_history(state["history"], out_dir)
    finish()
    return {
        **_finalize(config, out_dir, model, given_val, make_data, steps),
        "history": state["history"],
        "resumed_from": resumed_from,
    }


def _compile(config, out_dir, strategy, make_data, first, steps):
    """The compiled model in `strategy`'s scope, restored from the last
    checkpoint if there is one; returns `(model, state, that checkpoint
    or None, compile_for)`. `compile_for(stage)` freezes or unfreezes the
    encoder for a stage of `config.stage_of` and compiles again with that
    stage's optimizer."""
    cfg = config["train"]
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
    saved = run_folder.checkpoints(out_dir)
    # The stage whose optimizer state the last checkpoint holds.
    done = run_folder.checkpoint_epoch(saved[-1]) if saved else 0
    stage = config_module.stage_of(config, max(done - 1, 0))
    loss = builders.loss(config, class_weights)
    with strategy.scope():
        # A recipe trains the segmenter inside its training model
        # (`recipes.wrap`); the saved model is the segmenter alone.
        segmenter = builders.model(config)
        model = recipes.wrap(
            segmenter,
            cfg["recipe"],
            cfg["recipe_options"],
            total_steps=cfg["epochs"] * steps,
            ignore_index=config["data"]["ignore_index"],
        )
        jit = jit_compile_for(
            cfg["jit_compile"], cfg["deterministic"], cfg["strategy"]
        )
        if jit is None:
            jit = _measured_jit_compile(
                config,
                model,
                make_data,
                out_dir,
                {"loss": loss, "optimizer": builders.optimizer(config, steps)},
            )

    def compile_for(stage):
        with strategy.scope():
            if stage == "frozen":
                freeze_encoder(segmenter)
            elif stage == "unfrozen":
                unfreeze_encoder(segmenter)
            model.compile(
                optimizer=builders.optimizer(config, steps, stage),
                loss=loss,
                loss_weights=builders.loss_weights(config),
                metrics=builders.metrics(config),
                jit_compile=jit,
            )

    compile_for(stage)
    state = {"epoch": 0, "best": None, "history": []}
    if saved:
        with strategy.scope():
            state = run_folder.restore_checkpoint(model, saved[-1])
    return model, state, saved[-1] if saved else None, compile_for


def _epoch_runner(config, model, strategy, make_data, steps, callbacks, val):
    """`(fit_epoch(epoch, data) -> logs, finish())`: Keras' `fit` for one
    epoch, or under `multi_worker` (where Keras' fit cannot run) the loop
    of `multiworker.py` with the same callbacks."""
    cfg = config["train"]
    if cfg["strategy"] != "multi_worker":

        def fit_epoch(epoch, data):
            with strategy.scope():
                history = model.fit(
                    data,
                    initial_epoch=epoch,
                    epochs=epoch + 1,
                    steps_per_epoch=steps,
                    validation_data=val,
                    callbacks=callbacks,
                    verbose=fit_verbose(cfg["verbose"]),
                    shuffle=False,  # the pipeline shuffles, seeded per epoch
                )
            return {k: float(v[-1]) for k, v in history.history.items()}

        return fit_epoch, lambda: None

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

    def fit_epoch(epoch, data):
        hooks.on_epoch_begin(epoch)
        logs = multiworker.fit_epoch(
            model, strategy, data, steps, callbacks=hooks, val_data=val
        )
        hooks.on_epoch_end(epoch, logs)
        return logs

    return fit_epoch, hooks.on_train_end


def _recalibrate(config, model, make_data):
    """`train.batch_norm_recalibration: N`: the saved model's BatchNorm
    statistics become their average over N batches of a fresh training
    epoch (`kerasseg.training.batch_norm`). Returns N (0: off)."""
    count = config["train"]["batch_norm_recalibration"]
    if not count:
        return 0

    def images():
        for inputs, *_ in make_data(config["train"]["epochs"]).take(count):
            # DANN's batches also hold the target images; the saved
            # segmenter takes the labelled images alone.
            yield inputs["image"] if isinstance(inputs, dict) else inputs

    return batch_norm.recalibrate(model, images())


def _finalize(config, out_dir, model, given_val, make_data, steps):
    """Best weights → `model.keras` → its evaluation and export."""
    run_folder.load_best(model, out_dir)
    model_path = run_folder.save_model(recipes.segmenter_of(model), out_dir)
    # Evaluate and export the saved file, outside any strategy: what users
    # get is what is measured, and a multi-replica model would split the
    # one-image evaluation batches.
    model = keras.saving.load_model(model_path)
    if _recalibrate(config, model, make_data):
        model_path = run_folder.save_model(model, out_dir)
    eval_data = given_val
    if eval_data is None:
        eval_data = builders.dataset(config, "val")
    split = "validation"
    if eval_data is None:  # no validation data: say so in the result
        eval_data, split = make_data(0).take(steps), "training"
    result = builders.evaluate(
        config, model, eval_data, class_names=builders.class_names(config)
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
    if config["train"]["verbose"]:
        print(evaluation.table(result))
    return {
        "run_dir": out_dir,
        "evaluation": result,
        "model_path": model_path,
        "export_path": export_path,
    }
