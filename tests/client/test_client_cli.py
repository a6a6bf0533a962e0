"""``python -m client``: commands run in-process through ``main(argv)``, and one real ``--help``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from contract_model import CONTRACT, CONTRACT_MODEL, DIGIT_NAMES
from server_process import REPO_ROOT

from client.cli import main


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory) -> str:
    """A 56×56 grey '1'-like stroke; the CLI must shrink it to the model's 28×28×1."""
    image = np.zeros((56, 56), np.uint8)
    cv2.line(image, (28, 8), (28, 48), 255, 6)
    path = str(tmp_path_factory.mktemp("images") / "digit.png")
    cv2.imwrite(path, image)
    return path


def address(server, transport: str) -> list[str]:
    return ["--server", server.grpc_target] if transport == "grpc" else ["--rest", server.rest_url]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_predict_image_prints_top_classes_and_latency(capsys, served, digit_png, transport):
    code, out, err = run(capsys, "predict", "--model", "mnist", *address(served, transport), "--image", digit_png, "--top", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == digit_png and len(lines) == 4
    probabilities = [float(line.split()[0]) for line in lines[1:]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(line.split()[1] == "class" for line in lines[1:])
    assert "predict mnist/serving_default:" in err and " ms" in err


def test_predict_image_names_classes_from_the_contract(capsys, contract_served, digit_png):
    code, out, err = run(capsys, "predict", "--model", CONTRACT_MODEL, *address(contract_served, "grpc"), "--image", digit_png)
    assert code == 0, err
    assert all(line.split()[1] in DIGIT_NAMES for line in out.splitlines()[1:])
    assert "contract digits:" in err


def test_predict_flattened_images_signature(capsys, served, digit_png):
    argv = ["predict", "--model", "mnist", "--server", served.grpc_target, "--signature", "predict_images", "--image", digit_png]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and len(out.splitlines()) == 6


def test_predict_inputs_from_json_and_npy(capsys, served, tmp_path):
    np.save(tmp_path / "a.npy", np.array([[1.0, 2.0]], np.float32))
    argv = ["--input", f"a={tmp_path / 'a.npy'}", "--input", "b=[4]", "--input", 'tag=["hello"]', "--output", "total"]
    code, out, err = run(capsys, "predict", "--model", "two_inputs", "--rest", served.rest_url, *argv)
    assert code == 0, err
    assert out.splitlines() == ["total float32 [1]", "[7.]"]


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_status_prints_every_version(capsys, served, transport):
    code, out, err = run(capsys, "status", "--model", "half_plus_two", *address(served, transport))
    assert code == 0, err
    assert [line.split() for line in out.splitlines()[1:]] == [["1", "AVAILABLE"], ["2", "AVAILABLE"]]
    assert "status half_plus_two:" in err


def test_metadata_prints_signatures(capsys, served):
    code, out, _ = run(capsys, "metadata", "--model", "mnist", "--server", served.grpc_target)
    assert code == 0
    assert "serving_default  (tensorflow/serving/predict)" in out
    assert ["in", "images", "uint8", "(None,", "28,", "28,", "1)"] in [line.split() for line in out.splitlines()]


def test_contract_prints_model_json(capsys, contract_served):
    code, out, _ = run(capsys, "contract", "--model", CONTRACT_MODEL, "--server", contract_served.grpc_target)
    assert code == 0 and json.loads(out) == CONTRACT


def test_list_prints_models_with_labels(capsys, served):
    code, out, _ = run(capsys, "list", "--rest", served.rest_url)
    assert code == 0
    assert "half_plus_two  versions: 1 AVAILABLE, 2 AVAILABLE  labels: canary=2, stable=1" in out.splitlines()


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (["status", "--model", "default", "--server", "localhost:{closed_port}", "--retries", "0"], 1, "error: UNAVAILABLE"),
        (["status", "--model", "default", "--rest", "http://localhost:{closed_port}", "--retries", "0"], 1, "UNAVAILABLE"),
        (["status", "--model", "nope", "--server", "{grpc}"], 1, "error: NOT_FOUND: Could not find any versions of model nope"),
        (["predict", "--model", "nope", "--rest", "{rest}", "--input", "x=1"], 1, "error: NOT_FOUND"),
        (["list", "--server", "{grpc}"], 1, "error: UNIMPLEMENTED"),
        (["predict", "--model", "mnist", "--server", "{grpc}", "--image", "/no/such.png"], 2, "/no/such.png"),
        (["predict", "--model", "default", "--server", "{grpc}", "--input", "x"], 2, "NAME=VALUE"),
        (["predict", "--model", "default", "--server", "{grpc}", "--input", "x=oops"], 2, "neither JSON nor a .npy"),
        (["predict", "--model", "default", "--server", "{grpc}", "--input", "x=/no/x.npy"], 2, "/no/x.npy"),
    ],
)
def test_failures_print_one_line_and_exit_non_zero(capsys, served, closed_port, argv, exit_code, message):
    values = {"grpc": served.grpc_target, "rest": served.rest_url, "closed_port": closed_port}
    code, out, err = run(capsys, *(arg.format(**values) for arg in argv))
    assert code == exit_code
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0] and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["predict", "--image", "a.png"])
    assert exited.value.code == 2
    assert "--model" in capsys.readouterr().err


def test_every_predict_option_is_documented(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--model", "--server", "--rest", "--signature", "--version", "--label", "--image", "--input",
                   "--output", "--top", "--timeout", "--retries"):
        assert option in help_text


def test_help_of_the_real_command():
    result = subprocess.run(
        [sys.executable, "-m", "client", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0
    for command in ("predict", "status", "metadata", "contract", "list"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "command",
    [["predict", "--image", "{png}"], ["contract"], ["metadata"], ["status"]],
    ids=lambda command: command[0],
)
def test_every_command_answers_the_same_over_grpc_and_rest(capsys, contract_served, digit_png, command):
    argv = [part.replace("{png}", digit_png) for part in command] + ["--model", CONTRACT_MODEL]
    answers = {transport: run(capsys, *argv, *address(contract_served, transport)) for transport in ("grpc", "rest")}
    assert answers["grpc"][0] == answers["rest"][0] == 0, answers
    assert answers["grpc"][1] == answers["rest"][1]
    if command[0] == "predict":
        assert all(line.split()[1] in DIGIT_NAMES for line in answers["rest"][1].splitlines()[1:])


def test_list_over_grpc_says_in_one_line_to_use_rest(capsys, served):
    code, out, err = run(capsys, "list", "--server", served.grpc_target)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "error: UNIMPLEMENTED: listing models needs REST (our server's GET /v1/models; TF Serving's gRPC API has no "
        "such call): use --rest http://HOST:8501"
    ]
