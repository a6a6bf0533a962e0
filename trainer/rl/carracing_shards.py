"""Demonstration shards: one compressed `.npz` per episode plus a `manifest.json`, written atomically.

Layout of a demonstrations folder:
    manifest.json           env id and kwargs, frame shape, action meanings, and one entry per episode
                            (id, shard file, seed, driver, steps, return, lap finished)
    episodes/<id>.npz       frames uint8 [T, 96, 96, 3] (the observation each decision was made on),
                            actions int64 [T] (the label: what the driver, or for DAgger the expert, chose),
                            and the episode's env id, seed, driver and return
Episode ids (`expert-000007`, `dagger2-020003`) make recording resumable: an id already in the manifest with
its shard on disk is skipped. Every file is written to a hidden temp name and renamed, so an interrupted
write never leaves a half shard under a real name, and the manifest only lists finished shards.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainer.errors import TrainerError
from trainer.rl.carracing_config import ACTION_MEANINGS, ENV_ID, ENV_KWARGS, FRAME_SHAPE

MANIFEST = "manifest.json"
EPISODES_DIR = "episodes"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class EpisodeRecord:
    """The manifest entry of one recorded episode."""

    id: str
    shard: str
    seed: int
    driver: str
    steps: int
    total_return: float
    lap_finished: bool


@dataclass(frozen=True)
class Episode:
    """One episode's frames and action labels with its manifest entry."""

    record: EpisodeRecord
    frames: np.ndarray
    actions: np.ndarray


def episode_id(driver: str, seed: int) -> str:
    """'expert-000007': the id (and shard stem) of the episode a driver recorded on a track seed."""
    return f"{driver}-{seed:06d}"


def _atomic_write(path: Path, write: Any) -> None:
    """Call write(file object) on a hidden temp file next to path, then rename it to path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _empty_manifest() -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION, "env_id": ENV_ID, "env_kwargs": ENV_KWARGS, "frame_shape": list(FRAME_SHAPE),
        "action_meanings": list(ACTION_MEANINGS), "episodes": [],
    }


def _check_manifest(manifest: dict[str, Any], path: Path) -> None:
    """Refuse demonstrations of another env, frame size or action set: they cannot be mixed with ours."""
    expected = _empty_manifest()
    for key in ("env_id", "env_kwargs", "frame_shape", "action_meanings"):
        if manifest.get(key) != expected[key]:
            raise TrainerError(
                f"{path} holds demonstrations with {key} {manifest.get(key)!r}, expected {expected[key]!r}"
            )


def read_manifest(data_dir: Path, create: bool = False) -> dict[str, Any]:
    """The folder's manifest, checked against our env; an empty one if absent and create is set."""
    path = data_dir / MANIFEST
    if not path.is_file():
        if create:
            return _empty_manifest()
        raise TrainerError(f"{data_dir} holds no {MANIFEST}; record demonstrations there first (carracing-record)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise TrainerError(f"cannot read {path}: {error}") from error
    if not isinstance(manifest, dict) or not isinstance(manifest.get("episodes"), list):
        raise TrainerError(f"{path} is not a demonstrations manifest (no 'episodes' list)")
    _check_manifest(manifest, path)
    return manifest


def recorded_returns(data_dir: Path) -> dict[str, float]:
    """Id -> return of the episodes already recorded in data_dir whose shard is on disk (to skip when resuming)."""
    manifest = read_manifest(data_dir, create=True)
    return {entry["id"]: entry["total_return"] for entry in manifest["episodes"] if (data_dir / entry["shard"]).is_file()}


def write_episode(data_dir: Path, episode: Episode) -> None:
    """Write the episode's shard, then add it to the manifest (replacing an entry with the same id)."""
    manifest = read_manifest(data_dir, create=True)
    record = episode.record
    arrays = {
        "frames": episode.frames.astype(np.uint8), "actions": episode.actions.astype(np.int64),
        "env_id": np.array(ENV_ID), "seed": np.array(record.seed), "driver": np.array(record.driver),
        "total_return": np.array(record.total_return),
    }
    _atomic_write(data_dir / record.shard, lambda stream: np.savez_compressed(stream, **arrays))
    manifest["episodes"] = [entry for entry in manifest["episodes"] if entry["id"] != record.id] + [asdict(record)]
    text = json.dumps(manifest, indent=1) + "\n"
    _atomic_write(data_dir / MANIFEST, lambda stream: stream.write(text.encode()))


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise TrainerError(f"missing shard {path}: listed in {MANIFEST} but not on disk; record it again")
    try:
        with np.load(path, allow_pickle=False) as shard:
            return {key: shard[key] for key in ("frames", "actions", "env_id")}
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError) as error:
        raise TrainerError(f"truncated or corrupt shard {path} ({error}); delete it and record it again") from error


def _check_arrays(arrays: dict[str, np.ndarray], record: EpisodeRecord, path: Path) -> None:
    frames, actions = arrays["frames"], arrays["actions"]
    if str(arrays["env_id"]) != ENV_ID:
        raise TrainerError(f"shard {path} was recorded on {arrays['env_id']}, expected {ENV_ID}")
    if frames.dtype != np.uint8 or tuple(frames.shape[1:]) != FRAME_SHAPE:
        raise TrainerError(f"shard {path} holds frames {frames.dtype} {list(frames.shape[1:])}, expected uint8 "
                           f"{list(FRAME_SHAPE)}")
    if actions.shape != (len(frames),) or len(frames) != record.steps:
        raise TrainerError(f"shard {path} holds {len(frames)} frames and {actions.shape} actions, "
                           f"expected {record.steps} of each")
    if len(actions) and not 0 <= actions.min() <= actions.max() < len(ACTION_MEANINGS):
        raise TrainerError(f"shard {path} holds actions outside 0..{len(ACTION_MEANINGS) - 1}")


def load_episode(data_dir: Path, record: EpisodeRecord) -> Episode:
    """Read and check one shard; TrainerError naming the file if it is missing, truncated or foreign."""
    path = data_dir / record.shard
    arrays = _read_arrays(path)
    _check_arrays(arrays, record, path)
    return Episode(record, arrays["frames"], arrays["actions"].astype(np.int64))


def load_episodes(data_dir: Path) -> list[Episode]:
    """Every episode the manifest lists, in manifest order, each checked."""
    manifest = read_manifest(data_dir)
    return [load_episode(data_dir, EpisodeRecord(**entry)) for entry in manifest["episodes"]]


def shard_name(episode: str) -> str:
    """Where an episode's shard lives, relative to the demonstrations folder."""
    return f"{EPISODES_DIR}/{episode}.npz"
