"""Experience replay that stores each observation frame once and rebuilds stacked states when sampling.

Stacked Atari observations share 3 of their 4 frames with the next one, so storing stacks (and next
stacks) costs 4-8x the memory of storing the newest frame alone. Here every environment step writes one
slot per environment: the newest frame of the observation the agent acted on, the action, the reward,
whether the step terminated the episode, whether the action was really taken (not the ignored action of
gymnasium's next-step autoreset) and how many steps into its episode the observation is. A state is the
last `stack` frames of its episode, the first frame repeated before the start (FrameStackObservation's
"reset" padding); the next state is the same read one slot later, so final observations are kept exactly.
Vector observations (CartPole) are stored as they come, with a stack of one.

Sampling returns n-step transitions: the rewards of the n slots from the sampled one, cut where its episode
ends (`trainer.rl.n_step`), and the state m ≤ n slots later to bootstrap from. Everything is gathered for
the whole batch at once with NumPy fancy indexing; no Python loop runs per transition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.errors import TrainerError
from trainer.rl.n_step import n_step_returns

MEMINFO = Path("/proc/meminfo")
MEMORY_HEADROOM = 0.8
PER_SLOT_BYTES = 4 + 4 + 1 + 1 + 4  # action, reward, terminated, acted, episode step
STATE_FIELDS = ("frames", "actions", "rewards", "terminated", "acted", "episode_steps")


@dataclass(frozen=True)
class Batch:
    """Sampled n-step transitions, states in the network's layout ([B,H,W,stack] frames or [B,D] vectors).

    returns: discounted rewards of the steps taken; discounts: γ^m for the bootstrap from next_observations
    (the state m steps later), 0 after a terminal step.
    """

    observations: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    discounts: np.ndarray
    next_observations: np.ndarray


def available_memory_bytes() -> int | None:
    """Memory available to a new allocation (psutil if installed, else /proc/meminfo), or None if unknown."""
    try:
        import psutil
    except ImportError:
        if not MEMINFO.is_file():
            return None
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
        return None
    return int(psutil.virtual_memory().available)


def replay_bytes(capacity: int, num_envs: int, frame_shape: tuple[int, ...], frame_dtype: np.dtype) -> int:
    """Bytes a buffer of capacity transitions allocates (frames stored once, plus per-slot fields)."""
    slots = math.ceil(capacity / num_envs) * num_envs
    return slots * (math.prod(frame_shape) * np.dtype(frame_dtype).itemsize + PER_SLOT_BYTES)


def check_memory(needed: int, capacity: int) -> None:
    """Raise TrainerError when needed bytes exceed the available memory (less headroom); before allocating."""
    available = available_memory_bytes()
    if available is None or needed <= available * MEMORY_HEADROOM:
        return
    fitting = int(capacity * available * MEMORY_HEADROOM / needed)
    raise TrainerError(
        f"a replay buffer of {capacity:,} transitions needs {needed / 2**30:.2f} GiB but only "
        f"{available / 2**30:.2f} GiB of memory is available; lower --buffer-size to at most about {fitting:,}"
    )


class ReplayBuffer:
    """A circular buffer of num_envs parallel streams of frames; see the module docstring."""

    def __init__(self, capacity: int, observation_shape: tuple[int, ...], dtype: np.dtype, num_envs: int,
                 stacked: bool, n_step: int = 1, gamma: float = 0.99) -> None:
        """observation_shape is one env observation: [stack, H, W] when stacked, else [D]."""
        self.stacked = stacked
        self.n_step, self.gamma = n_step, gamma
        self.stack = observation_shape[0] if stacked else 1
        frame_shape = tuple(observation_shape[1:] if stacked else observation_shape)
        check_memory(replay_bytes(capacity, num_envs, frame_shape, dtype), capacity)
        self.slots = math.ceil(capacity / num_envs)
        self.num_envs = num_envs
        self.frames = np.zeros((self.slots, num_envs, *frame_shape), dtype)
        self.actions = np.zeros((self.slots, num_envs), np.int32)
        self.rewards = np.zeros((self.slots, num_envs), np.float32)
        self.terminated = np.zeros((self.slots, num_envs), bool)
        self.acted = np.zeros((self.slots, num_envs), bool)
        self.episode_steps = np.zeros((self.slots, num_envs), np.int32)
        self.position = 0
        self.full = False
        self._next_episode_step = np.zeros(num_envs, np.int32)

    def __len__(self) -> int:
        """Number of slots written per environment."""
        return self.slots if self.full else self.position

    def add(self, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
            acted: np.ndarray) -> None:
        """Store one vector step: the observations acted on and what happened.

        acted is False where the env ignored the action because the observation was final and the env was
        resetting (gymnasium's next-step autoreset); the observation after it starts a new episode.
        """
        slot = self.position
        self.frames[slot] = observations[:, -1] if self.stacked else observations
        self.actions[slot] = actions
        self.rewards[slot] = rewards
        self.terminated[slot] = terminated
        self.acted[slot] = acted
        self.episode_steps[slot] = self._next_episode_step
        self._next_episode_step = np.where(acted, self._next_episode_step + 1, 0).astype(np.int32)
        self.position = (slot + 1) % self.slots
        self.full = self.full or self.position == 0

    def interrupt_streams(self) -> None:
        """End every stream at its last written slot, as a resumed run's envs start new episodes.

        That slot's successor was never stored: it becomes a final observation (bootstrapped from, never
        sampled), and the next write starts an episode.
        """
        if len(self):
            self.acted[(self.position - 1) % self.slots] = False
            self._next_episode_step[:] = 0

    def valid_starts(self) -> np.ndarray:
        """Flat (slot * num_envs + env) indices of transitions whose state and next state are both intact."""
        usable = self.acted.copy()
        usable[(self.position - 1 - np.arange(self.n_step)) % self.slots] = False  # their n-step window is not stored yet
        if self.full:
            oldest = (self.position + np.arange(self.stack - 1)) % self.slots
            usable[oldest] = False  # their earlier frames were overwritten
        else:
            usable[self.position:] = False
        return np.flatnonzero(usable)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """batch_size n-step transitions drawn uniformly with replacement."""
        starts = self.valid_starts()
        if len(starts) == 0:
            raise ValueError("the replay buffer holds no complete transition yet")
        chosen = rng.choice(starts, size=batch_size)
        slots, envs = np.divmod(chosen, self.num_envs)
        window = (slots[:, None] + np.arange(self.n_step + 1)) % self.slots
        columns = envs[:, None]
        steps = n_step_returns(self.rewards[window[:, :-1], columns], self.terminated[window[:, :-1], columns],
                               self.acted[window[:, 1:], columns], self.gamma)
        return Batch(
            observations=self.states(slots, envs),
            actions=self.actions[slots, envs],
            returns=steps.returns,
            discounts=steps.discounts,
            next_observations=self.states((slots + steps.steps) % self.slots, envs),
        )

    def states(self, slots: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """The states of the observations at (slots, envs), rebuilt from frames, in the network's layout."""
        if not self.stacked:
            return self.frames[slots, envs]
        back = np.arange(self.stack - 1, -1, -1)  # oldest frame first, as FrameStackObservation orders them
        offsets = np.minimum(back[None, :], self.episode_steps[slots, envs][:, None])
        frame_slots = (slots[:, None] - offsets) % self.slots
        states = np.empty((len(slots), *self.frames.shape[2:], self.stack), self.frames.dtype)
        for position in range(self.stack):  # written channels last, contiguous: 3x faster than copying a transposed view
            states[..., position] = self.frames[frame_slots[:, position], envs]
        return states

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to restore the buffer exactly, as arrays."""
        counters = np.array([self.position, int(self.full)], np.int64)
        arrays = {name: getattr(self, name) for name in STATE_FIELDS}
        return {**arrays, "counters": counters, "next_episode_step": self._next_episode_step}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state_dict of a buffer with the same shapes; ValueError if they differ."""
        for name in STATE_FIELDS:
            if state[name].shape != getattr(self, name).shape:
                raise ValueError(f"replay field {name} has shape {state[name].shape}, expected {getattr(self, name).shape}")
            getattr(self, name)[...] = state[name]
        self.position, full = (int(value) for value in state["counters"])
        self.full = bool(full)
        self._next_episode_step = state["next_episode_step"].astype(np.int32)
