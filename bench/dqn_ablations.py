"""What each addition of the Atari recipe does on CartPole-v1, one row per change, seeds side by side in one run.

Every row starts from RL Zoo's tuned CartPole values (trainer.rl.dqn_config.CARTPOLE_PRESET, which
`--cartpole` uses) and changes one thing: n-step returns (n = 3), Adam's epsilon (1.5e-4), 8 envs acting
in one batch, then all of them. Each run evaluates every 10k steps (ε = 0.05, fixed seeds); a row gives
the mean over seeds of each evaluation, the first step whose evaluation reached 475 and the wall time.
Not a test: it takes minutes.

    python bench/dqn_ablations.py --seeds 1 2
    python bench/dqn_ablations.py --seeds 1 --total-timesteps 2000 --eval-episodes 2   # a smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import numpy as np  # noqa: E402

from trainer.rl.dqn import train_dqn  # noqa: E402
from trainer.rl.dqn_config import CARTPOLE_PRESET, DQNConfig  # noqa: E402

TARGET_RETURN = 475.0
ROWS = {
    "RL Zoo CartPole values (1-step, Adam ε 1e-7, 1 env)": {},
    "+ n-step returns, n = 3": {"n_step": 3},
    "+ Adam ε 1.5e-4": {"adam_epsilon": 1.5e-4},
    "+ 8 envs, batched acting": {"num_envs": 8},
    "all three": {"n_step": 3, "adam_epsilon": 1.5e-4, "num_envs": 8},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="training seeds of every row")
    parser.add_argument("--total-timesteps", type=int, default=CARTPOLE_PRESET["total_timesteps"])
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation")
    return parser.parse_args()


def run(changes: dict, seed: int, args: argparse.Namespace, root: Path) -> tuple[list[tuple[int, float]], float]:
    """One training run: its evaluations (step, mean return) and its wall time."""
    config = DQNConfig(**{**CARTPOLE_PRESET, **changes, "total_timesteps": args.total_timesteps, "seed": seed,
                          "eval_episodes": args.eval_episodes, "video": False, "export_best": False,
                          "export_root": root / "saved_models", "run_dir": root / f"run-{seed}-{len(changes)}"})
    started = time.perf_counter()
    result = train_dqn(config)
    return result.evaluations, time.perf_counter() - started


def main() -> None:
    args = parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as root:
        for name, changes in ROWS.items():
            runs = [run(changes, seed, args, Path(root) / name.replace(" ", "_")) for seed in args.seeds]
            steps = [step for step, _ in runs[0][0]]
            means = np.mean([[value for _, value in evaluations] for evaluations, _ in runs], axis=0)
            firsts = [next((step for step, value in evaluations if value >= TARGET_RETURN), None) for evaluations, _ in runs]
            first = ", ".join(f"{step:,}" if step else "never" for step in firsts)
            seconds = np.mean([wall for _, wall in runs])
            lines.append(f"| {name} | " + " | ".join(f"{value:.0f}" for value in means) + f" | {first} | {seconds:.0f} s |")
    print(f"\nCartPole-v1, mean evaluation return over seeds {args.seeds} ({args.eval_episodes} episodes each, ε 0.05)")
    print("| run | " + " | ".join(f"{step // 1000}k" for step in steps) + " | first ≥ 475 (per seed) | wall time |")
    print("|---|" + "---:|" * len(steps) + "---|---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
