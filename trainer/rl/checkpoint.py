"""Checkpoints of a DQN run: networks, optimiser, counters, history, RNG, the best evaluation's weights, and the
replay buffer by flag.

Each file is written to a temporary name beside it and renamed into place, so an interruption leaves
the previous checkpoint whole. The replay buffer goes to its own file (it can be gigabytes) and carries
the step it belongs to; a buffer from another step is not used. A checkpoint that cannot be read, or that
belongs to another environment or network, stops the job with a TrainerError before anything is written.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainer.errors import TrainerError
from trainer.rl.agent import DQNAgent
from trainer.rl.replay import ReplayBuffer

CHECKPOINT_FILE = "checkpoint.npz"
REPLAY_FILE = "replay.npz"


@dataclass
class TrainingState:
    """The counters and histories a resumed run continues from."""

    env_id: str
    step: int = 0
    updates: int = 0
    seconds: float = 0.0
    episodes: list[tuple[int, float]] = field(default_factory=list)
    evaluations: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class BestWeights:
    """The online network's weights at a run's best periodic evaluation."""

    mean_return: float
    step: int
    weights: list[np.ndarray]


@dataclass(frozen=True)
class Restored:
    """What a checkpoint gives back beyond the weights it loads into the agent."""

    state: TrainingState
    best: BestWeights | None


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _weights(prefix: str, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}/{index}": np.asarray(array) for index, array in enumerate(arrays)}


def save_checkpoint(directory: Path, agent: DQNAgent, state: TrainingState, rng: np.random.Generator,
                    replay: ReplayBuffer | None, best: BestWeights | None = None) -> None:
    """Write directory/checkpoint.npz (and directory/replay.npz when replay is given), each atomically."""
    if replay is not None:
        _write_atomically(directory / REPLAY_FILE, {**replay.state_dict(), "step": np.array(state.step)})
    best_arrays = {} if best is None else {
        **_weights("best", best.weights), "best_of": np.array(json.dumps([best.step, best.mean_return]))}
    arrays = {
        **best_arrays,
        **_weights("online", agent.online.get_weights()),
        **_weights("target", agent.target.get_weights()),
        **_weights("optimizer", [variable.numpy() for variable in agent.optimizer.variables]),
        "state": np.array(json.dumps(asdict(state))),
        "rng": np.array(json.dumps(rng.bit_generator.state)),
    }
    _write_atomically(directory / CHECKPOINT_FILE, arrays)


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise TrainerError(f"checkpoint {path} is unreadable ({error}); move it away or use another --run-dir") from None


def _stacked(arrays: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    count = sum(1 for name in arrays if name.startswith(prefix + "/"))
    return [arrays[f"{prefix}/{index}"] for index in range(count)]


def _restore_agent(path: Path, arrays: dict[str, np.ndarray], agent: DQNAgent) -> None:
    try:
        agent.online.set_weights(_stacked(arrays, "online"))
        agent.target.set_weights(_stacked(arrays, "target"))
        optimizer_values = _stacked(arrays, "optimizer")
        if len(optimizer_values) != len(agent.optimizer.variables):
            raise ValueError(f"{len(optimizer_values)} optimizer values for {len(agent.optimizer.variables)} variables")
        for variable, value in zip(agent.optimizer.variables, optimizer_values):
            variable.assign(value)
    except (ValueError, KeyError) as error:
        raise TrainerError(f"checkpoint {path} does not fit this network: {error}; use another --run-dir") from None


def load_checkpoint(directory: Path, agent: DQNAgent, rng: np.random.Generator, replay: ReplayBuffer | None,
                    env_id: str) -> Restored | None:
    """Restore agent, rng (and replay, when given and saved at the same step); None without a checkpoint."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return None
    arrays = _read(path)
    try:
        state = TrainingState(**json.loads(str(arrays["state"])))
        rng_state = json.loads(str(arrays["rng"]))
    except (KeyError, TypeError, ValueError) as error:
        raise TrainerError(f"checkpoint {path} is corrupt ({error}); move it away or use another --run-dir") from None
    if state.env_id != env_id:
        raise TrainerError(f"checkpoint {path} was trained on {state.env_id}, not {env_id}; use another --run-dir")
    _restore_agent(path, arrays, agent)
    rng.bit_generator.state = rng_state
    if replay is not None:
        _restore_replay(directory / REPLAY_FILE, replay, state.step)
    return Restored(state, _best(arrays))


def _best(arrays: dict[str, np.ndarray]) -> BestWeights | None:
    if "best_of" not in arrays:
        return None
    step, mean_return = json.loads(str(arrays["best_of"]))
    return BestWeights(float(mean_return), int(step), _stacked(arrays, "best"))


def _restore_replay(path: Path, replay: ReplayBuffer, step: int) -> None:
    if not path.exists():
        print(f"warning: no {path}; the replay buffer starts empty")
        return
    arrays: dict[str, Any] = _read(path)
    if int(arrays.get("step", -1)) != step:
        print(f"warning: {path} is from step {int(arrays.get('step', -1))}, not {step}; the replay buffer starts empty")
        return
    try:
        replay.load_state_dict(arrays)
    except (KeyError, ValueError) as error:
        raise TrainerError(f"replay buffer {path} does not fit this run: {error}") from None
