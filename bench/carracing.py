"""CarRacing drivers side by side: mean ± std return over the same unseen track seeds, in one table.

Rows: the scripted expert (privileged state) and every exported driver given with --models (a SavedModel
version folder, e.g. saved_models/carracing_driver/1 for the plain clone and /2 for the DAgger driver),
each served by our server (`python -m serving`, a subprocess) and driven over gRPC, one Predict of its
`serving_default` signature per frame, frame stacking as its model.json says. Seeds default to
30000..30019, which neither recording (0..) nor DAgger (20000..) nor training's evaluation (10000..) use.

    python bench/carracing.py --models saved_models/carracing_driver/1,saved_models/carracing_driver/2
    python bench/carracing.py --models saved_models/carracing_driver/1 --episodes 2 --max-steps 50   # a smoke run

`--returns FILE` also writes every row's return per seed as JSON, for comparisons paired by track.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_server import MODEL, BenchServer, start_server  # noqa: E402

from client import ServingClient  # noqa: E402
from client.play import policy_call  # noqa: E402
from client.play_env import PolicySetup, policy_input, policy_setup  # noqa: E402
from trainer.rl.carracing_expert import CarRacingExpert  # noqa: E402
from trainer.rl.carracing_rollout import Driver, make_env, run_episode  # noqa: E402


class ServedDriver:
    """An exported driver served by our server and called over gRPC as `client play` calls it, one frame
    (stack) per request, prepared as its contract says."""

    def __init__(self, client: ServingClient, setup: PolicySetup) -> None:
        self._call, self._setup = policy_call(client, MODEL, setup), setup

    def reset(self) -> None:
        """The frame stack lives in the env wrapper."""

    def act(self, observation: np.ndarray, env: object) -> int:
        """The action the served export chooses."""
        return self._call(policy_input(observation[np.newaxis], self._setup))[0]


def serve_version(version_dir: Path, scratch: Path) -> BenchServer:
    """Our server on one export version: a base folder whose only version links to version_dir."""
    base = scratch / version_dir.parent.name
    base.mkdir()
    (base / version_dir.name).symlink_to(version_dir.resolve(), target_is_directory=True)
    return start_server(str(base))


def served_returns(version_dir: Path, seeds: list[int], max_steps: int, scratch: Path) -> tuple[list[float], float]:
    """Returns of the served export on every seed, and the seconds they took."""
    contract_file = version_dir / "assets.extra" / "model.json"
    if not contract_file.is_file():
        sys.exit(f"{version_dir} is not an export version folder (no assets.extra/model.json)")
    contract = json.loads(contract_file.read_text())
    server = serve_version(version_dir, scratch)
    try:
        with ServingClient(f"localhost:{server.grpc_port}", timeout=30) as client:
            return drive(ServedDriver(client, policy_setup(contract)), contract["frame_stack"], seeds, max_steps)
    finally:
        server.stop()


def drive(driver: Driver, frame_stack: int, seeds: list[int], max_steps: int) -> tuple[list[float], float]:
    """Returns of one episode per seed, and the seconds it took."""
    env, start = make_env(frame_stack), time.perf_counter()
    returns = [run_episode(env, seed, driver, max_steps).total_return for seed in seeds]
    env.close()
    return returns, time.perf_counter() - start


def main() -> None:
    """Parse flags, drive every row on the same seeds, print the table (and write the returns per seed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated export version folders to compare")
    parser.add_argument("--episodes", type=int, default=20, help="track seeds per row")
    parser.add_argument("--first-seed", type=int, default=30_000, help="first track seed")
    parser.add_argument("--max-steps", type=int, default=1000, help="steps per episode (CarRacing-v3: 1000)")
    parser.add_argument("--returns", type=Path, help="write {row: {seed: return}} here as JSON")
    args = parser.parse_args()
    if args.returns and not args.returns.parent.is_dir():
        parser.error(f"--returns {args.returns}: folder {args.returns.parent} does not exist")
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    print(f"seeds {seeds[0]}..{seeds[-1]}, at most {args.max_steps} steps per episode")
    print(f"{'driver':<45} {'mean':>8} {'std':>7} {'min':>8} {'max':>8} {'seconds':>8}")
    rows = {"expert": drive(CarRacingExpert(), 1, seeds, args.max_steps)}
    print_row("expert (privileged state)", *rows["expert"])
    with tempfile.TemporaryDirectory() as scratch:
        for index, path in enumerate(filter(None, args.models.split(","))):
            folder = Path(scratch) / str(index)
            folder.mkdir()
            rows[path] = served_returns(Path(path), seeds, args.max_steps, folder)
            print_row(f"{path} (served, gRPC)", *rows[path])
    if args.returns:
        per_seed = {name: dict(zip(map(str, seeds), returns)) for name, (returns, _) in rows.items()}
        args.returns.write_text(json.dumps(per_seed, indent=1) + "\n")
        print(f"wrote {args.returns}")


def print_row(name: str, returns: list[float], seconds: float) -> None:
    print(f"{name:<45} {np.mean(returns):8.1f} {np.std(returns):7.1f} {min(returns):8.1f} {max(returns):8.1f} "
          f"{seconds:8.1f}", flush=True)


if __name__ == "__main__":
    main()
