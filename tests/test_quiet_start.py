"""Quiet start-up (`tf_startup`): no TensorFlow start-up lines from our command lines, unless asked for."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
from server_process import REPO_ROOT

import tf_startup

START_UP_MARKERS = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "cuInit")


def _run(arguments: list[str], **environment: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", tf_startup.VERBOSE_ENV)}
    return subprocess.run([sys.executable, *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={**env, **environment})


@pytest.mark.parametrize("command", [["-m", "client", "--help"], ["-m", "serving", "--help"]])
def test_command_lines_start_without_tensorflow_lines(command):
    result = _run(command)
    assert result.returncode == 0, result.stderr
    assert not [marker for marker in START_UP_MARKERS if marker in result.stderr + result.stdout]


def test_verbose_environment_variable_shows_them():
    result = _run(["-m", "client", "--help"], KSLAB_VERBOSE="1")
    assert "absl::InitializeLog" in result.stderr


def test_other_lines_written_during_start_up_still_reach_the_screen():
    script = ("import os, tf_startup\n"
              "with tf_startup.stderr_without_start_up_noise():\n"
              "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
              "    os.write(2, b'E0000 00:00:1796622595.183608    5380 loader.cc:52] a real error\\n')\n")
    result = _run(["-c", script])
    assert result.stderr == "E0000 00:00:1796622595.183608    5380 loader.cc:52] a real error\n"


def test_a_failed_cuinit_is_noise_only_on_a_machine_without_an_nvidia_device():
    line = "E0000 00:00:1796622595.183608    5380 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
    assert tf_startup.is_start_up_noise(line, gpu_machine=False)
    assert not tf_startup.is_start_up_noise(line, gpu_machine=True)


def test_third_party_warnings_are_hidden_and_ours_stay():
    with warnings.catch_warnings(record=True) as caught:
        tf_startup.hide_third_party_warnings()
        warnings.warn_explicit("old API", DeprecationWarning, "keras/src/layer.py", 1, module="keras.src.layer")
        warnings.warn_explicit("check this", UserWarning, "trainer/runs.py", 1, module="trainer.runs")
    assert [str(warning.message) for warning in caught] == ["check this"]
