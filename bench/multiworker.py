"""Multi-worker training throughput: the classifier trained by one process and by two workers on loopback.

Three runs of `python -m trainer vision classifier` on the same Fashion-MNIST subset, global batch and
epochs, side by side:
- `none`: one process, TensorFlow's default strategy (no collective ops);
- `multiworker x1`: MultiWorkerMirroredStrategy with a one-worker TF_CONFIG cluster (the strategy's own
  cost, no peer);
- `multiworker x2`: two worker processes (chief and worker on 127.0.0.1 ports), each with half of every
  global batch, their gradients all-reduced over gRPC at every step.
Each run times its epochs from a Keras callback in the chief's process; the first epoch (tracing) is left
out. The three runs are interleaved for `--repeat` rounds; the table gives the median training images per
second and its ratio to `none`.

    .venv/bin/python bench/multiworker.py --limit-train 12000 --epochs 3 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench_server import free_port  # noqa: E402

RUNS = {"none": 0, "multiworker x1": 1, "multiworker x2": 2}
"""Each run and its number of workers (0: no TF_CONFIG, `--distribute none`)."""


def train_with_epoch_times(argv: list[str], times_file: str) -> None:
    """The worker side: train with the trainer's own job and CLI flags, writing each epoch's seconds."""
    import keras

    from trainer.cli import build_parser
    from trainer.config import config_from_args
    from trainer.vision.classifier import train_classifier
    from trainer.vision.classifier_config import ClassifierConfig

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds.append(time.perf_counter() - self.started)

    seconds: list[float] = []
    args = build_parser().parse_args(["vision", "classifier", *argv])
    train_classifier(config_from_args(ClassifierConfig, args, {}), callbacks=[EpochTimer()])
    Path(times_file).write_text(json.dumps(seconds))


def run(workers: int, argv: list[str], folder: Path) -> list[float]:
    """One run with `workers` processes (0: no distribution); the chief's epoch seconds."""
    ports = [free_port() for _ in range(max(workers, 1))]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    run_argv = [*argv, "--run-dir", str(folder / "run"), "--export-root", str(folder / "saved_models")]
    run_argv += ["--distribute", "multiworker"] if workers else ["--distribute", "none"]
    processes = []
    for index in range(max(workers, 1)):
        env = dict(os.environ)
        if workers:
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        command = [sys.executable, __file__, "--worker", str(folder / f"times-{index}.json"), *run_argv]
        processes.append(subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, errors = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"error: a training process failed: {errors.strip().splitlines()[-1:]}")
    return json.loads((folder / "times-0.json").read_text())


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        train_with_epoch_times(sys.argv[3:], sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-train", type=int, default=12000, help="training images (default 12000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is not timed (default 3)")
    parser.add_argument("--batch-size", type=int, default=128, help="global batch, over all workers (default 128)")
    parser.add_argument("--arch", default="cnn", help="network (default cnn)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three runs (default 3)")
    args = parser.parse_args()
    argv = ["--arch", args.arch, "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--limit-train",
            str(args.limit_train), "--lr-schedule", "constant", "--precision", "float32", "--offline"]
    train_images = args.limit_train * 0.9  # validation_fraction 0.1 is held out
    rounds: dict[str, list[float]] = {name: [] for name in RUNS}
    for _ in range(args.repeat):  # the runs interleaved, so that other load on the machine hits them alike
        for name, workers in RUNS.items():
            with tempfile.TemporaryDirectory() as folder:
                seconds = run(workers, [*argv, "--model-name", "bench_multiworker"], Path(folder))
            rounds[name].append(sum(seconds[1:]) / len(seconds[1:]))
    print(f"{'run':<16} {'s/epoch':>8} {'images/s':>9} {'vs none':>8}  (median of {args.repeat}; each round's s/epoch)")
    baseline = train_images / statistics.median(rounds["none"])
    for name, per_epoch in rounds.items():
        throughput = train_images / statistics.median(per_epoch)
        each = ", ".join(f"{value:.2f}" for value in per_epoch)
        print(f"{name:<16} {statistics.median(per_epoch):>8.2f} {throughput:>9.0f} {throughput / baseline:>7.2f}x  ({each})")

if __name__ == "__main__":
    main()
