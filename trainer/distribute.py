"""Where a training job runs: its tf.distribute strategy (`--distribute`) and its dtype policy.

- `none`: TensorFlow's default strategy, one device;
- `mirrored`: `MirroredStrategy`, synchronous data parallelism on all local GPUs, or on the given devices
  (e.g. `/cpu:0,/cpu:1` after configuring logical devices);
- `multiworker`: `MultiWorkerMirroredStrategy`, whose cluster comes from the TF_CONFIG environment variable
  (a single local worker without it). Create it before any other TensorFlow work, as TensorFlow requires;
  `trainer.multiworker` says which worker does what and lets Keras 3's `fit` run under it.
Jobs build and compile their model inside `strategy.scope()`; Keras `fit` splits each global batch across
the replicas.

The dtype policy (`--precision`): `auto` computes in float16 on a GPU (tensor cores), in bfloat16 on a CPU
with bfloat16 instructions (AVX512_BF16 or AMX: oneDNN runs the deep classifier about 1.3x faster there, see
bench/RESULTS.md), and in float32 elsewhere; variables stay float32 under either mixed policy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from trainer.errors import TrainerError
from trainer.multiworker import enable_keras_multiworker
from trainer.precisions import BFLOAT16_POLICY, FLOAT32_POLICY, GPU_POLICY, PRECISIONS

BFLOAT16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}
CPUINFO = Path("/proc/cpuinfo")


def parse_devices(devices: str | None) -> list[str]:
    """`/cpu:0,/cpu:1` -> ['/cpu:0', '/cpu:1']; None or empty -> []."""
    return [device.strip() for device in (devices or "").split(",") if device.strip()]


def _check_devices(devices: Sequence[str]) -> None:
    """Refuse a device name that matches none of TensorFlow's logical devices."""
    known = {(device.device_type, int(device.name.rsplit(":", 1)[1])) for device in tf.config.list_logical_devices()}
    for device in devices:
        try:
            spec = tf.DeviceSpec.from_string(device)
        except ValueError as error:
            raise TrainerError(f"--devices: '{device}' is not a device name such as /gpu:0 or /cpu:1") from error
        if (str(spec.device_type).upper(), spec.device_index or 0) not in known:
            names = ", ".join(sorted(d.name for d in tf.config.list_logical_devices()))
            raise TrainerError(f"--devices: no device '{device}' on this machine; it has {names}")


def check_tf_config() -> None:
    """Refuse a TF_CONFIG that is not JSON with a `cluster` and a `task`, before TensorFlow reads it."""
    text = os.environ.get("TF_CONFIG")
    if text is None:
        return
    try:
        config = json.loads(text)
    except ValueError as error:
        raise TrainerError(f"TF_CONFIG is not valid JSON: {error}") from error
    if not isinstance(config, dict) or not {"cluster", "task"} <= set(config):
        raise TrainerError("TF_CONFIG must be a JSON object with 'cluster' and 'task' (see tf.distribute docs)")


def _mirrored(devices: Sequence[str]) -> tf.distribute.Strategy:
    _check_devices(devices)
    return tf.distribute.MirroredStrategy(list(devices) or None)


def _multiworker(devices: Sequence[str]) -> tf.distribute.Strategy:
    check_tf_config()
    enable_keras_multiworker()
    return tf.distribute.MultiWorkerMirroredStrategy()


STRATEGY_BUILDERS: dict[str, Callable[[Sequence[str]], tf.distribute.Strategy]] = {
    "none": lambda devices: tf.distribute.get_strategy(),
    "mirrored": _mirrored,
    "multiworker": _multiworker,
}


def make_strategy(name: str, devices: Sequence[str] = ()) -> tf.distribute.Strategy:
    """The strategy `--distribute name` asks for; devices apply to `mirrored` only."""
    if name not in STRATEGY_BUILDERS:
        raise TrainerError(f"--distribute must be one of {', '.join(STRATEGY_BUILDERS)}, got '{name}'")
    try:
        return STRATEGY_BUILDERS[name](devices)
    except (RuntimeError, ValueError) as error:
        raise TrainerError(f"cannot start --distribute {name}: {str(error).splitlines()[0]}") from error


def describe(strategy: tf.distribute.Strategy) -> dict[str, Any]:
    """The strategy's class, replica count and devices ('default', no devices: TensorFlow's own placement)."""
    if strategy is tf.distribute.get_strategy():
        return {"strategy": "default", "replicas": 1, "devices": []}
    devices = list(strategy.extended.worker_devices)
    return {"strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync, "devices": devices}


def cpu_has_bfloat16(cpuinfo: Path = CPUINFO) -> bool:
    """Whether the CPU flags in cpuinfo (Linux's /proc/cpuinfo) include a bfloat16 instruction set."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[-1].split()}
    return bool(flags & BFLOAT16_CPU_FLAGS)


def dtype_policy(precision: str = "auto") -> str:
    """The Keras dtype policy `--precision precision` means on this machine (see the module docstring)."""
    if precision not in PRECISIONS:
        raise TrainerError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU"):
        return GPU_POLICY
    return BFLOAT16_POLICY if cpu_has_bfloat16() else FLOAT32_POLICY


@contextmanager
def dtype_policy_scope(policy: str) -> Iterator[None]:
    """Build layers under Keras dtype policy `policy`, then restore the previous global policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
