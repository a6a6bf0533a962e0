"""An optional cap on the rows of one request (``--max_rows_per_request``), for servers without batching.

A model run holds its intermediate tensors in TensorFlow's oneDNN allocator, which keeps its peak for the
life of the process: one 10,000-image Predict of the classifier leaves the server 2 GB larger for good
(bench/RESULTS.md). A cap refuses such requests before they run; with batching, ``max_batch_size`` does.
"""

from __future__ import annotations

from collections.abc import Callable

from serving.batching.scheduler import batch_size_of
from serving.errors import invalid_argument


class RowLimit:
    """A runner wrapper that refuses requests of more than `max_rows` rows, then runs the rest."""

    def __init__(self, runner: Callable[..., dict], max_rows: int) -> None:
        self._runner = runner
        self._max_rows = max_rows

    def __call__(self, servable, signature, inputs, *rest) -> dict:
        rows = batch_size_of(signature, inputs)
        if rows is not None and rows > self._max_rows:
            raise invalid_argument(
                f"The request has {rows} rows; this server takes at most {self._max_rows} per request "
                "(--max_rows_per_request): split it into smaller requests"
            )
        return self._runner(servable, signature, inputs, *rest)
