"""The wrappers an env spec may name, by name, and how a spec's list of them is applied to an env.

The trainer writes the list into model.json and builds its envs from it; `client play` rebuilds the same
env from the contract. Both use this one table and this one loop, so a wrapper added here is known to both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from game_wrappers.fire_on_life_start import FireOnLifeStart

WRAPPERS: dict[str, Callable[..., gym.Env]] = {
    "AtariPreprocessing": AtariPreprocessing,
    "FireOnLifeStart": FireOnLifeStart,
    "FrameStackObservation": FrameStackObservation,
}


def unknown_wrappers(wrappers: Sequence[dict[str, Any]]) -> list[str]:
    """The names in a spec's wrapper list that this table lacks."""
    return [wrapper["name"] for wrapper in wrappers if wrapper["name"] not in WRAPPERS]


def apply_wrappers(env: gym.Env, wrappers: Sequence[dict[str, Any]]) -> gym.Env:
    """env inside each named wrapper in order, with its keyword arguments.

    ValueError names the wrapper that is unknown or refuses this env (e.g. FIRE pressing on a game without FIRE).
    """
    for wrapper in wrappers:
        if wrapper["name"] not in WRAPPERS:
            raise ValueError(f"unknown wrapper {wrapper['name']!r} (known: {sorted(WRAPPERS)})")
        env = WRAPPERS[wrapper["name"]](env, **wrapper["kwargs"])
    return env
