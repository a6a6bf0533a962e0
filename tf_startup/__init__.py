"""Quiet start-up for the project's command lines: TensorFlow's, absl's and third-party noise stays off screen.

TensorFlow prints its start-up lines from C++ before absl's logging is initialised (`WARNING: All log messages
before absl::InitializeLog()…`, the oneDNN notice, `Could not find cuda drivers`, `failed call to cuInit`), so
no environment variable hides them: measured with TensorFlow 2.21, `TF_CPP_MIN_LOG_LEVEL=3` still prints all of
them but the last. `quiet_start` therefore imports TensorFlow and lets it probe its devices while file
descriptor 2 points at a temporary file, then writes back every captured line that is not one of those
known start-up lines: anything else TensorFlow says while starting (a real error) still reaches the screen.
A failed `cuInit` is dropped only where the machine has no NVIDIA device node, where it is expected.

Python warnings from third-party packages, TensorFlow's Python logger below ERROR, OpenCV's notices and SDL's
complaint about a missing `XDG_RUNTIME_DIR` on headless machines are hidden too; warnings raised by our own
packages stay visible. `verbose=True`, `KSLAB_VERBOSE=1` or an explicit
`TF_CPP_MIN_LOG_LEVEL` below 2 leave everything as TensorFlow prints it.

This package is the one piece `trainer`, `serving` and `client` share: each calls it from its entry point
before importing TensorFlow, and none of them imports another.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

VERBOSE_ENV = "KSLAB_VERBOSE"
OUR_PACKAGES = r"(trainer|serving|client|bench|tf_startup)(\.|$)"
_GLOG_PREFIX = r"[IWE]\d{4} [\d:. ]+\d+ "
START_UP_NOISE = tuple(re.compile(pattern) for pattern in (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    _GLOG_PREFIX + r"port\.cc:\d+\] oneDNN custom operations are on",
    _GLOG_PREFIX + r"cudart_stub\.cc:\d+\] Could not find cuda drivers",
    _GLOG_PREFIX + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized",
    r"To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.",
    _GLOG_PREFIX + r"cuda_(dnn|fft|blas)\.cc:\d+\] Unable to register cu\w+ factory",
    _GLOG_PREFIX + r"computation_placer\.cc:\d+\] computation placer already registered",
))
NO_GPU_NOISE = re.compile(_GLOG_PREFIX + r"cuda_(platform|executor|diagnostics)\.cc:\d+\] ")


def wants_verbose(verbose: bool = False) -> bool:
    """True when the user asked for everything: the flag, KSLAB_VERBOSE=1, or TF_CPP_MIN_LOG_LEVEL below 2."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "")
    return verbose or os.environ.get(VERBOSE_ENV, "") not in ("", "0") or (level.isdigit() and int(level) < 2)


def has_nvidia_device() -> bool:
    """Whether the NVIDIA driver exposes a device here (where a failed cuInit is a real problem worth showing)."""
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia").exists()


def is_start_up_noise(line: str, gpu_machine: bool) -> bool:
    """Whether line is one of TensorFlow's known start-up lines (CUDA probing counts only without a GPU)."""
    if any(pattern.match(line) for pattern in START_UP_NOISE):
        return True
    return not gpu_machine and bool(NO_GPU_NOISE.match(line))


@contextlib.contextmanager
def stderr_without_start_up_noise() -> Iterator[None]:
    """Capture file descriptor 2 (C++ writes there directly) and write back what is not start-up noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            gpu_machine = has_nvidia_device()
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not is_start_up_noise(line, gpu_machine)))
            sys.stderr.flush()


def hide_third_party_warnings() -> None:
    """Ignore Python warnings raised outside our packages, and TensorFlow's and absl's Python logs below ERROR."""
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=OUR_PACKAGES)
    for name in ("tensorflow", "absl", "h5py", "jax"):
        logging.getLogger(name).setLevel(logging.ERROR)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and find its devices without the start-up noise (a no-op once TensorFlow is loaded)."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with stderr_without_start_up_noise():
        import tensorflow as tf

        tf.config.list_physical_devices()


def quiet_native_libraries() -> None:
    """OpenCV logs only errors; without a display, SDL (gymnasium's renderer) draws off screen instead of
    complaining that `XDG_RUNTIME_DIR is invalid`. Values the user set are kept; both read them at import."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def quiet_libraries(verbose: bool = False) -> None:
    """TensorFlow, OpenCV and SDL without their start-up notices, unless the user asked for them.

    Safe for a library to call before it imports them: it changes no warning filter.
    """
    if wants_verbose(verbose):
        return
    quiet_native_libraries()
    import_tensorflow_quietly()


def quiet_start(verbose: bool = False) -> None:
    """What a command line calls first: quiet libraries, and third-party Python warnings hidden."""
    if wants_verbose(verbose):
        return
    hide_third_party_warnings()
    quiet_libraries()
