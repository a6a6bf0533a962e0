"""DAgger's safety driver: the expert measures how far the car strays and takes the wheel past a distance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.errors import TrainerError
from trainer.rl.carracing_config import TrainConfig
from trainer.rl.carracing_expert import GAS, CarRacingExpert
from trainer.rl.carracing_policy import build_network
from trainer.rl.carracing_rollout import TakeoverDriver, make_env, run_episode
from trainer.rl.carracing_train import dagger_round

LEARNER, EXPERT = 3, 4
TAKEOVER_DISTANCE = 9.0
STEPS = 400


class ScriptedGate:
    """A fake expert whose distances from the centre line follow a script, one per step."""

    def __init__(self, distances: list[float]) -> None:
        self._distances, self._step, self.resets = distances, 0, 0

    def reset(self) -> None:
        self.resets += 1

    def centre_line_distance(self, env) -> float:
        distance = self._distances[self._step]
        self._step += 1
        return distance

    def act(self, observation, env) -> int:
        return EXPERT


class ConstantDriver:
    def __init__(self, action: int) -> None:
        self.action = action

    def reset(self) -> None:
        """Nothing to forget."""

    def act(self, observation, env) -> int:
        return self.action


def test_the_expert_takes_the_wheel_past_the_distance_and_hands_it_back_within_half_of_it():
    distances = [1, 5, 9, 11, 8, 6, 4, 3, 10, 2]
    gate = ScriptedGate(distances)
    driver = TakeoverDriver(ConstantDriver(LEARNER), gate, 9.0)
    driver.reset()
    actions = [driver.act(None, None) for _ in distances]
    assert actions == [LEARNER, LEARNER, LEARNER, EXPERT, EXPERT, EXPERT, LEARNER, LEARNER, EXPERT, LEARNER]
    assert driver.expert_steps == 4 and gate.resets == 1
    driver.reset()
    assert driver.expert_steps == 0


def _brute_force_distance(env) -> float:
    """Distance to the centre line's polyline, densely sampled: an oracle independent of the expert's search."""
    points = np.asarray(env.unwrapped.track)[:, 2:4]
    ends = np.roll(points, -1, axis=0)
    fractions = np.linspace(0, 1, 50)[:, None, None]
    samples = (points + fractions * (ends - points)).reshape(-1, 2)
    return float(np.min(np.linalg.norm(samples - np.array(env.unwrapped.car.hull.position), axis=1)))


@pytest.mark.parametrize("sideways", [0.0, 3.0, -5.0])
def test_centre_line_distance_measures_across_the_road(sideways):
    env, expert = make_env(), CarRacingExpert()
    env.reset(seed=0)
    expert.reset()
    for _ in range(60):
        env.step(expert.act(None, env))
    hull = env.unwrapped.car.hull
    heading = hull.angle + math.pi / 2
    x, y = hull.position
    hull.position = (x - sideways * math.sin(heading), y + sideways * math.cos(heading))
    measured = expert.centre_line_distance(env)
    assert measured == pytest.approx(_brute_force_distance(env), abs=0.05)
    env.close()


def _strays(driver) -> list[float]:
    """Drive STEPS steps of track 3 with driver: the car's distance from the centre line before each step."""
    env, measure = make_env(), CarRacingExpert()
    distances = []

    class Measured:
        def reset(self) -> None:
            driver.reset()
            measure.reset()

        def act(self, observation, env) -> int:
            distances.append(measure.centre_line_distance(env))
            return driver.act(observation, env)

    run_episode(env, 3, Measured(), STEPS, labeller=CarRacingExpert())
    env.close()
    return distances


def test_a_learner_that_only_gasses_leaves_the_road_unless_the_expert_takes_over_and_brings_it_back():
    alone = _strays(ConstantDriver(GAS))
    guarded_driver = TakeoverDriver(ConstantDriver(GAS), CarRacingExpert(), TAKEOVER_DISTANCE)
    guarded = _strays(guarded_driver)
    first_takeover = next(step for step, distance in enumerate(guarded) if distance > TAKEOVER_DISTANCE)
    assert max(alone[first_takeover:]) > 5 * TAKEOVER_DISTANCE and min(alone[first_takeover:]) > TAKEOVER_DISTANCE
    assert min(guarded[first_takeover:]) < TAKEOVER_DISTANCE / 2, "the expert never brought the car back"
    assert max(guarded) < max(alone) / 2
    assert 0 < guarded_driver.expert_steps < STEPS


def test_dagger_takeover_must_be_non_negative_and_needs_driving_selection():
    with pytest.raises(TrainerError, match="--dagger-takeover must be >= 0"):
        TrainConfig(data="x", dagger_iterations=1, dagger_takeover=-1, select_by="driving")
    with pytest.raises(TrainerError, match="--dagger-takeover needs --select-by driving"):
        TrainConfig(data="x", dagger_iterations=1, dagger_takeover=9)
    assert TrainConfig(data="x", dagger_iterations=1, dagger_takeover=9, select_by="driving").dagger_takeover == 9


@pytest.mark.parametrize("takeover, at_the_wheel", [(9.0, "the expert taking over"), (0.0, "the learner alone")])
def test_a_dagger_round_puts_the_expert_on_standby_by_flag(tmp_path, capsys, takeover, at_the_wheel):
    config = TrainConfig(data=tmp_path / "demos", dagger_iterations=1, dagger_episodes=1, dagger_max_steps=5,
                         dagger_takeover=takeover, select_by="driving", filters="4,8,8", dense_units=8)
    model = build_network(1, config.filter_sizes(), config.dense_units, config.dropout)
    dagger_round(model, config, 1)
    assert at_the_wheel in capsys.readouterr().out
