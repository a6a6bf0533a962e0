"""CarRacing drivers side by side: mean ± std return over the same unseen track seeds, in one table.

Rows: the scripted expert (privileged state) and every exported driver given with --models (a SavedModel
version folder, e.g. saved_models/carracing_driver/1 for the plain clone and /2 for the DAgger driver),
driven in-process through its `serving_default` signature exactly as a client would call it, frame stacking
as its model.json says. Seeds default to 30000..30019, which neither recording (0..) nor DAgger (20000..)
nor training's evaluation (10000..) use.

    python bench/carracing.py --models saved_models/carracing_driver/1,saved_models/carracing_driver/2
    python bench/carracing.py --episodes 2 --max-steps 50      # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.rl.carracing_expert import CarRacingExpert  # noqa: E402
from trainer.rl.carracing_policy import as_network_input  # noqa: E402
from trainer.rl.carracing_rollout import Driver, make_env, run_episode  # noqa: E402


class SavedModelDriver:
    """An exported driver called through its serving_default signature, one frame (stack) per request."""

    def __init__(self, export_dir: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        self._serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
        self.frame_stack = json.loads((export_dir / "assets.extra" / "model.json").read_text())["frame_stack"]

    def reset(self) -> None:
        """The frame stack lives in the env wrapper."""

    def act(self, observation: np.ndarray, env: object) -> int:
        """The action the export chooses."""
        frames = self._tf.constant(as_network_input(observation)[np.newaxis])
        return int(self._serve(frames=frames)["actions"].numpy()[0])


def drive(driver: Driver, frame_stack: int, seeds: list[int], max_steps: int) -> tuple[list[float], float]:
    """Returns of one episode per seed, and the seconds it took."""
    env, start = make_env(frame_stack), time.perf_counter()
    returns = [run_episode(env, seed, driver, max_steps).total_return for seed in seeds]
    env.close()
    return returns, time.perf_counter() - start


def main() -> None:
    """Parse flags, drive every row on the same seeds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated export version folders to compare")
    parser.add_argument("--episodes", type=int, default=20, help="track seeds per row")
    parser.add_argument("--first-seed", type=int, default=30_000, help="first track seed")
    parser.add_argument("--max-steps", type=int, default=1000, help="steps per episode (CarRacing-v3: 1000)")
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    rows: list[tuple[str, Driver, int]] = [("expert (privileged state)", CarRacingExpert(), 1)]
    for path in filter(None, args.models.split(",")):
        model = SavedModelDriver(Path(path))
        rows.append((path, model, model.frame_stack))
    print(f"seeds {seeds[0]}..{seeds[-1]}, at most {args.max_steps} steps per episode")
    print(f"{'driver':<45} {'mean':>8} {'std':>7} {'min':>8} {'max':>8} {'seconds':>8}")
    for name, driver, frame_stack in rows:
        returns, seconds = drive(driver, frame_stack, seeds, args.max_steps)
        print(f"{name:<45} {np.mean(returns):8.1f} {np.std(returns):7.1f} {min(returns):8.1f} {max(returns):8.1f} "
              f"{seconds:8.1f}")


if __name__ == "__main__":
    main()
