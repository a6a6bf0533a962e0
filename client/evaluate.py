"""Classify a labelled folder of images through the server and measure accuracy, latency and throughput.

The folder is what ``python -m trainer vision samples`` writes: image files and a ``labels.csv`` with
the columns ``file,label_id`` (more columns are ignored). Images are sent in batches of ``batch_size``;
each call's round-trip time is measured on the client, so the figures include the network, the encoding
of the transport and the server's own work, which is what a user of the endpoint sees.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from client.client import ServingClient
from client.errors import InputError
from client.images import image_input, load_images
from client.scores import probability_output

LABELS_CSV = "labels.csv"
REQUIRED_COLUMNS = ("file", "label_id")


@dataclass(frozen=True)
class LabelledImage:
    """One image file of the folder and its class id."""

    path: Path
    label_id: int


@dataclass(frozen=True)
class Evaluation:
    """The outcome of classifying a folder: accuracy and the per-call latencies (milliseconds)."""

    images: int
    correct: int
    batch_latencies_ms: list[float]
    wall_seconds: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.images

    def latency_percentile(self, percent: float) -> float:
        return float(np.percentile(self.batch_latencies_ms, percent))

    @property
    def images_per_second(self) -> float:
        return self.images / self.wall_seconds

    def summary(self, transport: str) -> str:
        """One line a person reads: accuracy, latency per call, throughput."""
        return (
            f"{transport}: {self.images} images, accuracy {self.accuracy:.4f}, "
            f"latency per call p50 {self.latency_percentile(50):.2f} ms p99 {self.latency_percentile(99):.2f} ms, "
            f"{self.images_per_second:.0f} images/s"
        )


def read_labelled_folder(folder: Path, limit: int | None = None) -> list[LabelledImage]:
    """The rows of ``folder/labels.csv`` (at most ``limit``), checked to name existing files and integer labels."""
    labels_path = folder / LABELS_CSV
    if not labels_path.is_file():
        raise InputError(f"{folder} has no {LABELS_CSV} (columns file,label_id); write one with 'trainer vision samples'")
    with labels_path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{labels_path} lacks the columns {missing}; it has {reader.fieldnames}")
        rows = [_labelled_image(folder, row, line) for line, row in enumerate(reader, start=2)]
    if not rows:
        raise InputError(f"{labels_path} lists no images")
    return rows[:limit] if limit else rows


def _labelled_image(folder: Path, row: dict[str, str], line: int) -> LabelledImage:
    path = folder / row["file"]
    if not path.is_file():
        raise InputError(f"{LABELS_CSV} line {line}: {path} does not exist")
    try:
        return LabelledImage(path, int(row["label_id"]))
    except ValueError:
        raise InputError(f"{LABELS_CSV} line {line}: label_id {row['label_id']!r} is not an integer") from None


def evaluate_folder(
    client: ServingClient,
    model: str,
    images: list[LabelledImage],
    batch_size: int,
    signature: str | None = None,
) -> Evaluation:
    """Classify ``images`` in batches through ``client``; the top class of the probability output is the prediction."""
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1; got {batch_size}")
    spec = client.signature(model, signature)
    image_spec = image_input(signature or "serving_default", spec)
    correct, latencies = 0, []
    started = time.perf_counter()
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        pixels = load_images([str(image.path) for image in batch], image_spec)
        call_started = time.perf_counter()
        outputs = client.predict(model, {image_spec.name: pixels}, signature)
        latencies.append((time.perf_counter() - call_started) * 1000)
        scores = probability_output(spec, outputs)
        if scores is None:
            raise InputError(f"the signature of {model!r} has no class-probability output among {sorted(outputs)}")
        predicted = outputs[scores].argmax(axis=1)
        correct += int(np.sum(predicted == np.array([image.label_id for image in batch])))
    return Evaluation(len(images), correct, latencies, time.perf_counter() - started)
