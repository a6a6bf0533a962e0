"""TensorFlow runtime settings that must be made before the first op runs (threads, GPU memory), and spans in
profiler traces."""

from __future__ import annotations

import logging
import subprocess
from contextlib import AbstractContextManager

import tensorflow as tf

log = logging.getLogger(__name__)


def configure_threads(intra_op: int, inter_op: int) -> None:
    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def configure_gpus(memory_fraction: float) -> list[str]:
    """Use every visible GPU; with a fraction, cap each one's memory to that share of its total."""
    gpus = tf.config.list_physical_devices("GPU")
    if memory_fraction > 0:
        totals = _gpu_total_memory_mb()
        for index, gpu in enumerate(gpus):
            if index < len(totals):
                limit = int(totals[index] * memory_fraction)
                tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
            else:
                log.warning("Cannot read the memory of %s; --per_process_gpu_memory_fraction not applied", gpu.name)
    return [gpu.name for gpu in gpus]


def _gpu_total_memory_mb() -> list[int]:
    try:
        output = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(line) for line in output.split() if line.isdigit()]


def traced(name: str) -> AbstractContextManager:
    """A span called ``name`` in the traces that ``--enable_profiler`` takes (TensorFlow's TraceMe: it costs
    nothing while no trace is being taken). Marks the server's own periodic work, so that a trace shows it
    beside the model runs; an idle server's trace is not empty."""
    return tf.profiler.experimental.Trace(name)
