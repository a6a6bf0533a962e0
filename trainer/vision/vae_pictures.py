"""The VAE run's pictures, drawn with OpenCV from the functions the export serves.

- `latent_scatter.png`: the posterior means of the test images, one dot per image coloured by class; a 2-D
  latent is drawn as is, a larger one projected on its first two principal components (PCA in NumPy);
- `manifold.png`: images decoded from a grid of z over [-2, 2]^2 (two prior standard deviations) in the first
  two latent dimensions, the others at the prior mean 0 (keras-io's latent-space picture);
- `reconstructions.png`: rows of test images, each above its reconstruction.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from trainer.data.image_datasets import ImageDataset
from trainer.vision.image_grid import image_grid, write_png
from trainer.vision.vae_export import VAEGraph, in_batches

MANIFOLD_SIDE = 16
MANIFOLD_EXTENT = 2.0
RECONSTRUCTION_COLUMNS, RECONSTRUCTION_ROW_PAIRS = 10, 4
PLOT_SIZE, PLOT_MARGIN, LEGEND_WIDTH = 560, 40, 190
FONT = cv2.FONT_HERSHEY_SIMPLEX
TAB10_RGB = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
             (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def project_2d(points: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    """[N, D] points as [N, 2] and the axis names: as is for D = 2, the first two principal components for D > 2."""
    if points.shape[1] == 1:
        return np.concatenate([points, np.zeros_like(points)], axis=1), ("z[0]", "0")
    if points.shape[1] == 2:
        return points, ("z[0]", "z[1]")
    centred = points - points.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T, ("PC1 of z_mean", "PC2 of z_mean")


def _pixel_positions(points: np.ndarray) -> np.ndarray:
    """Plot coordinates of points, the 0.5-99.5 percentile range filling the plot (outliers on the border)."""
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    unit = np.clip((points - low) / np.maximum(high - low, 1e-9), 0, 1)
    x = PLOT_MARGIN + unit[:, 0] * PLOT_SIZE
    y = PLOT_MARGIN + (1 - unit[:, 1]) * PLOT_SIZE
    return np.stack([x, y], axis=1).round().astype(int)


def _draw_legend(canvas: np.ndarray, class_names: tuple[str, ...]) -> None:
    left = 2 * PLOT_MARGIN + PLOT_SIZE
    for label, name in enumerate(class_names):
        top = PLOT_MARGIN + 24 * label
        colour = TAB10_RGB[label % len(TAB10_RGB)]
        cv2.rectangle(canvas, (left, top), (left + 14, top + 14), colour, thickness=-1)
        cv2.putText(canvas, f"{label} {name}", (left + 20, top + 12), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)


def render_latent_scatter(
    points: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], axis_names: tuple[str, str]
) -> np.ndarray:
    """An RGB scatter plot of 2-D points coloured by class, drawn in a shuffled order so no class hides another."""
    side = PLOT_SIZE + 2 * PLOT_MARGIN
    canvas = np.full((side, side + LEGEND_WIDTH, 3), 255, np.uint8)
    positions = _pixel_positions(points)
    for index in np.random.default_rng(0).permutation(len(points)):
        colour = TAB10_RGB[int(labels[index]) % len(TAB10_RGB)]
        cv2.circle(canvas, tuple(int(value) for value in positions[index]), 2, colour, thickness=-1)
    cv2.rectangle(canvas, (PLOT_MARGIN, PLOT_MARGIN), (PLOT_MARGIN + PLOT_SIZE, PLOT_MARGIN + PLOT_SIZE), (0, 0, 0))
    cv2.putText(canvas, f"x: {axis_names[0]}", (PLOT_MARGIN, side - 12), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, f"y: {axis_names[1]}", (PLOT_MARGIN, 26), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    _draw_legend(canvas, class_names)
    return canvas


def manifold_latents(latent_dim: int) -> np.ndarray:
    """[side*side, D] codes on a grid over the first two dimensions (top row: highest z[1]), the rest 0."""
    values = np.linspace(-MANIFOLD_EXTENT, MANIFOLD_EXTENT, MANIFOLD_SIDE, dtype=np.float32)
    rows, columns = np.meshgrid(values[::-1], values, indexing="ij")
    z = np.zeros((MANIFOLD_SIDE * MANIFOLD_SIDE, latent_dim), np.float32)
    z[:, 0] = columns.ravel()
    if latent_dim > 1:
        z[:, 1] = rows.ravel()
    return z


def reconstruction_rows(originals: np.ndarray, reconstructions: np.ndarray) -> tuple[np.ndarray, int]:
    """Images ordered as alternating rows of originals and their reconstructions, and the number of columns."""
    columns = min(RECONSTRUCTION_COLUMNS, len(originals))
    row_pairs = min(RECONSTRUCTION_ROW_PAIRS, len(originals) // columns)
    shape = (row_pairs, columns, *originals.shape[1:])
    count = row_pairs * columns
    pairs = np.stack([originals[:count].reshape(shape), reconstructions[:count].reshape(shape)], axis=1)
    return pairs.reshape(-1, *originals.shape[1:]), columns


def write_pictures(run_dir: Path, graph: VAEGraph, dataset: ImageDataset) -> dict[str, Path]:
    """Write the three pictures of the module docstring into run_dir; return their paths by name."""
    test = dataset.test
    z_mean = in_batches(lambda images: graph.encode(images)[0], test.images)
    points, axis_names = project_2d(z_mean)
    scatter = render_latent_scatter(points, test.labels, dataset.class_names, axis_names)
    manifold = image_grid(np.asarray(graph.decode(manifold_latents(graph.latent_dim))), MANIFOLD_SIDE)
    shown = test.images[: RECONSTRUCTION_COLUMNS * RECONSTRUCTION_ROW_PAIRS]
    rows, columns = reconstruction_rows(shown, np.asarray(graph.reconstruct(shown)))
    return {
        "latent_scatter": write_png(run_dir / "latent_scatter.png", scatter),
        "manifold": write_png(run_dir / "manifold.png", manifold),
        "reconstructions": write_png(run_dir / "reconstructions.png", image_grid(rows, columns)),
    }
