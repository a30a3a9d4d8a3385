"""One training epoch under `tf.distribute.MultiWorkerMirroredStrategy`.

Keras 3's `fit` fails under this strategy: it builds the model from a
distributed batch eagerly before the first step, then reduces scalar logs
along an axis (https://github.com/keras-team/keras/issues/20585). The
model's own `train_step` and `test_step` work inside the replicas, as
they do under `MirroredStrategy`, so this loop runs them with
`strategy.run` and reads the metrics in cross-replica context (their
variables are summed over all replicas of all workers). Losses, metrics,
the optimizer's all-reduce and callbacks are Keras' own.

TensorFlow-specific by nature: multi-worker training is `tf.distribute`.
"""

import tensorflow as tf


def build(model, dataset, strategy):
    """Creates the loss, metric and optimizer variables that are still
    missing, outside the replicas (one forward pass on a batch of
    `dataset`), then clears the metrics. Call it once, after restoring a
    checkpoint (which may have built only the optimizer) and before
    `fit_epoch`; give it a pipeline of its own, so the epochs' data is
    iterated exactly as in a single-device run."""
    x, y = next(iter(dataset.take(1)))
    with strategy.scope():
        y_pred = model(x, training=False)
        model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
        model.compute_metrics(x, y, y_pred, sample_weight=None)
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    model.reset_metrics()


def _distributed(dataset, strategy):
    # Every worker reads the whole pipeline and keeps its share of each
    # global batch (the sources are tensors, not files to split).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return strategy.experimental_distribute_dataset(
        dataset.with_options(options)
    )


def _logs(model):
    return {k: float(v) for k, v in model.get_metrics_result().items()}


def fit_epoch(model, strategy, dataset, steps, *, callbacks, val_data=None):
    """Trains one epoch of `steps` global batches and validates.

    Args:
        model: a compiled model, built under `strategy.scope()` and
            prepared by `build`.
        strategy: the `MultiWorkerMirroredStrategy`.
        dataset: global batches of `(image, mask)`.
        steps: batches in the epoch.
        callbacks: a `keras.callbacks.CallbackList` (epoch and batch
            hooks are called as `fit` calls them).
        val_data: optional validation batches (one image per replica).

    Returns:
        The epoch's logs, `val_`-prefixed for validation, as `fit`'s
        history has them.
    """

    @tf.function
    def train(data):
        strategy.run(model.train_step, args=(data,))

    @tf.function
    def test(data):
        strategy.run(model.test_step, args=(data,))

    model.reset_metrics()
    batches = iter(_distributed(dataset, strategy))
    for batch in range(steps):
        callbacks.on_train_batch_begin(batch)
        train(next(batches))
        callbacks.on_train_batch_end(batch, _logs(model))
    logs = _logs(model)
    if val_data is not None:
        model.reset_metrics()
        for data in _distributed(val_data, strategy):
            test(data)
        logs.update({f"val_{k}": v for k, v in _logs(model).items()})
    return logs


__all__ = ["build", "fit_epoch"]
