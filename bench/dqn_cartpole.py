"""DQN on CartPole-v1 against the issue's bar: mean return >= 475 over 100 evaluation episodes within 100k steps.

Trains with RL Zoo's tuned CartPole values (trainer.rl.dqn_config.CARTPOLE_PRESET), evaluates every 10k
steps and at the end on --eval-episodes episodes (ε = 0.05, fixed seeds), and prints the first step whose
evaluation reached the bar, the final evaluation and the wall time next to the published figures.
Not a test: it takes minutes.

    python bench/dqn_cartpole.py                     # the real run
    python bench/dqn_cartpole.py --total-timesteps 2000 --eval-episodes 5   # a smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

from trainer.rl.dqn import train_dqn  # noqa: E402
from trainer.rl.dqn_config import CARTPOLE_PRESET, DQNConfig  # noqa: E402

TARGET_RETURN = 475.0
PUBLISHED = [
    ("CleanRL dqn.py (PyTorch)", "500k", "488.7 ± 16.1", "≈145 s (CPU, plot)"),
    ("SB3 RL Zoo DQN (tuned)", "50k", "500 ± 0", "-"),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-timesteps", type=int, default=CARTPOLE_PRESET["total_timesteps"], help="training steps")
    parser.add_argument("--eval-episodes", type=int, default=100, help="episodes per evaluation")
    parser.add_argument("--seed", type=int, default=1, help="training seed")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as root:
        config = DQNConfig(**{**CARTPOLE_PRESET, "total_timesteps": args.total_timesteps, "seed": args.seed,
                              "eval_episodes": args.eval_episodes, "video": False,
                              "export_root": Path(root) / "saved_models", "run_dir": Path(root) / "run"})
        started = time.perf_counter()
        result = train_dqn(config)
        seconds = time.perf_counter() - started
    reached = [step for step, mean_return in result.evaluations if mean_return >= TARGET_RETURN]
    print("\nevaluations (step: mean return): " + ", ".join(f"{step}: {value:.1f}" for step, value in result.evaluations))
    print("\n| run | env steps | mean eval return | wall time |")
    print("|---|---|---|---|")
    print(f"| ours (Keras, TF {__import__('tensorflow').__version__}, 2 CPU cores) | {result.final_step:,} | "
          f"{result.evaluation.mean_return:.1f} over {len(result.evaluation.returns)} episodes | {seconds:.0f} s |")
    for name, steps, score, wall in PUBLISHED:
        print(f"| {name} | {steps} | {score} | {wall} |")
    verdict = f"first reached at step {reached[0]:,}" if reached else "NOT reached"
    print(f"\ntarget mean >= {TARGET_RETURN} over {args.eval_episodes} episodes within 100,000 steps: {verdict} "
          f"(whole run incl. evaluations {seconds:.0f} s)")


if __name__ == "__main__":
    main()
