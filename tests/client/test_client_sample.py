"""``python -m client sample``: a generative model's ``sample`` signature as a PNG grid, over gRPC and REST."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import tensorflow as tf
from server_process import start_in_process

from client.cli import main

SIDE = 4


class SeedPainter(tf.Module):
    """A stand-in generator: image i is filled with (seed_i + 10 * label_i) % 256, so the grid can be read back."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="seeds")])
    def sample(self, seeds):
        return {"images": self._paint(seeds)}

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.int64, name="seeds"), tf.TensorSpec([None], tf.int64, name="labels")]
    )
    def sample_labelled(self, seeds, labels):
        return {"images": self._paint(seeds + 10 * labels)}

    @staticmethod
    def _paint(values):
        levels = tf.cast(values % 256, tf.uint8)
        return tf.tile(tf.reshape(levels, [-1, 1, 1, 1]), [1, SIDE, SIDE, 1])


@pytest.fixture(scope="module")
def generators(tmp_path_factory):
    root = tmp_path_factory.mktemp("generators")
    module = SeedPainter()
    tf.saved_model.save(module, os.path.join(root, "plain", "1"), signatures={"sample": module.sample})
    tf.saved_model.save(module, os.path.join(root, "conditional", "1"), signatures={"sample": module.sample_labelled})
    config = root / "models.config"
    config.write_text(
        "model_config_list {\n"
        + "".join(f"  config {{ name: '{name}' base_path: '{root / name}' model_platform: 'tensorflow' }}\n"
                  for name in ("plain", "conditional"))
        + "}\n"
    )
    handle = start_in_process(f"--model_config_file={config}")
    yield handle
    handle.stop()


def cell_levels(path, rows: int, columns: int) -> np.ndarray:
    grid = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    step = SIDE + 2
    assert grid.shape == (rows * step - 2, columns * step - 2)
    return grid[::step, ::step]


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_grid_holds_one_image_per_seed_in_order(generators, tmp_path, capsys, transport):
    where = ["--server", generators.grpc_target] if transport == "grpc" else ["--rest", generators.rest_url]
    out = tmp_path / "grid.png"
    code = main(["sample", "--model", "plain", *where, "--count", "6", "--seed", "5", "--columns", "3", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert cell_levels(out, rows=2, columns=3).tolist() == [[5, 6, 7], [8, 9, 10]]


def test_conditional_model_gets_one_row_per_label(generators, tmp_path, capsys):
    out = tmp_path / "grid.png"
    argv = ["sample", "--model", "conditional", "--server", generators.grpc_target, "--count", "2", "--labels", "1,3"]
    assert main([*argv, "--out", str(out)]) == 0, capsys.readouterr().err
    assert cell_levels(out, rows=2, columns=2).tolist() == [[10, 11], [30, 31]]


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("conditional", [], "is conditional: pass --labels"),
        ("plain", ["--labels", "1"], "takes no labels"),
        ("plain", ["--labels", "one"], "--labels takes comma-separated class ids"),
        ("plain", ["--count", "0"], "--count and --columns must be at least 1"),
    ],
)
def test_bad_requests_name_the_problem(generators, tmp_path, capsys, model, extra, message):
    argv = ["sample", "--model", model, "--server", generators.grpc_target, "--out", str(tmp_path / "g.png"), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()
