"""`python -m trainer`: help, presets, and one-line errors with exit status 2 for mistakes a user can make."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.cli import build_parser, main
from trainer.config import config_from_args
from trainer.errors import TrainerError
from trainer.vision.classifier_config import QUICK_PRESET, ClassifierConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_help_documents_every_config_field():
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "vision", "classifier", "--help"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    for field in dataclasses.fields(ClassifierConfig):
        assert "--" + field.name.replace("_", "-") in result.stdout
    assert "--quick" in result.stdout


def test_building_the_parser_does_not_load_tensorflow():
    script = "import sys; from trainer.cli import build_parser; build_parser(); print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_quick_preset_fills_unset_flags_and_explicit_flags_win():
    args = build_parser().parse_args(["vision", "classifier", "--quick", "--epochs", "3"])
    config = config_from_args(ClassifierConfig, args, QUICK_PRESET)
    assert config.epochs == 3 and config.limit_train == QUICK_PRESET["limit_train"]
    assert config.model_name == "fashion_mnist_classifier"


def test_atari_preset_sets_the_recipe_and_its_exploration_lasts_250k_steps():
    from trainer.rl.dqn_config import ATARI_PRESET, DQNConfig

    args = build_parser().parse_args(["rl", "dqn", "--atari", "--env", "ALE/Breakout-v5", "--num-envs", "4"])
    config = config_from_args(DQNConfig, args, ATARI_PRESET)
    assert (config.n_step, config.adam_epsilon, config.train_frequency) == (3, 1.5e-4, 2)
    assert config.num_envs == 4 and config.model_name == "breakout_dqn"
    assert config.exploration_fraction * config.total_timesteps == pytest.approx(250_000)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "required: FAMILY"),
        (["vision", "classifier", "--epochs", "0"], "--epochs must be at least 1, got 0"),
        (["vision", "classifier", "--learning-rate", "fast"], "invalid float value: 'fast'"),
        (["vision", "classifier", "--bogus"], "unrecognized arguments: --bogus"),
        (["vision", "classifier", "--model-name", "../up"], "model name '../up' must match"),
    ],
)
def test_bad_flags_exit_2_with_one_line(error_line, argv, expected):
    assert main(argv) == 2
    assert expected in error_line()


def test_missing_data_dir_exits_2_and_creates_no_run_dir(error_line, tmp_path):
    argv = ["vision", "classifier", "--data-dir", str(tmp_path / "absent"), "--run-dir", str(tmp_path / "run")]
    assert main([*argv, "--export-root", str(tmp_path / "saved_models")]) == 2
    assert "is not a directory" in error_line()
    assert not (tmp_path / "run").exists() and not (tmp_path / "saved_models").exists()


def test_empty_data_dir_exits_2_naming_the_missing_files(error_line, tmp_path):
    argv = ["vision", "classifier", "--data-dir", str(tmp_path), "--run-dir", str(tmp_path / "run")]
    assert main([*argv, "--export-root", str(tmp_path / "saved_models")]) == 2
    assert "lacks train-images-idx3-ubyte.gz" in error_line()


def test_name_taken_by_another_family_exits_2_and_leaves_it_untouched(error_line, tmp_path, dataset_dir_writer):
    model_json = tmp_path / "saved_models" / "shared_name" / "1" / "assets.extra" / "model.json"
    model_json.parent.mkdir(parents=True)
    model_json.write_text(json.dumps({"family": "vae"}))
    argv = ["vision", "classifier", "--data-dir", str(dataset_dir_writer(tmp_path / "data", train=8, test=4))]
    argv += ["--export-root", str(tmp_path / "saved_models"), "--model-name", "shared_name"]
    assert main([*argv, "--run-dir", str(tmp_path / "run")]) == 2
    assert "family 'vae', not 'image_classifier'" in error_line()
    assert sorted(p.name for p in (tmp_path / "saved_models" / "shared_name").iterdir()) == ["1"]
    assert json.loads(model_json.read_text()) == {"family": "vae"} and not (tmp_path / "run").exists()


def test_export_root_that_is_a_file_exits_2_before_training(error_line, tmp_path, dataset_dir_writer):
    (tmp_path / "saved_models").write_text("not a folder")
    argv = ["vision", "classifier", "--data-dir", str(dataset_dir_writer(tmp_path / "data", train=8, test=4))]
    assert main([*argv, "--export-root", str(tmp_path / "saved_models"), "--run-dir", str(tmp_path / "run")]) == 2
    assert "saved_models exists and is not a directory" in error_line()
    assert not (tmp_path / "run").exists()


def _parsed_config(arguments: list[str], export_root: Path | None):
    from trainer.cli import FAMILIES, guard_export_name

    root = ["--export-root", str(export_root)] if export_root else []
    args = build_parser().parse_args([*arguments, *root])
    job = FAMILIES[args.family][1][args.model]
    quick = getattr(args, "quick", False)
    config = config_from_args(job.config_cls, args, job.presets["quick"].values if quick else {})
    return guard_export_name(config, vars(args).keys(), quick)


def _ship_version(export_root: Path, name: str, version: int) -> None:
    (export_root / name / str(version)).mkdir(parents=True)


def test_a_quick_run_without_a_model_name_exports_away_from_saved_models():
    from trainer.cli import QUICK_EXPORT_ROOT

    config = _parsed_config(["sequence", "charlstm", "--quick"], None)
    assert (config.export_root, config.model_name) == (QUICK_EXPORT_ROOT, "charlstm")
    named = _parsed_config(["sequence", "charlstm", "--quick", "--model-name", "charlstm"], None)
    assert named.export_root == Path("saved_models")


def test_a_full_run_without_a_model_name_may_not_add_a_version_to_a_served_model(tmp_path):
    _ship_version(tmp_path, "fashion_mnist_vae", 1)
    with pytest.raises(TrainerError, match=r"--model-name fashion_mnist_vae adds version 2"):
        _parsed_config(["vision", "vae", "--epochs", "1"], tmp_path)
    assert _parsed_config(["vision", "vae", "--model-name", "fashion_mnist_vae"], tmp_path).model_name == "fashion_mnist_vae"
    assert _parsed_config(["vision", "vae", "--dataset", "mnist"], tmp_path).model_name == "mnist_vae"


def test_the_refusal_is_one_line_before_any_training(tmp_path):
    _ship_version(tmp_path, "charlstm", 1)
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "sequence", "charlstm", "--export-root", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "tensorflow" not in result.stdout.lower()
