"""After every epoch: the validation bits per character and a sample at each temperature, printed.

The samples come from the same graph code as the export's `serving_default`, so they show what the
server would answer with this epoch's weights. Bits per character reach TensorBoard as the `bpc` metric
(`epoch_bpc` under train/ and validation/), logged by the project's TensorBoard callback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from trainer.sequence.charlstm_graph import CharLSTMGraph


class EpochSamples(keras.callbacks.Callback):
    """Prints `val_bpc` and `length` characters after `prompt` at each temperature, with a fixed seed."""

    def __init__(
        self, graph: CharLSTMGraph, prompt: str, temperatures: Sequence[float], length: int, seed: int
    ) -> None:
        super().__init__()
        self.prompt, self.temperatures, self.length, self.seed = prompt, tuple(temperatures), length, seed
        specs = [
            tf.TensorSpec([None], tf.string),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([None], tf.int64),
        ]
        self._generate = tf.function(graph.generate, input_signature=specs, autograph=False)

    def samples(self) -> list[str]:
        """One continuation of the prompt per temperature, in one batched call."""
        count = len(self.temperatures)
        texts = self._generate(
            tf.constant([self.prompt] * count),
            tf.fill([count], self.length),
            tf.constant(self.temperatures, tf.float32),
            tf.fill([count], tf.constant(self.seed, tf.int64)),
        )
        return [text.decode("utf-8") for text in texts.numpy()]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Print this epoch's validation bits per character and the samples."""
        bpc = (logs or {}).get("val_bpc")
        print()  # the progress bar's line is still open
        if bpc is not None:
            print(f"epoch {epoch + 1}: validation {bpc:.4f} bits per character")
        for temperature, text in zip(self.temperatures, self.samples()):
            print(f"--- temperature {temperature}: {self.prompt!r} +\n{text}")
