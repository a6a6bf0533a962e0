"""Prometheus metrics under TensorFlow Serving's names, rendered in the text exposition format."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
LOAD_ATTEMPT_COUNT = ":tensorflow:cc:saved_model:load_attempt_count"
LATENCY_BUCKETS_MICROS = tuple(10 * 1.8**power for power in range(33))
DEFAULT_PATH = "/monitoring/prometheus/metrics"

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """Counters and a latency histogram; cheap to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, int]] = defaultdict(lambda: defaultdict(int))
        self._histograms: dict[Labels, list] = {}

    def record_request(self, model_name: str, api: str, entrypoint: str, status: str, latency_micros: float) -> None:
        """Count a request; its latency is recorded only when it succeeded, as TF Serving does."""
        with self._lock:
            self._counters[REQUEST_COUNT][(("model_name", model_name), ("status", status))] += 1
            if status == "OK":
                labels = (("model_name", model_name), ("API", api), ("entrypoint", entrypoint))
                self._observe(labels, latency_micros)

    def record_load(self, model_path: str, status: str) -> None:
        with self._lock:
            self._counters[LOAD_ATTEMPT_COUNT][(("model_path", model_path), ("status", status))] += 1

    def _observe(self, labels: Labels, value: float) -> None:
        counts, total = self._histograms.get(labels, ([0] * (len(LATENCY_BUCKETS_MICROS) + 1), 0.0))
        counts[bisect.bisect_left(LATENCY_BUCKETS_MICROS, value)] += 1
        self._histograms[labels] = [counts, total + value]

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        with self._lock:
            lines: list[str] = []
            for name, series in sorted(self._counters.items()):
                lines.append(f"# TYPE {name} counter")
                lines.extend(f"{name}{_labels(labels)} {value}" for labels, value in sorted(series.items()))
            if self._histograms:
                lines.append(f"# TYPE {REQUEST_LATENCY} histogram")
                for labels, (counts, total) in sorted(self._histograms.items()):
                    lines.extend(_histogram_lines(labels, counts, total))
        return "\n".join(lines) + "\n"


def _histogram_lines(labels: Labels, counts: list[int], total: float) -> list[str]:
    lines, cumulative = [], 0
    bounds = [f"{bound:g}" for bound in LATENCY_BUCKETS_MICROS] + ["+Inf"]
    for bound, count in zip(bounds, counts):
        cumulative += count
        lines.append(f"{REQUEST_LATENCY}_bucket{_labels(labels + (('le', bound),))} {cumulative}")
    lines.append(f"{REQUEST_LATENCY}_sum{_labels(labels)} {total:g}")
    lines.append(f"{REQUEST_LATENCY}_count{_labels(labels)} {cumulative}")
    return lines


def _labels(labels: Labels) -> str:
    escaped = (f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for key, value in labels)
    return "{" + ",".join(escaped) + "}"
