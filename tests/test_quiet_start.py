"""Quiet start-up (`tf_startup`): no TensorFlow start-up lines from our command lines, unless asked for."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
from server_process import REPO_ROOT

import tf_startup
from tf_startup.noise import is_noise

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
              "with tf_startup.stderr_filter.filtered_while():\n"
              "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
              "    os.write(2, b'E0000 00:00:1796622595.183608    5380 loader.cc:52] a real error\\n')\n")
    result = _run(["-c", script])
    assert result.stderr == "E0000 00:00:1796622595.183608    5380 loader.cc:52] a real error\n"


def test_a_failed_cuinit_is_noise_only_on_a_machine_without_an_nvidia_device():
    line = "E0000 00:00:1796622595.183608    5380 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
    assert is_noise(line, gpu_machine=False)
    assert not is_noise(line, gpu_machine=True)


def test_third_party_warnings_are_hidden_and_ours_stay():
    with warnings.catch_warnings(record=True) as caught:
        tf_startup.hide_third_party_warnings()
        warnings.warn_explicit("old API", DeprecationWarning, "keras/src/layer.py", 1, module="keras.src.layer")
        warnings.warn_explicit("check this", UserWarning, "trainer/runs.py", 1, module="trainer.runs")
    assert [str(warning.message) for warning in caught] == ["check this"]


def test_a_command_line_filter_keeps_real_lines_progress_bars_and_the_last_traceback():
    script = ("import os, time\n"
              "from tf_startup.stderr_filter import StderrFilter\n"
              "StderrFilter().start()\n"
              "os.write(2, b'E0000 00:00:1796623460.251976    7812 util.cc:131] oneDNN supports DT_INT64 only on "
              "platforms with AVX-512. Falling back\\n')\n"
              "os.write(2, b'2026-12-07 06:04:19,255 INFO serving: loaded\\n')\n"
              "os.write(2, b'\\r 50%|#####     | 5/10')\n"
              "raise SystemExit('error: the last line')\n")
    result = _run(["-c", script])
    assert result.returncode == 1
    assert "oneDNN" not in result.stderr
    assert result.stderr.startswith("2026-12-07 06:04:19,255 INFO serving: loaded\n")
    assert result.stderr.endswith(" 50%|#####     | 5/10error: the last line\n")


@pytest.mark.parametrize("line", [
    "I0000 00:00:1796622593.127732    5380 port.cc:153] oneDNN custom operations are on. You may see slightly\n",
    "I0000 00:00:1796622593.128002    5380 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n",
    "E0000 00:00:1796623460.251976    7812 util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512.\n",
    "A.L.E: Arcade Learning Environment (version 0.12.1+8a8fafb)\n",
    "[Powered by Stella]\n",
])
def test_known_notices_are_noise(line):
    assert is_noise(line, gpu_machine=True)


@pytest.mark.parametrize("line", [
    "E0000 00:00:1796623460.251976    7812 op_kernel.cc:1857] OP_REQUIRES failed: INVALID_ARGUMENT\n",
    "error: cannot read an image from 'shoe.png'\n",
    "A.L.E: cannot load the ROM\n",
])
def test_other_lines_are_not(line):
    assert not is_noise(line, gpu_machine=False)
