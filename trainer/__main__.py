"""`python -m trainer FAMILY JOB [flags]` (installed as `kslab-trainer`)."""

import sys

from trainer.cli import main


def run() -> int:
    """The command line: the job runs with TensorFlow's start-up noise hidden (`--verbose` shows it)."""
    return main(quiet=True)


if __name__ == "__main__":
    sys.exit(run())
