"""Server-side batching: concurrent requests for one model version and signature run as one call.

Follows TensorFlow Serving's BatchingParameters and SharedBatchScheduler semantics: a queue per
(version, signature), ``num_batch_threads`` workers, a batch closes when it is full or its oldest
task has waited ``batch_timeout_micros``, a full queue answers UNAVAILABLE, and batches are padded
up to the next of ``allowed_batch_sizes``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import grpc
import numpy as np

from serving.batching.options import BatchingOptions
from serving.core.servable import Servable
from serving.core.signature import Signature
from serving.errors import ServingError, failed_precondition, invalid_argument, unavailable

Arrays = dict[str, np.ndarray]
QUEUE_FULL_MESSAGE = "The batch scheduling queue to which this task was submitted is full"
IDLE_WAIT_S = 0.05
WORKER_JOIN_SECONDS = 30.0
"""How long an idle worker sleeps before it looks at the queues again (enqueues wake it sooner)."""


@dataclass
class Task:
    inputs: Arrays
    size: int
    deadline: float | None
    enqueued_at: float = field(default_factory=time.monotonic)
    result: Future = field(default_factory=Future)


@dataclass
class BatchQueue:
    servable: Servable
    signature: Signature
    outputs: tuple[str, ...] | None
    tasks: deque = field(default_factory=deque)
    enqueued_rows: int = 0


class BatchScheduler:
    """A Runner that merges tasks; signatures without a variable batch dimension run directly."""

    def __init__(self, options: BatchingOptions) -> None:
        self.options = options
        self._queues: dict[tuple, BatchQueue] = {}
        self._ready = threading.Condition()
        self._stopped = False
        self._workers = [
            threading.Thread(target=self._work, name=f"batch-thread-{index}", daemon=True)
            for index in range(options.num_batch_threads)
        ]
        for worker in self._workers:
            worker.start()

    def __call__(
        self, servable: Servable, signature: Signature, inputs: Arrays, deadline: float | None,
        outputs: tuple[str, ...] | None = None,
    ) -> Arrays:
        size = batch_size_of(signature, inputs)
        if size is None:
            return servable.run(signature, inputs, outputs, deadline)
        if size > self.options.max_batch_size:
            raise invalid_argument(
                f"Task size {size} is larger than maximum input batch size {self.options.max_batch_size}"
            )
        task = Task(inputs=inputs, size=size, deadline=deadline)
        self._enqueue(servable, signature, outputs, task)
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            return task.result.result(timeout=timeout)
        except TimeoutError:
            task.result.cancel()
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded while waiting in the batch queue") from None

    def _enqueue(self, servable: Servable, signature: Signature, outputs: tuple[str, ...] | None, task: Task) -> None:
        """Queue task with the others that run the same signature for the same outputs (TensorFlow Serving's
        batching session keys its queues by the tensors fed and fetched)."""
        key = (id(servable), servable.name, servable.version, signature.name, outputs)
        capacity = self.options.max_enqueued_batches * self.options.max_batch_size
        with self._ready:
            queue = self._queues.setdefault(key, BatchQueue(servable=servable, signature=signature, outputs=outputs))
            if queue.enqueued_rows + task.size > capacity:
                raise unavailable(QUEUE_FULL_MESSAGE)
            queue.tasks.append(task)
            queue.enqueued_rows += task.size
            if len(queue.tasks) == 1 or queue.enqueued_rows >= self.options.max_batch_size:
                self._ready.notify()  # a new batch timer started, or a batch is full; otherwise nothing changed

    def stop(self) -> None:
        """Let the workers finish the batches already queued, then join them."""
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        for worker in self._workers:
            worker.join(WORKER_JOIN_SECONDS)

    # ---- workers ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._ready:
                batch = self._next_batch()
                while batch is None and not self._stopped:
                    self._ready.wait(timeout=self._wait_time())
                    batch = self._next_batch()
                if batch is None:
                    return
            self._process(*batch)

    def _wait_time(self) -> float:
        """Seconds until the oldest waiting task's batch times out: a batch never waits longer than its timeout."""
        waiting = [queue.tasks[0].enqueued_at for queue in self._queues.values() if queue.tasks]
        if not waiting:
            return IDLE_WAIT_S
        return max(min(waiting) + self.options.batch_timeout_micros / 1e6 - time.monotonic(), 0.0)

    def _next_batch(self) -> tuple[BatchQueue, list[Task]] | None:
        now = time.monotonic()
        timeout = self.options.batch_timeout_micros / 1e6
        for key, queue in self._queues.items():
            if not queue.tasks:
                continue
            full = queue.enqueued_rows >= self.options.max_batch_size
            if full or now - queue.tasks[0].enqueued_at >= timeout:
                self._queues[key] = self._queues.pop(key)  # served last: the other queues come first next time
                return queue, self._take(queue)
        return None

    def _take(self, queue: BatchQueue) -> list[Task]:
        taken, rows = [], 0
        while queue.tasks and rows + queue.tasks[0].size <= self.options.max_batch_size:
            task = queue.tasks.popleft()
            queue.enqueued_rows -= task.size
            rows += task.size
            taken.append(task)
        return taken

    def _process(self, queue: BatchQueue, tasks: list[Task]) -> None:
        now = time.monotonic()
        live = []
        for task in tasks:
            if task.result.cancelled() or not task.result.set_running_or_notify_cancel():
                continue
            if task.deadline is not None and now >= task.deadline:
                task.result.set_exception(ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded in the batch queue"))
                continue
            live.append(task)
        if not live:
            return
        try:
            merged, rows = merge_inputs(queue.signature, [task.inputs for task in live], self.options)
            outputs = queue.servable.run(queue.signature, merged, queue.outputs, latest_deadline(live))
            for task, part in zip(live, split_outputs(outputs, [task.size for task in live], rows)):
                task.result.set_result(part)
        except ServingError as error:
            for task in live:
                task.result.set_exception(error)
        except Exception as error:  # noqa: BLE001 - a batch failure must reach every waiting request
            for task in live:
                task.result.set_exception(ServingError(grpc.StatusCode.INTERNAL, f"Batch failed: {error}"))


def latest_deadline(tasks: list[Task]) -> float | None:
    """A batch runs until the last of its requests gives up (None: one of them waits forever)."""
    deadlines = [task.deadline for task in tasks]
    return None if None in deadlines else max(deadlines)


def batch_size_of(signature: Signature, inputs: Arrays) -> int | None:
    """Rows in the request when every input has a variable batch dimension and the declared rank; None if not
    batchable. Shapes are TensorFlow's call (a scalar may feed a ``[?,1]`` input), so a request of another rank
    runs alone rather than failing the batch it would share with others."""
    if not inputs or not all(info.has_variable_batch for info in signature.inputs.values()):
        return None
    if any(inputs[alias].ndim != len(info.shape) for alias, info in signature.inputs.items() if alias in inputs):
        return None
    sizes = {value.shape[0] for value in inputs.values() if value.ndim > 0}
    if len(sizes) != 1 or any(value.ndim == 0 for value in inputs.values()):
        return None
    return sizes.pop()


def merge_inputs(signature: Signature, parts: list[Arrays], options: BatchingOptions) -> tuple[Arrays, int]:
    """Concatenate the tasks' inputs along dim 0 and pad to an allowed batch size."""
    merged = {}
    for alias in signature.inputs:
        tensors = [part[alias] for part in parts]
        if len({tensor.shape[1:] for tensor in tensors}) > 1:
            if not options.pad_variable_length_inputs:
                raise failed_precondition(
                    f"Tensors with name '{alias}' from different tasks have different shapes and padding is turned off. "
                    "Set pad_variable_length_inputs to true, or ensure that all tensors with the same name have equal "
                    "dimensions starting with the first dim."
                )
            tensors = pad_to_common_shape(tensors)
        merged[alias] = np.concatenate(tensors, axis=0)
    rows = next(iter(merged.values())).shape[0]
    target = padded_batch_size(rows, options.allowed_batch_sizes)
    if target > rows:
        merged = {alias: _pad_rows(value, target) for alias, value in merged.items()}
    return merged, rows


def padded_batch_size(rows: int, allowed: tuple[int, ...]) -> int:
    return next((size for size in allowed if size >= rows), rows)


def _pad_rows(value: np.ndarray, target: int) -> np.ndarray:
    filler = np.repeat(value[:1], target - value.shape[0], axis=0)
    return np.concatenate([value, filler], axis=0)


def pad_to_common_shape(tensors: list[np.ndarray]) -> list[np.ndarray]:
    """Zero-pad every non-batch dimension up to the largest size among the tensors."""
    target = np.max([tensor.shape[1:] for tensor in tensors], axis=0)
    padded = []
    for tensor in tensors:
        widths = [(0, 0)] + [(0, int(want - have)) for want, have in zip(target, tensor.shape[1:])]
        fill = b"" if tensor.dtype == object else 0
        padded.append(np.pad(tensor, widths, constant_values=fill))
    return padded


def split_outputs(outputs: Arrays, sizes: list[int], rows: int) -> list[Arrays]:
    """Give each task its rows of every output; outputs without a batch dimension go to all."""
    parts: list[Arrays] = [{} for _ in sizes]
    for alias, value in outputs.items():
        batched = value.ndim > 0 and value.shape[0] >= rows
        start = 0
        for index, size in enumerate(sizes):
            parts[index][alias] = value[start : start + size] if batched else value
            start += size
    return parts
