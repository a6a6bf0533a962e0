"""Loads a version for the manager: the SavedModel, then its warmup requests, counting attempts."""

from __future__ import annotations

from serving.core.inference import Inference
from serving.core.servable import Servable
from serving.core.tflite_servable import load_version
from serving.core.warmup import run_warmup
from serving.errors import ServingError
from serving.monitoring import Metrics


class VersionLoader:
    """Callable ``(name, version, path) -> Servable``; warmup failures fail the load."""

    def __init__(self, tags: frozenset[str], metrics: Metrics, warmup: bool = True, warmup_iterations: int = 1,
                 prefer_tflite: bool = False, tflite_pool_size: int = 1) -> None:
        self.tags = tags
        self.prefer_tflite = prefer_tflite
        self.tflite_pool_size = tflite_pool_size
        self.metrics = metrics
        self.warmup = warmup
        self.warmup_iterations = warmup_iterations
        self.inference: Inference | None = None

    def __call__(self, name: str, version: int, path: str) -> Servable:
        try:
            servable = load_version(name, version, path, self.tags, self.prefer_tflite, self.tflite_pool_size)
            if self.warmup and self.inference is not None:
                run_warmup(servable, self.inference, self.warmup_iterations)
        except ServingError as error:
            self.metrics.record_load(path, error.code_name)
            raise
        self.metrics.record_load(path, "success")
        return servable
