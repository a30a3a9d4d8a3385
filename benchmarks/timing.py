"""The timing helper the benchmark scripts share. It imports nothing
heavy, so peers.py's PyTorch worker can use it without TensorFlow."""

import statistics
import time


def median_seconds(fn, repeats, warmup=0):
    """Median wall-clock seconds of `repeats` calls of `fn`, after
    `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
