"""Demonstrations as training data: split by episode, frame stacks, class balancing, tf.data pipelines.

Frames are kept once, as recorded ([N, 96, 96, 3] uint8); a frame stack is an index row into them (oldest
first, the episode's first frame repeated before its start, as gymnasium's FrameStackObservation pads with
the reset frame), gathered per batch. Validation episodes are whole episodes, so no validation frame has a
near-duplicate neighbour in training. Balancing acts on the training split only: the gas action dominates
(about two frames in three for the expert), and a clone trained on raw frequencies learns to press gas.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from trainer.errors import TrainerError
from trainer.rl.carracing_config import ACTION_MEANINGS, FRAME_SHAPE
from trainer.rl.carracing_shards import Episode

ACTIONS = len(ACTION_MEANINGS)


@dataclass(frozen=True)
class FrameSet:
    """The frames and labels of some episodes, and the stack of frame indices behind each sample."""

    frames: np.ndarray
    labels: np.ndarray
    stack_index: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def stacked(self, samples: np.ndarray) -> np.ndarray:
        """The network inputs of samples: uint8 [n, 96, 96, 3 * stack], frames concatenated oldest first."""
        gathered = self.frames[self.stack_index[samples]]  # [n, stack, H, W, 3]
        count, stack, height, width, channels = gathered.shape
        return gathered.transpose(0, 2, 3, 1, 4).reshape(count, height, width, stack * channels)


@dataclass(frozen=True)
class Balanced:
    """The training samples kept by balancing, their sample weights, and the action counts before and after."""

    samples: np.ndarray
    weights: np.ndarray
    counts_before: np.ndarray
    counts_after: np.ndarray

    def summary(self) -> dict[str, dict[str, int]]:
        """Frames per action before and after balancing, by action name (for model.json and the log)."""
        return {
            "before": dict(zip(ACTION_MEANINGS, map(int, self.counts_before), strict=True)),
            "after": dict(zip(ACTION_MEANINGS, map(int, self.counts_after), strict=True)),
        }


def _split_key(seed: int, episode: Episode) -> float:
    """A stable pseudo-random number in [0, 1) per (seed, episode id): an episode keeps its side as data grows."""
    return zlib.crc32(f"{seed}:{episode.record.id}".encode()) / 2**32


def split_episodes(
    episodes: Sequence[Episode], validation_fraction: float, seed: int
) -> tuple[list[Episode], list[Episode]]:
    """(training, validation) whole episodes, at least one on each side.

    Each episode's side depends only on its id and the seed, so DAgger's new episodes never move an old
    validation episode into training.
    """
    if len(episodes) < 2:
        raise TrainerError(f"{len(episodes)} recorded episode(s); a split by episode needs at least 2")
    keys = np.array([_split_key(seed, episode) for episode in episodes])
    held_out = keys < validation_fraction
    if held_out.all() or not held_out.any():
        held_out = keys == (keys.max() if held_out.all() else keys.min())
    return ([e for e, out in zip(episodes, held_out, strict=True) if not out],
            [e for e, out in zip(episodes, held_out, strict=True) if out])


def frame_set(episodes: Sequence[Episode], frame_stack: int) -> FrameSet:
    """Concatenate episodes' frames and labels; stack_index[i] lists the frames of sample i, oldest first."""
    frames = np.concatenate([episode.frames for episode in episodes]).reshape(-1, *FRAME_SHAPE)
    labels = np.concatenate([episode.actions for episode in episodes]).astype(np.int64)
    starts = np.repeat(np.cumsum([0] + [len(e.frames) for e in episodes[:-1]]), [len(e.frames) for e in episodes])
    offsets = np.arange(-frame_stack + 1, 1)
    stack_index = np.maximum(np.arange(len(labels))[:, None] + offsets, starts[:, None])
    return FrameSet(frames, labels, stack_index)


def balance(labels: np.ndarray, mode: str, min_action_frames: int, seed: int) -> Balanced:
    """Drop actions with fewer than min_action_frames frames, then balance the rest by mode.

    weights: every kept frame stays, weighted total / (actions * count of its action), so each action
    carries the same total weight; downsample: every kept action keeps as many random frames as the rarest
    kept action has; none: kept frames as they are. TrainerError if no frame is left.
    """
    counts = np.bincount(labels, minlength=ACTIONS)
    kept = counts >= min_action_frames
    if not kept.any():
        raise TrainerError(
            f"the dataset is empty after balancing: no action has --min-action-frames {min_action_frames} training "
            f"frames (counts {dict(zip(ACTION_MEANINGS, counts.tolist(), strict=True))}); record more episodes"
        )
    samples = np.flatnonzero(kept[labels])
    weights = np.ones(len(samples), np.float32)
    if mode == "weights":
        weights = (len(samples) / (kept.sum() * counts[labels[samples]])).astype(np.float32)
    elif mode == "downsample":
        rng, rarest = np.random.default_rng(seed), counts[kept].min()
        by_action = [rng.choice(np.flatnonzero(labels == a), rarest, replace=False) for a in np.flatnonzero(kept)]
        samples = np.sort(np.concatenate(by_action))
        weights = np.ones(len(samples), np.float32)
    return Balanced(samples, weights, counts, np.bincount(labels[samples], minlength=ACTIONS))


def _with_frames(dataset: tf.data.Dataset, data: FrameSet, frame_stack: int) -> tf.data.Dataset:
    """Replace each batch of sample indices by its uint8 frame stacks (gathered in NumPy, frames kept once)."""
    shape = [None, *FRAME_SHAPE[:2], FRAME_SHAPE[2] * frame_stack]

    def gather(samples: tf.Tensor, *rest: tf.Tensor) -> tuple[tf.Tensor, ...]:
        frames = tf.numpy_function(data.stacked, [samples], tf.uint8, stateful=False)
        frames.set_shape(shape)
        return (frames, *rest)

    return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def training_dataset(
    data: FrameSet, balanced: Balanced, frame_stack: int, batch_size: int, seed: int
) -> tf.data.Dataset:
    """(frames, labels, sample weights) batches of the balanced samples, reshuffled every epoch."""
    samples = balanced.samples
    dataset = tf.data.Dataset.from_tensor_slices((samples, data.labels[samples], balanced.weights))
    dataset = dataset.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return _with_frames(dataset, data, frame_stack)


def validation_dataset(data: FrameSet, frame_stack: int, batch_size: int) -> tf.data.Dataset:
    """(frames, labels) batches of every validation frame, in order, unbalanced (the true action mix)."""
    samples = np.arange(len(data))
    dataset = tf.data.Dataset.from_tensor_slices((samples, data.labels)).batch(batch_size)
    return _with_frames(dataset, data, frame_stack)
