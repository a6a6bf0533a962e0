"""`python -m trainer FAMILY JOB [flags]` (installed as `kslab-trainer`)."""

import sys

from trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
