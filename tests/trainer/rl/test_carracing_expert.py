"""The scripted CarRacing expert drives on the track, and the seed and size flags parse as documented."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.errors import TrainerError
from trainer.rl.carracing_config import RecordConfig, TrainConfig, parse_seeds
from trainer.rl.carracing_expert import BRAKE, GAS, TRACK_POINT_SPACING, CarRacingExpert, track_curvature
from trainer.rl.carracing_rollout import make_env

TRACK_HALF_WIDTH = 40 / 6.0  # gymnasium's TRACK_WIDTH
SHORT_EPISODE = 300


def _distance_to_centre_line(env) -> float:
    track = np.asarray(env.unwrapped.track)[:, 2:4]
    return float(np.min(np.linalg.norm(track - np.array(env.unwrapped.car.hull.position), axis=1)))


def test_expert_drives_a_short_episode_on_the_track():
    env, expert = make_env(), CarRacingExpert()
    env.reset(seed=3)
    expert.reset()
    total, widest = 0.0, 0.0
    for _ in range(SHORT_EPISODE):
        _, reward, terminated, truncated, _ = env.step(expert.act(None, env))
        total += reward
        widest = max(widest, _distance_to_centre_line(env))
        assert not (terminated or truncated)
    visited = env.unwrapped.tile_visited_count
    env.close()
    assert widest < TRACK_HALF_WIDTH + 2, f"the car left the road ({widest:.1f} from the centre line)"
    assert visited >= 50 and total > 100, (visited, total)


def _turn_car(env, radians: float) -> None:
    """Turn the hull and its wheels together, so the wheels stay straight relative to the hull."""
    car = env.unwrapped.car
    for body in [car.hull, *car.wheels]:
        body.angle += radians


def test_expert_steers_back_toward_the_road():
    env, expert = make_env(), CarRacingExpert()
    env.reset(seed=0)
    _turn_car(env, math.pi / 4)  # nose turned left of the road: the expert must steer right
    assert expert.act(None, env) == 1
    _turn_car(env, -math.pi / 2)
    assert expert.act(None, env) == 2
    env.close()


def test_expert_brakes_for_a_curve_too_sharp_for_its_speed_and_gasses_when_slow():
    env, expert = make_env(), CarRacingExpert()
    env.reset(seed=0)
    expert.reset()
    assert expert.act(None, env) == GAS  # standing still on the grid: accelerate
    hull = env.unwrapped.car.hull
    heading = hull.angle + math.pi / 2
    hull.linearVelocity = (300 * math.cos(heading), 300 * math.sin(heading))
    assert expert.act(None, env) == BRAKE
    env.close()


def test_track_curvature_of_a_circle_is_one_over_its_radius():
    radius, points = 50.0, 400
    headings = np.linspace(0, 2 * np.pi, points, endpoint=False) + np.pi / 2
    track = np.zeros((points, 4))
    track[:, 1] = np.unwrap(headings) % (2 * np.pi)
    spacing = 2 * np.pi * radius / points
    curvature = track_curvature(track, span=4) * TRACK_POINT_SPACING / spacing
    np.testing.assert_allclose(curvature, 1 / radius, rtol=1e-6)


def test_seed_ranges_parse_and_bad_ones_are_refused():
    assert parse_seeds("0-3,10") == (0, 1, 2, 3, 10)
    assert RecordConfig(out="x", seeds="5-9", episodes=2).seed_list() == (5, 6)
    for text in ("3-1", "a", "1,1", "-2"):
        with pytest.raises(TrainerError):
            parse_seeds(text)
    with pytest.raises(TrainerError, match="exceeds"):
        RecordConfig(out="x", seeds="0-1", episodes=3)


def test_train_config_refuses_overlapping_dagger_and_evaluation_seeds():
    with pytest.raises(TrainerError, match="overlap"):
        TrainConfig(data="x", dagger_iterations=1, dagger_first_seed=10_000)
    with pytest.raises(TrainerError, match="select seeds overlap the eval seeds"):
        TrainConfig(data="x", select_by="driving", select_first_seed=10_005)
    assert TrainConfig(data="x", select_first_seed=10_005).select_seeds() == ()
    with pytest.raises(TrainerError, match="three"):
        TrainConfig(data="x", filters="8,8")
