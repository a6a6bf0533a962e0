"""Deployment files for running a saved_models tree on the real TensorFlow Serving GPU image, and their checks."""
