"""A client for TensorFlow Serving's gRPC and REST APIs (ours or the real server): numpy in, numpy out."""

from client.client import ServingClient
from client.errors import ClientError
from client.messages import ModelInfo, SignatureSpec, VersionStatus

__all__ = ["ClientError", "ModelInfo", "ServingClient", "SignatureSpec", "VersionStatus"]
