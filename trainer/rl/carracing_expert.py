"""A scripted CarRacing-v3 driver that reads privileged state: the track's centre line and the car's pose.

The learner only ever sees frames; this expert sees `env.unwrapped.track` (per point: alpha, beta, x, y),
`env.unwrapped.car.hull` (position, angle, velocity) and the front wheels' steering angle. With
`continuous=False` only one of steer, gas and brake acts per step, so the expert spends as few steps as
possible steering:

- Steering: pure pursuit toward a centre-line point a speed-dependent distance ahead gives the front-wheel
  angle wanted, atan(2 L sin(a) / d). A steering action turns the wheels 0.06 rad per step toward ±0.6 and
  every other action turns them back toward straight at the same rate, so the expert steers only while the
  wheels lag the wanted angle; alternating steer and gas holds an angle with gas on every other step.
- Speed: the car is power-limited (it accelerates all lap long), so it gasses unless a curve within the
  braking horizon ahead is too sharp for its speed: the corner speed is sqrt(grip / curvature), with the
  curvature measured from the track's heading over a few points. Above it by a margin the expert brakes.

Measured over 20 seeds (1000-1019, 1,000-step limit): 875.1 ± 51.1 mean return; over seeds 30000-30019:
895.6 ± 34.4 (bench/RESULTS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.envs.box2d.car_dynamics import SIZE, WHEELPOS

NOOP, STEER_RIGHT, STEER_LEFT, GAS, BRAKE = range(5)
TRACK_POINT_SPACING = 21 / 6.0  # gymnasium's TRACK_DETAIL_STEP: world units between centre-line points
SEARCH_BEHIND, SEARCH_AHEAD = 5, 40  # track points searched around the last nearest one
WHEELBASE = (WHEELPOS[0][1] - WHEELPOS[2][1]) * SIZE  # front to rear axle, world units


@dataclass(frozen=True)
class ExpertParams:
    """Tuning of the scripted driver (world units, seconds, radians)."""

    lookahead_base: float = 12.0
    lookahead_per_speed: float = 0.15
    wheel_tolerance: float = 0.03
    grip: float = 200.0
    curvature_span: int = 4
    brake_horizon_base: float = 10.0
    brake_horizon_per_speed: float = 0.6
    brake_margin: float = 3.0


def _wrap(angle: float | np.ndarray) -> float | np.ndarray:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _segment_distance(point: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """Euclidean distance from point to the segment start-end."""
    direction = end - start
    along = float(np.clip(np.dot(point - start, direction) / max(float(np.dot(direction, direction)), 1e-12), 0, 1))
    return float(np.linalg.norm(point - (start + along * direction)))


def track_curvature(track: np.ndarray, span: int) -> np.ndarray:
    """Per centre-line point: the heading change over `span` points each side, per world unit."""
    headings = track[:, 1]
    turned = _wrap(np.roll(headings, -span) - np.roll(headings, span))
    return np.abs(turned) / (2 * span * TRACK_POINT_SPACING)


class CarRacingExpert:
    """Picks one of the five discrete actions from the env's privileged state; call reset() per episode."""

    def __init__(self, params: ExpertParams = ExpertParams()) -> None:
        self.params = params
        self._nearest: int | None = None
        self._track_source: object | None = None
        self._track = np.empty((0, 4))
        self._curvature = np.empty(0)

    def reset(self) -> None:
        """Forget the last track position (call after env.reset)."""
        self._nearest = None

    def _track_of(self, env: gym.Env) -> np.ndarray:
        """The centre line as an array, converted (with its curvature) once per track: env.reset builds a new one."""
        source = env.unwrapped.track
        if source is not self._track_source:
            self._track_source, self._nearest = source, None
            self._track = np.asarray(source, dtype=np.float64)
            self._curvature = track_curvature(self._track, self.params.curvature_span)
        return self._track

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

    def centre_line_distance(self, env: gym.Env) -> float:
        """How far the car is from the track's centre line (world units; the road reaches gymnasium's
        TRACK_WIDTH, 6.7, to each side): to the nearer of the two centre-line segments at the nearest point."""
        track = self._track_of(env)
        position = np.array(env.unwrapped.car.hull.position, dtype=np.float64)
        nearest = self._nearest_index(track[:, 2:4], position)
        points = track[(nearest + np.arange(-1, 2)) % len(track), 2:4]
        return min(_segment_distance(position, start, end) for start, end in zip(points[:-1], points[1:]))

    def _wanted_wheel_angle(self, track: np.ndarray, nearest: int, car, position: np.ndarray, speed: float) -> float:
        """Pure pursuit: the front-wheel angle whose arc passes through the look-ahead point."""
        p = self.params
        ahead = int(round((p.lookahead_base + p.lookahead_per_speed * speed) / TRACK_POINT_SPACING)) + 1
        target = track[(nearest + ahead) % len(track), 2:4] - position
        heading = car.hull.angle + math.pi / 2  # the hull's forward axis is its local +y
        bearing = _wrap(math.atan2(target[1], target[0]) - heading)
        distance = max(float(np.linalg.norm(target)), 1e-3)
        return math.atan(2 * WHEELBASE * math.sin(bearing) / distance)

    def _corner_speed(self, nearest: int, speed: float) -> float:
        """The highest speed the sharpest curve within the braking horizon ahead can be taken at."""
        p = self.params
        horizon = int((p.brake_horizon_base + p.brake_horizon_per_speed * speed) / TRACK_POINT_SPACING) + 1
        sharpest = float(np.max(self._curvature[(nearest + np.arange(horizon)) % len(self._curvature)]))
        return math.sqrt(p.grip / max(sharpest, 1e-6))

    def act(self, frame: np.ndarray, env: gym.Env) -> int:
        """The action for the env's current state; the frame is ignored (the expert reads the state)."""
        p = self.params
        car = env.unwrapped.car
        track = self._track_of(env)
        position = np.array(car.hull.position, dtype=np.float64)
        speed = float(np.linalg.norm(car.hull.linearVelocity))
        nearest = self._nearest_index(track[:, 2:4], position)
        wanted = self._wanted_wheel_angle(track, nearest, car, position, speed)
        wheel = car.wheels[0].joint.angle
        if wanted > wheel + p.wheel_tolerance:
            return STEER_LEFT
        if wanted < wheel - p.wheel_tolerance:
            return STEER_RIGHT
        corner_speed = self._corner_speed(nearest, speed)
        if speed > corner_speed + p.brake_margin:
            return BRAKE
        return GAS if speed < corner_speed else NOOP
