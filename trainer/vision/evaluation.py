"""Classification metrics from predicted probabilities: accuracy, loss, per-class accuracy, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_EPSILON = 1e-7


@dataclass(frozen=True)
class ClassificationReport:
    """Test-set figures; confusion[true, predicted] counts examples."""

    accuracy: float
    loss: float
    confusion: np.ndarray
    class_names: tuple[str, ...]

    @property
    def per_class_accuracy(self) -> dict[str, float | None]:
        """Recall of each class (None for a class absent from the test set)."""
        totals = self.confusion.sum(axis=1)
        hits = np.diag(self.confusion)
        return {
            name: (float(hit / total) if total else None)
            for name, hit, total in zip(self.class_names, hits, totals, strict=True)
        }

    def as_metrics(self) -> dict[str, Any]:
        """The report as JSON-ready metrics for model.json."""
        return {
            "test_accuracy": self.accuracy,
            "test_loss": self.loss,
            "test_examples": int(self.confusion.sum()),
            "per_class_accuracy": self.per_class_accuracy,
        }

    def summary(self) -> str:
        """A printable table of per-class accuracy and the overall figures."""
        width = max(len(name) for name in self.class_names)
        lines = [
            f"  {name:<{width}}  {'-' if value is None else f'{value:.4f}'}"
            for name, value in self.per_class_accuracy.items()
        ]
        header = f"test accuracy {self.accuracy:.4f}, test loss {self.loss:.4f} ({int(self.confusion.sum())} images)"
        return "\n".join([header, "per-class accuracy:", *lines])


def classification_report(
    probabilities: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> ClassificationReport:
    """Accuracy, mean cross-entropy and the confusion matrix of probabilities [N, K] against labels [N]."""
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((len(class_names), len(class_names)), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_probabilities = probabilities[np.arange(len(labels)), labels]
    return ClassificationReport(
        accuracy=float(np.mean(predicted == labels)),
        loss=float(-np.mean(np.log(true_probabilities + _EPSILON))),
        confusion=confusion,
        class_names=tuple(class_names),
    )
