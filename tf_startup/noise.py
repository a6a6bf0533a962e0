"""The lines native libraries write to stderr that tell a user nothing they can act on.

Measured with TensorFlow 2.21 on CPU-only machines: these are printed before absl's logging is initialised (so
no `TF_CPP_MIN_LOG_LEVEL` hides them), or at ERROR level for something that is not an error (the oneDNN
int64 notice, printed when a model with int64 ops first runs, e.g. the char-LSTM's warmup). The Arcade
Learning Environment prints its banner when an Atari game is made.
"""

from __future__ import annotations

import re
from pathlib import Path

_GLOG_PREFIX = r"[IWE]\d{4} [\d:. ]+\d+ "
NOISE = tuple(re.compile(pattern) for pattern in (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    _GLOG_PREFIX + r"port\.cc:\d+\] oneDNN custom operations are on",
    _GLOG_PREFIX + r"cudart_stub\.cc:\d+\] Could not find cuda drivers",
    _GLOG_PREFIX + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized",
    r"To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.",
    _GLOG_PREFIX + r"cuda_(dnn|fft|blas)\.cc:\d+\] Unable to register cu\w+ factory",
    _GLOG_PREFIX + r"computation_placer\.cc:\d+\] computation placer already registered",
    _GLOG_PREFIX + r"util\.cc:\d+\] oneDNN supports DT_\w+ only on platforms with",
    r"A\.L\.E: Arcade Learning Environment \(version [^)]*\)$",
    r"\[Powered by Stella\]$",
))
NO_GPU_NOISE = re.compile(_GLOG_PREFIX + r"cuda_(platform|executor|diagnostics)\.cc:\d+\] ")
# A partial line that may grow into one of the above is held back until its end arrives; any other text
# (a progress bar redrawn with '\r', say) is passed on at once.
MAYBE_NOISE_START = re.compile(r"[IWE]\d|WARNING: All|To enable|A\.L\.E|\[Powered")


def has_nvidia_device() -> bool:
    """Whether the NVIDIA driver exposes a device here (where a failed cuInit is a real problem worth showing)."""
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia").exists()


def is_noise(line: str, gpu_machine: bool) -> bool:
    """Whether line is one of the lines above (CUDA probing counts only on a machine without a GPU)."""
    if any(pattern.match(line) for pattern in NOISE):
        return True
    return not gpu_machine and bool(NO_GPU_NOISE.match(line))
