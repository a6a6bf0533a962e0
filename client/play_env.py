"""The environment a policy was trained for, rebuilt from its contract with gymnasium's own wrappers.

A policy's model.json carries `data.env` (gymnasium env id, `gymnasium.make` keyword arguments, and each
wrapper by name with its parameters) and `data.observation_transpose` (the axes that turn one env
observation into one network input). Building is table-driven: a wrapper name maps to its class (the
table shared with the trainer, `game_wrappers`), an env-id prefix to the package that registers it, and a family to how its outputs are read, so
another policy family adds rows here rather than code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from client.errors import InputError
from game_wrappers import WRAPPERS, apply_wrappers, unknown_wrappers

ENV_PACKAGES = {"ALE/": "ale_py"}
POLICY_OUTPUTS = {  # family -> (input name, action output name)
    "dqn_policy": ("observations", "actions"),
    "carracing_driver": ("frames", "actions"),
}


@dataclass(frozen=True)
class PolicySetup:
    """What playing a policy needs: the env to build, how to feed observations and read actions."""

    env: dict[str, Any]
    transpose: list[int] | None
    observation_shape: list[int] | None
    action_meanings: list[str]
    input_name: str
    input_dtype: str
    input_shape: list[int | None]
    action_output: str


def policy_setup(contract: dict[str, Any], env_id: str | None = None) -> PolicySetup:
    """Read a policy's contract; env_id replaces the env id it names (e.g. to try it on another game)."""
    family = contract.get("family")
    if family not in POLICY_OUTPUTS:
        raise InputError(f"model {contract.get('name')!r} is a {family!r}, not a policy ({', '.join(POLICY_OUTPUTS)})")
    input_name, action_output = POLICY_OUTPUTS[family]
    try:
        env = dict(contract["data"]["env"])
        transpose = contract["data"].get("observation_transpose")
        observation_shape = contract["data"].get("observation_shape")
        described = contract["inputs"]["serving_default"][input_name]
        meanings = list(contract["action_meanings"])
    except (KeyError, TypeError) as error:
        raise InputError(f"the contract of {contract.get('name')!r} lacks {error} needed to play it") from None
    if env_id:
        env["id"] = env_id
    return PolicySetup(
        env, transpose, observation_shape, meanings, input_name, described["dtype"], described["shape"], action_output
    )


def register_env_package(env_id: str) -> None:
    """Import the package that registers env_id's family with gymnasium (Atari's come from ale_py)."""
    for prefix, package in ENV_PACKAGES.items():
        if env_id.startswith(prefix):
            gym.register_envs(importlib.import_module(package))


def make_env(spec: dict[str, Any], render_mode: str | None = None) -> gym.Env:
    """gymnasium.make with the contract's arguments, then its wrappers in order; InputError if unknown."""
    register_env_package(spec["id"])
    unknown = unknown_wrappers(spec["wrappers"])
    if unknown:
        raise InputError(f"the contract names wrappers this client does not know: {unknown} (known: {sorted(WRAPPERS)})")
    try:
        env = gym.make(spec["id"], render_mode=render_mode, **spec["make_kwargs"])
    except gym.error.Error as error:
        raise InputError(f"cannot make env {spec['id']!r}: {error}") from None
    try:
        return apply_wrappers(env, spec["wrappers"])
    except ValueError as error:
        raise InputError(f"cannot wrap env {spec['id']!r}: {error}") from None


def policy_input(observations: np.ndarray, setup: PolicySetup) -> np.ndarray:
    """A batch of env observations [K, ...] as the policy's input: transposed, reshaped (a stack of RGB frames
    becomes one image of stack×3 channels) and cast as the contract says."""
    if setup.transpose is not None:
        observations = np.transpose(observations, [0, *(axis + 1 for axis in setup.transpose)])
    if setup.observation_shape is not None:
        observations = observations.reshape(len(observations), *setup.observation_shape)
    return observations.astype(setup.input_dtype, copy=False)


def check_env_matches(env: gym.Env, setup: PolicySetup) -> None:
    """InputError unless env's observations fit the policy's input and its actions match the policy's actions."""
    observation = np.zeros((1, *env.observation_space.shape))
    shape = list(policy_input(observation, setup).shape[1:])
    expected = list(setup.input_shape[1:])
    actions = getattr(env.action_space, "n", None)
    if shape != expected or actions != len(setup.action_meanings):
        raise InputError(
            f"env {setup.env['id']} gives observations {shape} and {actions} actions, but the policy takes "
            f"{expected} and has {len(setup.action_meanings)} actions ({', '.join(setup.action_meanings)})"
        )
