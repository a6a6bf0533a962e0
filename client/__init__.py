"""A client for TensorFlow Serving's gRPC and REST APIs (ours or the real server): numpy in, numpy out."""

import tf_startup

tf_startup.quiet_libraries()  # before TensorFlow and OpenCV load: no start-up notices (KSLAB_VERBOSE=1 shows them)

from client.client import ServingClient  # noqa: E402
from client.errors import ClientError  # noqa: E402
from client.messages import ModelInfo, SignatureSpec, VersionStatus  # noqa: E402

__all__ = ["ClientError", "ModelInfo", "ServingClient", "SignatureSpec", "VersionStatus"]
