"""Classifier training speed under each dtype policy (`--precision`), as ratios measured side by side.

One model per policy is built and compiled as the trainer builds it, then their training epochs (random
uint8 images, the real augmentation, optimizer and loss) alternate round by round, so a noisy machine slows
every policy alike. Prints the median wall time and process CPU time per step of each policy, and each
policy's speed relative to float32 (above 1: faster).

    python bench/precision.py                                   # the deep net on 28x28x1, float32 vs bfloat16
    python bench/precision.py --arch cnn --policies float32,mixed_bfloat16,mixed_float16 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import keras  # noqa: E402
import numpy as np  # noqa: E402

from trainer.distribute import cpu_has_bfloat16, dtype_policy_scope  # noqa: E402
from trainer.precisions import PRECISIONS  # noqa: E402
from trainer.vision.networks import DeepOptions, build_classifier  # noqa: E402
from trainer.vision.objective import adam, classification_loss  # noqa: E402

NUM_CLASSES = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="deep", choices=("mlp", "cnn", "deep"), help="classifier network")
    parser.add_argument("--policies", default="float32,mixed_bfloat16", help="comma-separated dtype policies")
    parser.add_argument("--image-shape", default="28,28,1", help="H,W,C of the random images")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step (the trainer's default)")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed epoch")
    parser.add_argument("--rounds", type=int, default=6, help="timed epochs per policy, alternated")
    args = parser.parse_args()
    if min(args.batch_size, args.steps, args.rounds) < 1:
        parser.error("--batch-size, --steps and --rounds must be at least 1")
    try:
        args.image_shape = tuple(int(size) for size in args.image_shape.split(","))
    except ValueError:
        parser.error(f"--image-shape must be H,W,C integers, got {args.image_shape!r}")
    if len(args.image_shape) != 3 or min(args.image_shape) < 1:
        parser.error(f"--image-shape must be three positive sizes H,W,C, got {args.image_shape}")
    args.policies = [policy.strip() for policy in args.policies.split(",") if policy.strip()]
    unknown = [policy for policy in args.policies if policy not in PRECISIONS or policy == "auto"]
    if unknown or "float32" not in args.policies:
        parser.error(f"--policies: give float32 and any of {', '.join(PRECISIONS[1:])}; unknown: {unknown}")
    return args


def build(policy: str, arch: str, image_shape: tuple[int, int, int]) -> keras.Model:
    """The classifier as the trainer compiles it (erasing on for the deep net, AdamW, label smoothing)."""
    deep = DeepOptions(erasing=0.5 if arch == "deep" else 0.0)
    with dtype_policy_scope(policy):
        model = build_classifier(arch, image_shape, NUM_CLASSES, 0.25, deep).model
    model.compile(optimizer=adam(1e-3, 0.05), loss=classification_loss(NUM_CLASSES, 0.1), metrics=["accuracy"])
    return model


def timed_epoch(model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int) -> tuple[float, float]:
    """(wall, CPU) seconds per step of one epoch over images."""
    steps = len(images) // batch_size
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(images, labels, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main() -> None:
    args = parse_args()
    image_shape = args.image_shape
    rng = np.random.default_rng(0)
    count = args.batch_size * args.steps
    images = rng.integers(0, 256, (count, *image_shape), dtype=np.uint8)
    labels = rng.integers(0, NUM_CLASSES, count)
    models = {policy: build(policy, args.arch, image_shape) for policy in args.policies}
    for model in models.values():
        timed_epoch(model, images, labels, args.batch_size)  # trace and warm up
    times: dict[str, list[tuple[float, float]]] = {policy: [] for policy in models}
    for _ in range(args.rounds):
        for policy, model in models.items():
            times[policy].append(timed_epoch(model, images, labels, args.batch_size))
    print(f"{args.arch} on {'x'.join(map(str, image_shape))}, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds "
          f"(CPU bfloat16 instructions: {cpu_has_bfloat16()})")
    print(f"{'policy':16} {'wall ms/step':>12} {'CPU ms/step':>12} {'speed (wall)':>13} {'speed (CPU)':>12}")
    medians = {policy: tuple(statistics.median(value[i] for value in runs) for i in (0, 1)) for policy, runs in times.items()}
    base_wall, base_cpu = medians["float32"]
    for policy, (wall, cpu) in medians.items():
        print(f"{policy:16} {wall * 1000:12.1f} {cpu * 1000:12.1f} {base_wall / wall:12.2f}x {base_cpu / cpu:11.2f}x")


if __name__ == "__main__":
    main()
