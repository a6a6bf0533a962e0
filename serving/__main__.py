"""`python -m serving [flags]` (installed as `kslab-serving`): TensorFlow starts quietly, then the server."""

import sys

import tf_startup


def run() -> int:
    """Start TensorFlow without its start-up noise (KSLAB_VERBOSE=1 shows it), then run the server's main."""
    tf_startup.quiet_start()
    from serving.main import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
