import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from serving.main import main  # noqa: E402 - TensorFlow reads the log level at import

sys.exit(main())
