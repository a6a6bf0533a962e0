"""The VAE run's pictures, drawn with matplotlib from the functions the export serves.

- `latent_scatter.png`: the posterior means of the test images, one dot per image coloured by class (colour bar
  with the class names); a 2-D latent is drawn as is, a larger one projected on its first two principal
  components (PCA in NumPy);
- `manifold.png`: images decoded from a grid of z over [-2, 2]^2 (two prior standard deviations) in the first
  two latent dimensions, the others at the prior mean 0 (keras-io's latent-space picture), with z on the axes;
- `reconstructions.png`: rows of test images, each above its reconstruction.

Each is also logged to the run's TensorBoard as an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from trainer.data.image_datasets import ImageDataset
from trainer.figures import log_png_to_tensorboard, new_figure, save_figure
from trainer.vision.image_grid import image_grid, write_png
from trainer.vision.vae_export import VAEGraph, in_batches

MANIFOLD_SIDE = 16
MANIFOLD_EXTENT = 2.0
RECONSTRUCTION_COLUMNS, RECONSTRUCTION_ROW_PAIRS = 10, 4
SCATTER_OUTLIER_PERCENTILES = (0.5, 99.5)


def project_2d(points: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    """[N, D] points as [N, 2] and the axis names: as is for D = 2, the first two principal components for D > 2."""
    if points.shape[1] == 1:
        return np.concatenate([points, np.zeros_like(points)], axis=1), ("z[0]", "0")
    if points.shape[1] == 2:
        return points, ("z[0]", "z[1]")
    centred = points - points.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T, ("PC1 of z_mean", "PC2 of z_mean")


def write_latent_scatter(path: Path, points: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...],
                         axis_names: tuple[str, str]) -> Path:
    """A scatter plot of 2-D points coloured by class, with a colour bar naming the classes; the points are drawn
    in a shuffled order so no class hides another, and the view spans the 0.5-99.5 percentiles."""
    classes = len(class_names)
    colours = ListedColormap([f"C{index % 10}" for index in range(classes)])
    norm = BoundaryNorm(np.arange(classes + 1) - 0.5, classes)
    order = np.random.default_rng(0).permutation(len(points))
    figure = new_figure(7.5, 6)
    axes = figure.add_subplot()
    dots = axes.scatter(points[order, 0], points[order, 1], c=labels[order], cmap=colours, norm=norm, s=3,
                        alpha=0.7, linewidths=0)
    bar = figure.colorbar(dots, ax=axes, ticks=np.arange(classes), label="class")
    bar.ax.set_yticklabels(class_names)
    low, high = np.percentile(points, SCATTER_OUTLIER_PERCENTILES, axis=0)
    axes.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), xlabel=axis_names[0], ylabel=axis_names[1],
             title=f"posterior means of {len(points):,} test images")
    axes.grid(alpha=0.3)
    return save_figure(figure, path)


def write_manifold(path: Path, decoded: np.ndarray) -> Path:
    """The images decoded from manifold_latents, tiled on the z grid they come from, with z[0] and z[1] on the axes."""
    grid = image_grid(decoded, MANIFOLD_SIDE)
    figure = new_figure(7, 7)
    axes = figure.add_subplot()
    half_cell = MANIFOLD_EXTENT / (MANIFOLD_SIDE - 1)
    extent = (-MANIFOLD_EXTENT - half_cell, MANIFOLD_EXTENT + half_cell) * 2
    axes.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray", extent=extent)
    axes.set(xlabel="z[0]", ylabel="z[1]", title="decoded from a grid of latent codes (other dimensions 0)")
    return save_figure(figure, path)


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
    decoded = np.asarray(graph.decode(manifold_latents(graph.latent_dim)))
    shown = test.images[: RECONSTRUCTION_COLUMNS * RECONSTRUCTION_ROW_PAIRS]
    rows, columns = reconstruction_rows(shown, np.asarray(graph.reconstruct(shown)))
    reconstructions = write_png(run_dir / "reconstructions.png", image_grid(rows, columns))
    log_png_to_tensorboard(reconstructions)
    return {
        "latent_scatter": write_latent_scatter(run_dir / "latent_scatter.png", points, test.labels,
                                               dataset.class_names, axis_names),
        "manifold": write_manifold(run_dir / "manifold.png", decoded),
        "reconstructions": reconstructions,
    }
