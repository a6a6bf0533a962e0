"""BatchingOptions: BatchingParameters with TensorFlow's SharedBatchScheduler defaults, validated."""

from __future__ import annotations

import os
from dataclasses import dataclass

from serving.config.extra_protos import BatchingParameters
from serving.config.text_files import read_text_proto
from serving.errors import invalid_argument

DEFAULT_MAX_BATCH_SIZE = 1000
DEFAULT_BATCH_TIMEOUT_MICROS = 0
DEFAULT_MAX_ENQUEUED_BATCHES = 10


@dataclass(frozen=True)
class BatchingOptions:
    """How requests are merged; field names and defaults are TensorFlow Serving's."""

    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    batch_timeout_micros: int = DEFAULT_BATCH_TIMEOUT_MICROS
    max_enqueued_batches: int = DEFAULT_MAX_ENQUEUED_BATCHES
    num_batch_threads: int = os.cpu_count() or 1
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
            if getattr(self, name) <= 0:
                raise invalid_argument(f"BatchingParameters.{name} must be positive, got {getattr(self, name)}")
        if self.batch_timeout_micros < 0:
            raise invalid_argument(f"BatchingParameters.batch_timeout_micros must be >= 0, got {self.batch_timeout_micros}")
        self._check_allowed_sizes()

    @property
    def waiting_requests(self) -> int:
        """Requests that may wait for their batch at once: a full batch per batch thread and one more forming."""
        return self.max_batch_size * (self.num_batch_threads + 1)

    def _check_allowed_sizes(self) -> None:
        sizes = self.allowed_batch_sizes
        if not sizes:
            return
        if any(size <= 0 for size in sizes) or list(sizes) != sorted(set(sizes)):
            raise invalid_argument(f"allowed_batch_sizes entries must be positive and increasing, got {list(sizes)}")
        if sizes[-1] != self.max_batch_size:
            raise invalid_argument(
                f"Last entry in allowed_batch_sizes must match max_batch_size; last entry was {sizes[-1]}; "
                f"expected {self.max_batch_size}"
            )


def options_from_proto(parameters: BatchingParameters) -> BatchingOptions:
    def wrapped(name: str, default: int) -> int:
        return getattr(parameters, name).value if parameters.HasField(name) else default

    return BatchingOptions(
        max_batch_size=wrapped("max_batch_size", DEFAULT_MAX_BATCH_SIZE),
        batch_timeout_micros=wrapped("batch_timeout_micros", DEFAULT_BATCH_TIMEOUT_MICROS),
        max_enqueued_batches=wrapped("max_enqueued_batches", DEFAULT_MAX_ENQUEUED_BATCHES),
        num_batch_threads=wrapped("num_batch_threads", os.cpu_count() or 1),
        allowed_batch_sizes=tuple(parameters.allowed_batch_sizes),
        pad_variable_length_inputs=parameters.pad_variable_length_inputs,
    )


def read_batching_options(path: str | None) -> BatchingOptions:
    """Options from a ``--batching_parameters_file`` (defaults when no file is given)."""
    if not path:
        return BatchingOptions()
    return options_from_proto(read_text_proto(path, BatchingParameters(), "BatchingParameters"))
