"""A scripted CarRacing-v3 driver that reads privileged state: the track's centre line and the car's pose.

The learner only ever sees frames; this expert sees `env.unwrapped.track` (per tile: alpha, beta, x, y) and
`env.unwrapped.car.hull` (position, angle, linear velocity). It steers pure-pursuit style toward a point on the
centre line a speed-dependent distance ahead, and picks a target speed from how sharply the track turns ahead
(gas below it, brake well above it). With `continuous=False` only one of steer, gas and brake can act per step,
so steering wins when the heading error is large and speed control runs otherwise.

Measured over 20 seeds (1000-1019, 1000-step limit): 809.5 ± 58.6 mean return (704..931). The car is still
accelerating when the episode is cut (discrete gas is only 0.2, and every steering step is a step without gas),
so 19 of 20 episodes end at the time limit with 81-97 % of the tiles visited. The issue's target (850 over
20 seeds) is not reached yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

NOOP, STEER_RIGHT, STEER_LEFT, GAS, BRAKE = range(5)
TRACK_POINT_SPACING = 21 / 6.0  # gymnasium's TRACK_DETAIL_STEP: world units between centre-line points
SEARCH_BEHIND, SEARCH_AHEAD = 5, 40  # track points searched around the last nearest one


@dataclass(frozen=True)
class ExpertParams:
    """Tuning of the scripted driver (world units, seconds, radians)."""

    lookahead_base: float = 20.0
    lookahead_per_speed: float = 0.12
    steer_deadband: float = 0.2
    yaw_damping: float = 0.05
    max_speed: float = 150.0
    min_speed: float = 50.0
    curve_horizon: float = 70.0
    speed_per_radian: float = 25.0
    brake_margin: float = 8.0


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


class CarRacingExpert:
    """Picks one of the five discrete actions from the env's privileged state; call reset() per episode."""

    def __init__(self, params: ExpertParams = ExpertParams()) -> None:
        self.params = params
        self._nearest: int | None = None

    def reset(self) -> None:
        """Forget the last track position (call after env.reset)."""
        self._nearest = None

    def _nearest_index(self, points: np.ndarray, position: np.ndarray) -> int:
        """The centre-line point closest to the car, searched near the last one so self-crossings cannot jump."""
        count = len(points)
        if self._nearest is None:
            candidates = np.arange(count)
        else:
            candidates = np.arange(self._nearest - SEARCH_BEHIND, self._nearest + SEARCH_AHEAD) % count
        distances = np.linalg.norm(points[candidates] - position, axis=1)
        self._nearest = int(candidates[np.argmin(distances)])
        return self._nearest

    def _target_speed(self, track: np.ndarray, nearest: int) -> float:
        """Lower for sharper turning within the curve horizon ahead (total heading change, radians)."""
        p = self.params
        steps = max(2, int(p.curve_horizon / TRACK_POINT_SPACING))
        betas = track[(nearest + np.arange(steps)) % len(track), 1]
        turning = abs(_wrap(float(np.max(betas) - np.min(betas)))) if steps else 0.0
        return max(p.min_speed, p.max_speed - p.speed_per_radian * turning)

    def act(self, frame: np.ndarray, env: gym.Env) -> int:
        """The action for the env's current state; the frame is ignored (the expert reads the state)."""
        p = self.params
        car = env.unwrapped.car
        track = np.asarray(env.unwrapped.track, dtype=np.float64)
        position = np.array(car.hull.position, dtype=np.float64)
        speed = float(np.linalg.norm(car.hull.linearVelocity))
        nearest = self._nearest_index(track[:, 2:4], position)
        ahead = int(round((p.lookahead_base + p.lookahead_per_speed * speed) / TRACK_POINT_SPACING)) + 1
        target = track[(nearest + ahead) % len(track), 2:4] - position
        heading = car.hull.angle + math.pi / 2  # the hull's forward axis is its local +y
        error = _wrap(math.atan2(target[1], target[0]) - heading) - p.yaw_damping * car.hull.angularVelocity
        if abs(error) > p.steer_deadband:
            return STEER_LEFT if error > 0 else STEER_RIGHT
        target_speed = self._target_speed(track, nearest)
        if speed > target_speed + p.brake_margin:
            return BRAKE
        return GAS if speed < target_speed else NOOP
