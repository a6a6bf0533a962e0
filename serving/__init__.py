"""A TensorFlow-Serving-compatible model server: gRPC and REST over SavedModel version directories."""

__version__ = "0.1.0"
