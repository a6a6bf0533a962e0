"""Demonstrations as training data: split by whole episodes, frame stacks, class balancing."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import TrainerError
from trainer.rl.carracing_data import balance, frame_set, split_episodes
from trainer.rl.carracing_shards import Episode, EpisodeRecord


def make_episode(index: int, steps: int, actions: np.ndarray | None = None) -> Episode:
    """An episode whose frame t is filled with the value 10 * index + t (so stacks can be traced)."""
    frames = (10 * index + np.arange(steps, dtype=np.uint8))[:, None, None, None] * np.ones((1, 96, 96, 3), np.uint8)
    labels = np.arange(steps) % 5 if actions is None else actions
    record = EpisodeRecord(f"expert-{index:06d}", f"episodes/expert-{index:06d}.npz", index, "expert", steps, 1.0, False)
    return Episode(record, frames, labels.astype(np.int64))


def test_split_keeps_whole_episodes_and_is_stable_as_data_grows():
    episodes = [make_episode(index, 3) for index in range(10)]
    train, validation = split_episodes(episodes, 0.3, seed=1)
    assert validation and train
    assert {e.record.id for e in train}.isdisjoint({e.record.id for e in validation})
    grown_train, grown_validation = split_episodes([*episodes, make_episode(10, 3), make_episode(11, 3)], 0.3, seed=1)
    assert {e.record.id for e in validation} <= {e.record.id for e in grown_validation}
    assert {e.record.id for e in train} <= {e.record.id for e in grown_train}


def test_split_needs_two_episodes():
    with pytest.raises(TrainerError, match="at least 2"):
        split_episodes([make_episode(0, 5)], 0.2, seed=1)
    train, validation = split_episodes([make_episode(0, 5), make_episode(1, 5)], 0.01, seed=1)
    assert len(train) == len(validation) == 1


def test_frame_stacks_are_oldest_first_and_repeat_the_first_frame():
    data = frame_set([make_episode(0, 4), make_episode(1, 3)], frame_stack=3)
    assert data.stack_index[0].tolist() == [0, 0, 0]
    assert data.stack_index[3].tolist() == [1, 2, 3]
    assert data.stack_index[4].tolist() == [4, 4, 4]  # the second episode starts fresh
    stacked = data.stacked(np.array([3, 5]))
    assert stacked.shape == (2, 96, 96, 9) and stacked.dtype == np.uint8
    assert stacked[0, 0, 0].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert stacked[1, 0, 0].tolist() == [10, 10, 10, 10, 10, 10, 11, 11, 11]


GAS_HEAVY = np.array([3] * 60 + [1] * 20 + [2] * 15 + [4] * 3)


def test_weights_give_every_kept_action_the_same_total_weight():
    balanced = balance(GAS_HEAVY, "weights", min_action_frames=5, seed=0)
    assert 4 not in GAS_HEAVY[balanced.samples]  # brake has 3 frames < 5: dropped
    totals = [balanced.weights[GAS_HEAVY[balanced.samples] == action].sum() for action in (1, 2, 3)]
    np.testing.assert_allclose(totals, [totals[0]] * 3, rtol=1e-5)
    assert balanced.weights.mean() == pytest.approx(1.0)


def test_downsample_keeps_as_many_frames_of_each_action_as_the_rarest_has():
    balanced = balance(GAS_HEAVY, "downsample", min_action_frames=5, seed=0)
    assert balanced.counts_after.tolist() == [0, 15, 15, 15, 0]
    assert len(set(balanced.samples.tolist())) == 45
    assert balanced.summary()["before"]["gas"] == 60


def test_no_balancing_keeps_every_frame_of_the_kept_actions():
    balanced = balance(GAS_HEAVY, "none", min_action_frames=1, seed=0)
    assert len(balanced.samples) == len(GAS_HEAVY) and set(balanced.weights.tolist()) == {1.0}


def test_an_empty_dataset_after_balancing_is_refused():
    with pytest.raises(TrainerError, match="empty after balancing"):
        balance(GAS_HEAVY, "weights", min_action_frames=100, seed=0)
