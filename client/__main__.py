"""`python -m client` (installed as `kslab-client`): see client/cli.py."""

import sys

import tf_startup


def run() -> int:
    """Start TensorFlow without its start-up noise (KSLAB_VERBOSE=1 shows it), then run the client's CLI."""
    tf_startup.quiet_start()
    from client.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
