"""Pipelined streaming: a bounded window of requests in flight, answers handed back in frame order.

While frame t is being answered, frame t+1 is prepared on the caller's thread and sent from a worker
thread, so the network round trip and the server's work overlap with reading and preparing frames. At
most ``max_in_flight`` requests are outstanding (sent and not yet handed back). When the window is full
the stream either waits for the oldest answer or, with ``drop_late``, drops the new frame: a dropped
frame is handed back in its place, marked, and counted, so no frame disappears silently.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

Outputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class Delivered:
    """One frame of the source, in order: its answer and round-trip time, or ``outputs=None`` if it was dropped."""

    index: int
    frame: np.ndarray
    outputs: Outputs | None
    latency_ms: float | None
    delivered_at: float

    @property
    def dropped(self) -> bool:
        return self.outputs is None


@dataclass
class _Pending:
    index: int
    frame: np.ndarray
    answer: Future | None  # None: dropped


class Pipeline:
    """Streams frames through ``predict`` with up to ``max_in_flight`` calls outstanding, in order."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], Outputs],
        prepare: Callable[[np.ndarray], np.ndarray],
        max_in_flight: int,
        drop_late: bool = False,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1; got {max_in_flight}")
        self.predict = predict
        self.prepare = prepare
        self.max_in_flight = max_in_flight
        self.drop_late = drop_late

    def run(self, frames: Iterable[np.ndarray]) -> Iterator[Delivered]:
        """Each frame of ``frames`` handed back once, in order, answered or dropped."""
        window: deque[_Pending] = deque()
        with ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="stream") as pool:
            for index, frame in enumerate(frames):
                yield from self._ready(window)
                if _in_flight(window) >= self.max_in_flight:
                    if self.drop_late:
                        window.append(_Pending(index, frame, None))
                        continue
                    yield from self._until_room(window)
                window.append(_Pending(index, frame, pool.submit(self._timed_call, self.prepare(frame))))
            while window:
                yield _deliver(window.popleft())

    def _ready(self, window: deque[_Pending]) -> Iterator[Delivered]:
        """Hand back the answered (or dropped) frames at the head of the window, without waiting."""
        while window and (window[0].answer is None or window[0].answer.done()):
            yield _deliver(window.popleft())

    def _until_room(self, window: deque[_Pending]) -> Iterator[Delivered]:
        """Wait for the oldest answers until a request can be sent."""
        while _in_flight(window) >= self.max_in_flight:
            yield _deliver(window.popleft())

    def _timed_call(self, inputs: np.ndarray) -> tuple[Outputs, float]:
        started = time.perf_counter()
        outputs = self.predict(inputs)
        return outputs, (time.perf_counter() - started) * 1000


def _in_flight(window: deque[_Pending]) -> int:
    return sum(pending.answer is not None for pending in window)


def _deliver(pending: _Pending) -> Delivered:
    """The frame with its answer; a failed call raises its error here, stopping the stream."""
    if pending.answer is None:
        return Delivered(pending.index, pending.frame, None, None, time.perf_counter())
    outputs, latency_ms = pending.answer.result()
    return Delivered(pending.index, pending.frame, outputs, latency_ms, time.perf_counter())


@dataclass
class StreamStats:
    """Counts and client-side timing of a stream; the first ``warmup`` answers are left out of the timing."""

    warmup: int
    sent: int = 0
    answered: int = 0
    dropped: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    started_at: float = field(default_factory=time.perf_counter)
    timed_from: float | None = None
    last_answer_at: float | None = None

    def add(self, delivered: Delivered) -> None:
        """Count one handed-back frame; answers after the warm-up give the latency and frames/s figures."""
        if delivered.dropped:
            self.dropped += 1
            return
        self.sent += 1
        self.answered += 1
        if self.answered <= self.warmup:
            self.timed_from = delivered.delivered_at
            return
        self.timed_from = self.timed_from or self.started_at
        self.latencies_ms.append(delivered.latency_ms)
        self.last_answer_at = delivered.delivered_at

    @property
    def frames_per_second(self) -> float:
        """Answered frames per second after the warm-up (0 when none were timed)."""
        if not self.latencies_ms or self.last_answer_at is None or self.timed_from is None:
            return 0.0
        return len(self.latencies_ms) / max(self.last_answer_at - self.timed_from, 1e-9)

    def summary(self) -> str:
        """What a user reads: counts, frames/s and latency percentiles, with the warm-up stated."""
        counts = f"frames sent {self.sent}, answered {self.answered}, dropped {self.dropped} (late)"
        if not self.latencies_ms:
            return f"{counts}; no frames after the {self.warmup} warm-up frames to time"
        p50, p90, p99 = np.percentile(self.latencies_ms, [50, 90, 99])
        return (
            f"{counts}; {self.frames_per_second:.1f} frames/s; client-side latency p50 {p50:.2f} ms, "
            f"p90 {p90:.2f} ms, p99 {p99:.2f} ms over {len(self.latencies_ms)} frames "
            f"(first {self.warmup} answered frames excluded as warm-up)"
        )
