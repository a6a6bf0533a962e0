"""``python -m client sample``: images from a generative model's ``sample`` signature, as one PNG grid.

The export contract gives every VAE and GAN a ``sample`` signature: ``seeds`` int64 [N] (and, for a
conditional GAN, ``labels`` int64 [N]) → ``images`` uint8, with the noise drawn in the model's graph.
So the same seeds give the same grid from any server, and the client needs no model code. The grid has
one row per requested label (or rows of ``--columns`` images), written with OpenCV.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from client.client import ServingClient
from client.errors import InputError
from client.options import connection_options, model_option, version_options

SAMPLE_SIGNATURE = "sample"
GRID_GAP = 2


def add_sample_command(commands: argparse._SubParsersAction) -> None:
    """Add ``sample`` to the sub-commands of ``python -m client``."""
    parser = commands.add_parser(
        "sample", parents=[connection_options(), model_option(), version_options()],
        help="images from a VAE or GAN, as a PNG grid",
        description="Call the model's 'sample' signature with COUNT seeds (from --seed on) and write the images "
        "as one PNG grid. For a conditional model, --labels picks the classes: one row per label.",
    )
    parser.add_argument("--out", required=True, metavar="PNG", help="where to write the grid")
    parser.add_argument("--count", type=int, default=16, help="images per row of labels, or in all (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; image i uses seed+i (default 0)")
    parser.add_argument("--labels", metavar="ID,ID,...", help="class ids for a conditional model, one grid row each")
    parser.add_argument("--columns", type=int, default=8, help="images per grid row without --labels (default 8)")
    parser.set_defaults(run=run_sample)


def sample_images(
    client: ServingClient, model: str, seeds: np.ndarray, labels: np.ndarray | None = None,
    version: int | None = None, label: str | None = None,
) -> np.ndarray:
    """uint8 images [N,H,W,C] for ``seeds`` (and ``labels``, for a conditional model)."""
    spec = client.signature(model, SAMPLE_SIGNATURE, version, label)
    inputs: dict[str, np.ndarray] = {"seeds": seeds}
    if "labels" in spec.inputs:
        if labels is None:
            raise InputError(f"model {model!r} is conditional: pass --labels (class ids)")
        inputs["labels"] = labels
    elif labels is not None:
        raise InputError(f"model {model!r} takes no labels; drop --labels")
    return client.predict(model, inputs, SAMPLE_SIGNATURE, version, label, output_filter=["images"])["images"]


def image_grid(images: np.ndarray, columns: int) -> np.ndarray:
    """The images [N,H,W,C] tiled row by row, ``columns`` to a row, on a black background."""
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    grid = np.zeros((rows * (height + GRID_GAP) - GRID_GAP, columns * (width + GRID_GAP) - GRID_GAP, channels), np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + GRID_GAP), (index % columns) * (width + GRID_GAP)
        grid[top : top + height, left : left + width] = image
    return grid


def parse_labels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise InputError(f"--labels takes comma-separated class ids; got {text!r}") from None


def run_sample(client: ServingClient, args: argparse.Namespace) -> None:
    if args.count < 1 or args.columns < 1:
        raise InputError(f"--count and --columns must be at least 1; got {args.count} and {args.columns}")
    row_labels = parse_labels(args.labels)
    seeds = np.arange(args.seed, args.seed + args.count, dtype=np.int64)
    started = time.perf_counter()
    if row_labels:
        all_seeds = np.tile(seeds, len(row_labels))
        labels = np.repeat(np.array(row_labels, np.int64), args.count)
        images, columns = sample_images(client, args.model, all_seeds, labels, args.version, args.label), args.count
    else:
        images, columns = sample_images(client, args.model, seeds, None, args.version, args.label), args.columns
    elapsed_ms = (time.perf_counter() - started) * 1000
    write_grid(Path(args.out), image_grid(images, min(columns, len(images))))
    print(f"wrote {len(images)} samples of {args.model} to {args.out} ({elapsed_ms:.1f} ms for the call)")


def write_grid(path: Path, grid: np.ndarray) -> None:
    """Write an RGB or grey grid as PNG (OpenCV wants BGR)."""
    pixels = cv2.cvtColor(grid, cv2.COLOR_RGB2BGR) if grid.shape[2] == 3 else grid
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), pixels):
        raise InputError(f"cannot write a PNG to {path}")
