"""Characters as ids, the contiguous train/validation split and the windows of truncated BPTT (tf.data).

The vocabulary is the corpus's characters (Unicode code points, as `tf.strings.unicode_split` yields them)
in code-point order, after one unknown slot: id 0 is any character the corpus does not hold, ids 1..K
are `charset[0..K-1]`. The export maps strings with a StringLookup built on the same charset, so
training ids and served ids agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from trainer.errors import TrainerError

UNKNOWN_ID = 0


@dataclass(frozen=True)
class Vocabulary:
    """The charset in id order (id = position + 1; id 0 is the unknown slot)."""

    charset: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of ids, the unknown slot included: the width of the embedding and of the logits."""
        return len(self.charset) + 1

    def encode(self, text: str) -> np.ndarray:
        """int32 ids of text's characters; characters outside the charset become UNKNOWN_ID."""
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        known = np.frombuffer("".join(self.charset).encode("utf-32-le"), dtype=np.uint32)
        positions = np.minimum(np.searchsorted(known, points), len(known) - 1)
        return np.where(known[positions] == points, positions + 1, UNKNOWN_ID).astype(np.int32)


def build_vocabulary(text: str) -> Vocabulary:
    """Every distinct character of text, in code-point order."""
    return Vocabulary(charset=tuple(sorted(set(text))))


def split_contiguous(ids: np.ndarray, validation_fraction: float, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation): the head and the tail of the corpus, so no window straddles both.

    Each part must hold at least one window of seq_length + 1 characters (inputs and shifted targets).
    """
    validation_size = max(seq_length + 1, round(len(ids) * validation_fraction))
    if len(ids) - validation_size < seq_length + 1:
        raise TrainerError(
            f"the corpus has {len(ids)} characters: too few for one training and one validation window of "
            f"{seq_length + 1} (lower --seq-length or give more text)"
        )
    return ids[:-validation_size], ids[-validation_size:]


def window_count(length: int, seq_length: int, stride: int) -> int:
    """How many windows of seq_length + 1 characters start every stride characters in length characters."""
    return (length - seq_length - 1) // stride + 1


def windows(
    ids: np.ndarray, seq_length: int, stride: int, batch_size: int, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """Batches of (inputs [B, seq_length], targets [B, seq_length]): windows of the text, targets shifted by one.

    Only the start offsets are shuffled (reshuffled every epoch when shuffle_seed is given); the windows
    are sliced from one constant tensor, so memory stays that of the text whatever the stride.
    """
    text = tf.constant(ids, dtype=tf.int32)
    starts = tf.data.Dataset.range(0, window_count(len(ids), seq_length, stride) * stride, stride)
    if shuffle_seed is not None:
        starts = starts.shuffle(window_count(len(ids), seq_length, stride), seed=shuffle_seed,
                                reshuffle_each_iteration=True)
    batches = starts.batch(batch_size)
    offsets = tf.range(seq_length + 1, dtype=tf.int64)

    def slice_windows(batch_starts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        chunk = tf.gather(text, batch_starts[:, None] + offsets[None, :])
        return chunk[:, :-1], chunk[:, 1:]

    return batches.map(slice_windows, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
