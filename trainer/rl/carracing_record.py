"""`python -m trainer rl carracing-record`: record demonstrations (expert or human) as shards, resumably.

One episode per track seed; each becomes `episodes/<driver>-<seed>.npz` and a manifest entry once it has
finished (see `trainer.rl.carracing_shards`). Running the same command again skips the episodes already
recorded, so an interrupted recording continues where it stopped. DAgger reuses `record_episode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym

from trainer.config import format_config, save_config
from trainer.errors import TrainerError
from trainer.rl.carracing_config import RecordConfig
from trainer.rl.carracing_expert import CarRacingExpert
from trainer.rl.carracing_rollout import Driver, make_env, run_episode
from trainer.rl.carracing_shards import (
    Episode,
    EpisodeRecord,
    episode_id,
    recorded_returns,
    shard_name,
    write_episode,
)


def record_episode(
    data_dir: Path,
    env: gym.Env,
    driver: Driver,
    identity: tuple[str, str, int],
    max_steps: int,
    labeller: Driver | None = None,
) -> EpisodeRecord:
    """Drive one episode and write it as a shard; identity is (episode id, driver name, seed)."""
    episode, driver_name, seed = identity
    driven = run_episode(env, seed, driver, max_steps, labeller, description=f"{episode}")
    record = EpisodeRecord(
        id=episode, shard=shard_name(episode), seed=seed, driver=driver_name, steps=len(driven.frames),
        total_return=round(driven.total_return, 3), lap_finished=driven.lap_finished,
    )
    write_episode(data_dir, Episode(record, driven.frames, driven.labels))
    return record


def _make_driver(config: RecordConfig) -> tuple[gym.Env, Driver]:
    """The env and the driver config.driver names: the expert headless, or a person in a pygame window."""
    if config.driver == "human":
        from trainer.rl.carracing_human import HumanDriver, check_display

        check_display()
        return make_env(render_mode="human"), HumanDriver()
    return make_env(), CarRacingExpert()


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise TrainerError(f"--out {out} exists and is not a directory")


def record_demonstrations(config: RecordConfig, command: Sequence[str] = ()) -> list[EpisodeRecord]:
    """Record one episode per seed of config into config.out, skipping those already there; returns new ones."""
    print(format_config(config))
    _check_out_dir(config.out)
    done = recorded_returns(config.out)
    todo = [seed for seed in config.seed_list() if episode_id(config.driver, seed) not in done]
    print(f"{len(config.seed_list()) - len(todo)} episodes already recorded in {config.out}, {len(todo)} to go")
    if not todo:
        return []
    env, driver = _make_driver(config)
    config.out.mkdir(parents=True, exist_ok=True)
    save_config(config, list(command), config.out / f"record-{config.driver}.json")
    records = []
    try:
        for seed in todo:
            identity = (episode_id(config.driver, seed), config.driver, seed)
            record = record_episode(config.out, env, driver, identity, config.max_episode_steps)
            print(f"seed {seed}: return {record.total_return:.1f} in {record.steps} steps"
                  f"{' (lap finished)' if record.lap_finished else ''}")
            records.append(record)
    finally:
        env.close()
    return records
