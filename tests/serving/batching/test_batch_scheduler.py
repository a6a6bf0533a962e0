"""The batch scheduler: merged results equal unbatched ones, limits and TF Serving's errors."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from google.protobuf import text_format

from serving.batching.options import BatchingOptions, options_from_proto, read_batching_options
from serving.batching.scheduler import BatchScheduler, merge_inputs, padded_batch_size
from serving.config.extra_protos import BatchingParameters
from serving.core.signature import Signature, TensorInfo
from serving.errors import ServingError

FLOAT = 1  # DT_FLOAT
SIGNATURE = Signature(
    name="serving_default",
    method_name="tensorflow/serving/predict",
    inputs={"x": TensorInfo("x", FLOAT, (None, 3))},
    outputs={"y": TensorInfo("y", FLOAT, (None,))},
)


class RecordingServable:
    """Stands in for a loaded model: y = row sums; records the batch sizes it was called with."""

    name, version = "recording", 1

    def __init__(self, delay: float = 0.0) -> None:
        self.batch_sizes: list[int] = []
        self.fetched: list[tuple[str, ...] | None] = []
        self.delay = delay
        self.lock = threading.Lock()
        self.deadlines: list[float | None] = []

    def run(self, signature, inputs, outputs=None, deadline=None):
        time.sleep(self.delay)
        with self.lock:
            self.batch_sizes.append(inputs["x"].shape[0])
            self.fetched.append(outputs)
            self.deadlines.append(deadline)
        return {"y": inputs["x"].sum(axis=1)}


def rows(count: int, start: float) -> np.ndarray:
    return np.arange(start, start + 3 * count, dtype=np.float32).reshape(count, 3)


def test_requests_fetching_different_outputs_are_batched_apart():
    servable = RecordingServable(delay=0.05)
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=16, batch_timeout_micros=20_000, num_batch_threads=1))
    fetches = [("y",), None] * 4
    try:
        with ThreadPoolExecutor(len(fetches)) as pool:
            list(pool.map(lambda outputs: scheduler(servable, SIGNATURE, {"x": rows(1, 0.0)}, None, outputs), fetches))
    finally:
        scheduler.stop()
    rows_by_fetch = {fetch: sum(size for size, fetched in zip(servable.batch_sizes, servable.fetched) if fetched == fetch)
                     for fetch in (("y",), None)}
    assert rows_by_fetch == {("y",): 4, None: 4} and len(servable.batch_sizes) < len(fetches)


def test_concurrent_requests_are_merged_and_get_their_own_rows():
    servable = RecordingServable(delay=0.05)
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=16, batch_timeout_micros=20_000, num_batch_threads=1))
    requests = [rows(2, 10.0 * index) for index in range(8)]
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda x: scheduler(servable, SIGNATURE, {"x": x}, None), requests))
    finally:
        scheduler.stop()
    for request, result in zip(requests, results):
        np.testing.assert_array_equal(result["y"], request.sum(axis=1))
    assert max(servable.batch_sizes) > 2, "requests arriving together must share a batch"
    assert max(servable.batch_sizes) <= 16


def test_batches_never_exceed_max_batch_size_and_pad_to_allowed_sizes():
    servable = RecordingServable(delay=0.02)
    options = BatchingOptions(max_batch_size=4, batch_timeout_micros=50_000, num_batch_threads=1, allowed_batch_sizes=(2, 4))
    scheduler = BatchScheduler(options)
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: scheduler(servable, SIGNATURE, {"x": rows(1, i)}, None), range(9)))
    finally:
        scheduler.stop()
    assert all(size in (2, 4) for size in servable.batch_sizes)
    assert [result["y"].shape for result in results] == [(1,)] * 9


def test_timeout_closes_a_partial_batch():
    servable = RecordingServable()
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=64, batch_timeout_micros=100_000, num_batch_threads=1))
    try:
        started = time.monotonic()
        scheduler(servable, SIGNATURE, {"x": rows(1, 0)}, None)
        waited = time.monotonic() - started
    finally:
        scheduler.stop()
    assert 0.09 <= waited < 2.0
    assert servable.batch_sizes == [1]


def test_a_later_arrival_does_not_extend_the_batch_timeout():
    servable = RecordingServable()
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=64, batch_timeout_micros=1_000_000, num_batch_threads=1))
    try:
        with ThreadPoolExecutor(2) as pool:
            started = time.monotonic()
            first = pool.submit(scheduler, servable, SIGNATURE, {"x": rows(1, 0)}, None)
            time.sleep(0.7)
            second = pool.submit(scheduler, servable, SIGNATURE, {"x": rows(1, 3)}, None)
            first.result(timeout=30)
            waited = time.monotonic() - started
            second.result(timeout=30)
    finally:
        scheduler.stop()
    assert 0.99 <= waited < 1.45, "the batch closes when its oldest task has waited the timeout, not a timeout later"
    assert servable.batch_sizes == [2]


def test_oversized_task_and_full_queue_are_rejected():
    servable = RecordingServable(delay=0.3)
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=2, max_enqueued_batches=1, num_batch_threads=1))
    try:
        with pytest.raises(ServingError) as error:
            scheduler(servable, SIGNATURE, {"x": rows(3, 0)}, None)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.value.message == "Task size 3 is larger than maximum input batch size 2"
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(scheduler, servable, SIGNATURE, {"x": rows(2, 0)}, None) for _ in range(6)]
            outcomes = [future.exception() for future in futures]
    finally:
        scheduler.stop()
    rejected = [outcome for outcome in outcomes if outcome is not None]
    assert rejected, "a full queue must answer UNAVAILABLE instead of growing"
    assert all(outcome.code == grpc.StatusCode.UNAVAILABLE for outcome in rejected)
    assert "batch scheduling queue to which this task was submitted is full" in rejected[0].message


def test_deadline_expires_in_the_queue():
    servable = RecordingServable(delay=0.5)
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=1, num_batch_threads=1))
    try:
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(scheduler, servable, SIGNATURE, {"x": rows(1, 0)}, None)
            time.sleep(0.05)
            with pytest.raises(ServingError) as error:
                scheduler(servable, SIGNATURE, {"x": rows(1, 0)}, time.monotonic() + 0.1)
            slow.result()
    finally:
        scheduler.stop()
    assert error.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_a_batch_runs_until_the_last_of_its_requests_gives_up():
    servable = RecordingServable(delay=0.0)
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=3, batch_timeout_micros=1_000_000, num_batch_threads=1))
    soon, later = time.monotonic() + 30, time.monotonic() + 60
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda deadline: scheduler(servable, SIGNATURE, {"x": rows(1, 0)}, deadline), [soon, later, later]))
            list(pool.map(lambda deadline: scheduler(servable, SIGNATURE, {"x": rows(1, 0)}, deadline), [soon, None, later]))
    finally:
        scheduler.stop()
    assert servable.deadlines == [later, None]


def test_different_shapes_need_padding():
    signature = Signature("s", "", {"x": TensorInfo("x", FLOAT, (None, None))}, {"y": TensorInfo("y", FLOAT, (None,))})
    parts = [{"x": np.ones((1, 2), np.float32)}, {"x": np.ones((1, 3), np.float32)}]
    with pytest.raises(ServingError) as error:
        merge_inputs(signature, parts, BatchingOptions())
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    merged, count = merge_inputs(signature, parts, BatchingOptions(pad_variable_length_inputs=True))
    np.testing.assert_array_equal(merged["x"], [[1, 1, 0], [1, 1, 1]])
    assert count == 2


def test_options_follow_tf_serving_defaults_and_validation(tmp_path):
    options = options_from_proto(BatchingParameters())
    assert (options.max_batch_size, options.batch_timeout_micros, options.max_enqueued_batches) == (1000, 0, 10)
    path = tmp_path / "batching.config"
    path.write_text("max_batch_size { value: 8 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 6\n")
    with pytest.raises(ServingError) as error:
        read_batching_options(str(path))
    assert "Last entry in allowed_batch_sizes must match max_batch_size" in error.value.message
    path.write_text("max_batch_size { value: 8 }\nnot_a_field: 3\n")
    with pytest.raises(ServingError) as error:
        read_batching_options(str(path))
    assert "not_a_field" in error.value.message
    parsed = text_format.Parse("max_batch_size { value: 8 } allowed_batch_sizes: 8", BatchingParameters())
    assert options_from_proto(parsed).allowed_batch_sizes == (8,)
    assert padded_batch_size(3, (2, 4, 8)) == 4 and padded_batch_size(5, ()) == 5


class NamedServable(RecordingServable):
    """A RecordingServable with its own name, logging which servable each batch ran on."""

    def __init__(self, name: str, log: list[str], delay: float = 0.0) -> None:
        super().__init__(delay)
        self.name, self.log = name, log

    def run(self, signature, inputs, outputs=None, deadline=None):
        self.log.append(self.name)
        return super().run(signature, inputs, outputs, deadline)


def test_busy_queues_take_turns():
    log: list[str] = []
    first, second = NamedServable("first", log, delay=0.01), NamedServable("second", log, delay=0.01)
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=2, batch_timeout_micros=0, num_batch_threads=1))
    blocker = NamedServable("first", log, delay=0.3)
    try:
        with ThreadPoolExecutor(12) as pool:
            pool.submit(scheduler, blocker, SIGNATURE, {"x": rows(2, 0.0)}, None)
            time.sleep(0.1)
            calls = [pool.submit(scheduler, servable, SIGNATURE, {"x": rows(2, 0.0)}, None)
                     for servable in (first, second) for _ in range(5)]
            for call in calls:
                call.result(timeout=30)
    finally:
        scheduler.stop()
    after_blocker = log[1:]
    assert sorted(after_blocker) == ["first"] * 5 + ["second"] * 5
    assert all(one != two for one, two in zip(after_blocker[:6], after_blocker[1:7])), after_blocker
