"""Demonstration shards: exact round trips, resumable recording, and clear errors for broken or foreign data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainer.errors import TrainerError
from trainer.rl.carracing_config import RecordConfig
from trainer.rl.carracing_record import record_demonstrations
from trainer.rl.carracing_shards import (
    MANIFEST,
    Episode,
    EpisodeRecord,
    load_episodes,
    read_manifest,
    recorded_returns,
    write_episode,
)

RECORD_STEPS = 25


def random_episode(seed: int, steps: int = 12, driver: str = "expert") -> Episode:
    rng = np.random.default_rng(seed)
    episode = f"{driver}-{seed:06d}"
    record = EpisodeRecord(episode, f"episodes/{episode}.npz", seed, driver, steps, 12.5, False)
    return Episode(record, rng.integers(0, 256, (steps, 96, 96, 3), dtype=np.uint8), rng.integers(0, 5, steps))


def test_written_episodes_load_back_exactly(tmp_path):
    episodes = [random_episode(seed) for seed in (4, 7)]
    for episode in episodes:
        write_episode(tmp_path, episode)
    loaded = load_episodes(tmp_path)
    assert [e.record for e in loaded] == [e.record for e in episodes]
    for original, copy in zip(episodes, loaded, strict=True):
        np.testing.assert_array_equal(copy.frames, original.frames)
        np.testing.assert_array_equal(copy.actions, original.actions)
        assert copy.actions.dtype == np.int64
    assert recorded_returns(tmp_path) == {e.record.id: e.record.total_return for e in episodes}
    assert not [path for path in tmp_path.rglob(".*")], "temp files left behind"


def test_recording_writes_the_expert_and_resumes(tmp_path, capsys):
    out = tmp_path / "demos"
    config = RecordConfig(out=out, seeds="1-2", max_episode_steps=RECORD_STEPS)
    first = record_demonstrations(config, ["record"])
    assert [record.seed for record in first] == [1, 2]
    assert all(record.steps == RECORD_STEPS and record.driver == "expert" for record in first)
    before = (out / first[0].shard).stat().st_mtime_ns
    assert record_demonstrations(config, ["record"]) == []
    assert "2 episodes already recorded" in capsys.readouterr().out
    assert (out / first[0].shard).stat().st_mtime_ns == before
    manifest = read_manifest(out)
    assert [entry["seed"] for entry in manifest["episodes"]] == [1, 2]
    assert manifest["env_kwargs"] == {"continuous": False} and manifest["frame_shape"] == [96, 96, 3]


def _write_two(tmp_path):
    for seed in (1, 2):
        write_episode(tmp_path, random_episode(seed))
    return tmp_path / "episodes" / "expert-000002.npz"


def test_a_missing_shard_is_named(tmp_path):
    _write_two(tmp_path).unlink()
    with pytest.raises(TrainerError, match="missing shard .*expert-000002.npz"):
        load_episodes(tmp_path)


def test_a_truncated_shard_is_named(tmp_path):
    shard = _write_two(tmp_path)
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(TrainerError, match="truncated or corrupt shard .*expert-000002.npz"):
        load_episodes(tmp_path)


def test_demonstrations_of_another_env_are_refused(tmp_path):
    _write_two(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["env_id"] = "CarRacing-v2"
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(TrainerError, match="env_id 'CarRacing-v2'"):
        load_episodes(tmp_path)


def test_frames_of_another_size_are_refused(tmp_path):
    shard = _write_two(tmp_path)
    np.savez_compressed(shard, frames=np.zeros((12, 64, 64, 3), np.uint8), actions=np.zeros(12, np.int64),
                        env_id=np.array("CarRacing-v3"))
    with pytest.raises(TrainerError, match=r"expected uint8 \[96, 96, 3\]"):
        load_episodes(tmp_path)


def test_a_folder_without_manifest_is_refused(tmp_path):
    with pytest.raises(TrainerError, match="no manifest.json"):
        load_episodes(tmp_path)


def test_human_driving_without_a_display_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(TrainerError, match="needs a display"):
        record_demonstrations(RecordConfig(out=tmp_path / "demos", driver="human", seeds="0"))
    assert not (tmp_path / "demos").exists()
