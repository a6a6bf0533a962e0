"""Strategy selection, and one classifier job under MirroredStrategy on two logical CPU devices."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from trainer import distribute
from trainer.distribute import (
    STRATEGY_BUILDERS,
    check_tf_config,
    cpu_has_bfloat16,
    describe,
    dtype_policy,
    dtype_policy_scope,
    make_strategy,
    parse_devices,
)
from trainer.errors import TrainerError
from trainer.export import layout
from trainer.vision.classifier_config import STRATEGIES

REPO_ROOT = Path(__file__).resolve().parents[2]
TWO_CPUS_JOB = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from trainer.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_every_strategy_flag_has_a_builder():
    assert set(STRATEGIES) == set(STRATEGY_BUILDERS)


CPU_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 {extra}\nbugs\t\t: spectre_v1\n"


@pytest.mark.parametrize(("extra", "expected"), [("avx512f avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512f", False)])
def test_bfloat16_cpus_are_told_by_their_flags(tmp_path, extra, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPU_FLAGS.format(extra=extra) * 2)
    assert cpu_has_bfloat16(cpuinfo) is expected


def test_a_machine_without_cpuinfo_has_no_bfloat16(tmp_path):
    assert cpu_has_bfloat16(tmp_path / "missing") is False


@pytest.mark.parametrize(
    ("gpus", "bfloat16_cpu", "expected"),
    [(["GPU:0"], True, "mixed_float16"), ([], True, "mixed_bfloat16"), ([], False, "float32")],
)
def test_auto_precision_follows_the_hardware(monkeypatch, gpus, bfloat16_cpu, expected):
    monkeypatch.setattr(distribute.tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(distribute, "cpu_has_bfloat16", lambda: bfloat16_cpu)
    assert dtype_policy("auto") == expected
    assert dtype_policy("float32") == "float32" and dtype_policy("mixed_bfloat16") == "mixed_bfloat16"


def test_unknown_precision_is_named():
    with pytest.raises(TrainerError, match="--precision must be one of auto, float32, .* got 'float8'"):
        dtype_policy("float8")


def test_devices_flag_is_split_on_commas():
    assert parse_devices(" /cpu:0, /cpu:1 ") == ["/cpu:0", "/cpu:1"] and parse_devices(None) == []


def test_none_is_the_default_strategy():
    assert describe(make_strategy("none")) == {"strategy": "default", "replicas": 1, "devices": []}


def test_unknown_device_is_named():
    with pytest.raises(TrainerError, match="no device '/gpu:7' on this machine; it has .*CPU:0"):
        make_strategy("mirrored", ["/gpu:7"])


@pytest.mark.parametrize(
    ("tf_config", "expected"),
    [("{not json", "TF_CONFIG is not valid JSON"), ('{"cluster": {}}', "must be a JSON object with 'cluster' and 'task'")],
)
def test_bad_tf_config_is_refused(monkeypatch, tf_config, expected):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(TrainerError, match=expected):
        check_tf_config()


def test_dtype_policy_scope_restores_the_global_policy():
    with dtype_policy_scope("mixed_float16"):
        assert tf.keras.mixed_precision.global_policy().name == "mixed_float16"
    assert tf.keras.mixed_precision.global_policy().name == "float32"


def test_mirrored_job_on_two_cpus_exports_the_same_shapes_as_one_device(tmp_path, tiny_run):
    argv = ["vision", "classifier", "--data-dir", str(tiny_run.data_dir), "--epochs", "1", "--batch-size", "32"]
    argv += ["--export-root", str(tmp_path / "saved_models"), "--run-dir", str(tmp_path / "run")]
    argv += ["--model-name", "mirrored", "--distribute", "mirrored", "--devices", "/cpu:0,/cpu:1"]
    result = subprocess.run(
        [sys.executable, "-c", TWO_CPUS_JOB, *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    export_dir = tmp_path / "saved_models" / "mirrored" / "1"
    training = json.loads((export_dir / layout.MODEL_JSON).read_text())["training"]
    assert training["strategy"] == "MirroredStrategy" and training["replicas"] == 2
    assert [device[-5:] for device in training["devices"]] == ["CPU:0", "CPU:1"]
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1)).astype(np.uint8))
    mirrored, single = (tf.saved_model.load(str(path)) for path in (export_dir, tiny_run.export_dir))
    for name in ("serving_default", "features"):
        got, expected = mirrored.signatures[name](images=images), single.signatures[name](images=images)
        assert {k: v.shape for k, v in got.items()} == {k: v.shape for k, v in expected.items()}, name
