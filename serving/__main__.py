"""`python -m serving [flags]` (installed as `kslab-serving`): TensorFlow starts quietly, then the server."""

import os
import sys

import tf_startup

ONEDNN_SYSTEM_ALLOCATOR = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
"""TensorFlow's oneDNN kernels otherwise draw from a pool that keeps the peak of the largest request for the
life of the process (+2 GB after one 10,000-image Predict); with malloc the server returns to its warm size
at the same speed (bench/memory.py). Read once, when TensorFlow creates its CPU allocator."""


def run() -> int:
    """Start TensorFlow without its start-up noise (KSLAB_VERBOSE=1 shows it), then run the server's main."""
    os.environ.setdefault(ONEDNN_SYSTEM_ALLOCATOR, "1")
    tf_startup.quiet_start()
    from serving.main import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
