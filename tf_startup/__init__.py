"""Quiet start-up for the project's command lines: TensorFlow's, absl's and third-party noise stays off screen.

TensorFlow prints its start-up lines from C++ before absl's logging is initialised (`WARNING: All log messages
before absl::InitializeLog()…`, the oneDNN notice, `Could not find cuda drivers`, `failed call to cuInit`), so
no environment variable hides them: measured with TensorFlow 2.21, `TF_CPP_MIN_LOG_LEVEL=3` still prints all of
them but the last. A command line (`quiet_start`) therefore keeps a filter on file descriptor 2 for its whole
life, and a library (`quiet_libraries`) filters it while TensorFlow is imported and probes its devices: only
the known lines of `tf_startup.noise` are dropped, anything else (a real error) still reaches the screen. A
failed `cuInit` is dropped only where the machine has no NVIDIA device node, where it is expected.

Python warnings from third-party packages, TensorFlow's Python logger below ERROR, OpenCV's notices and SDL's
complaint about a missing `XDG_RUNTIME_DIR` on headless machines are hidden too; warnings raised by our own
packages stay visible. `verbose=True`, `KSLAB_VERBOSE=1` or an explicit
`TF_CPP_MIN_LOG_LEVEL` below 2 leave everything as TensorFlow prints it.

This package is the one piece `trainer`, `serving` and `client` share: each calls it from its entry point
before importing TensorFlow, and none of them imports another.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

from tf_startup.stderr_filter import StderrFilter, filtered_while

VERBOSE_ENV = "KSLAB_VERBOSE"
_stderr_filter: StderrFilter | None = None
OUR_PACKAGES = r"(trainer|serving|client|bench|tf_startup)(\.|$)"


def wants_verbose(verbose: bool = False) -> bool:
    """True when the user asked for everything: the flag, KSLAB_VERBOSE=1, or TF_CPP_MIN_LOG_LEVEL below 2."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "")
    return verbose or os.environ.get(VERBOSE_ENV, "") not in ("", "0") or (level.isdigit() and int(level) < 2)


def hide_third_party_warnings() -> None:
    """Ignore Python warnings raised outside our packages, and TensorFlow's and absl's Python logs below ERROR."""
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=OUR_PACKAGES)
    for name in ("tensorflow", "absl", "h5py", "jax"):
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_native_libraries() -> None:
    """OpenCV logs only errors; without a display, SDL (gymnasium's renderer) draws off screen instead of
    complaining that `XDG_RUNTIME_DIR is invalid`. Values the user set are kept; both read them at import."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def import_tensorflow() -> None:
    """Import TensorFlow and let it find its devices, which is when it prints its start-up lines."""
    import tensorflow as tf

    tf.config.list_physical_devices()


def quiet_libraries(verbose: bool = False) -> None:
    """TensorFlow, OpenCV and SDL without their start-up notices, unless the user asked for them.

    Safe for a library to call before it imports them: it changes no warning filter, and fd 2 is filtered only
    while TensorFlow starts.
    """
    if wants_verbose(verbose) or "tensorflow" in sys.modules:
        return
    quiet_native_libraries()
    with filtered_while():
        import_tensorflow()


def quiet_start(verbose: bool = False) -> None:
    """What a command line calls first: third-party Python warnings hidden, and TensorFlow's noise filtered
    from fd 2 for the whole process (a server prints some only when a model first runs)."""
    if wants_verbose(verbose):
        return
    global _stderr_filter
    hide_third_party_warnings()
    quiet_native_libraries()
    _stderr_filter = StderrFilter()
    _stderr_filter.start()
    import_tensorflow()


def release_stderr() -> None:
    """Forward what the stderr filter still holds and give fd 2 back: for a process about to end through
    ``os._exit``, which skips the exit handler that would do it (its last lines were lost otherwise)."""
    if _stderr_filter is not None:
        _stderr_filter.stop()
