"""``python -m client generate`` against a served tiny char-LSTM: in-graph, streamed, both transports, bad input."""

from __future__ import annotations

import argparse

import pytest
from server_process import ServerHandle, start_in_process

from client import ClientError, ServingClient
from client.cli import connect
from client.generate import add_generate_command, generate, stream
from trainer.sequence.charlstm import train_charlstm
from trainer.sequence.charlstm_config import CharLSTMConfig

MODEL = "tiny_writer"
MAX_LENGTH = 120
TEXT = "the cat sat on the mat and the dog ran to the café\n" * 60


@pytest.fixture(scope="module")
def writer_served(tmp_path_factory) -> ServerHandle:
    """A 1-layer LSTM(24) trained for 3 steps on a text written here, exported and served."""
    root = tmp_path_factory.mktemp("writer")
    (root / "corpus.txt").write_text(TEXT)
    config = CharLSTMConfig(
        text=str(root / "corpus.txt"), embedding_dim=8, lstm_units=24, lstm_layers=1, seq_length=20, batch_size=16,
        epochs=1, steps_per_epoch=3, sample_length=5, sample_temperatures="1.0", max_length=MAX_LENGTH,
        export_root=root / "models", run_dir=root / "run", model_name=MODEL,
    )
    train_charlstm(config)
    handle = start_in_process(f"--model_name={MODEL}", f"--model_base_path={root / 'models' / MODEL}")
    yield handle
    handle.stop()


@pytest.fixture(scope="module", params=["grpc", "rest"])
def writer(request, writer_served) -> ServingClient:
    target = writer_served.grpc_target if request.param == "grpc" else writer_served.rest_url
    with ServingClient(target, request.param, timeout=30) as opened:
        yield opened


def test_generation_is_reproducible_and_the_same_over_both_transports(writer, writer_served):
    text = generate(writer, MODEL, "the cat", 40, 1.0, seed=5)
    assert len(text) == 40 and generate(writer, MODEL, "the cat", 40, 1.0, seed=5) == text
    with ServingClient(writer_served.grpc_target, "grpc", timeout=30) as other:
        assert generate(other, MODEL, "the cat", 40, 1.0, seed=5) == text


def test_streaming_through_step_gives_the_in_graph_text(writer):
    for prompt in ("the dog", "café 🙂"):
        assert "".join(stream(writer, MODEL, prompt, 25, 0.8, seed=7)) == generate(writer, MODEL, prompt, 25, 0.8, 7)


@pytest.mark.parametrize(
    "prompt, length, temperature, message",
    [
        ("the", 0, 1.0, "length must be at least 1"),
        ("the", MAX_LENGTH + 1, 1.0, f"length must be at most {MAX_LENGTH}"),
        ("the", 5, 0.0, "temperature must be positive"),
        ("🙂", 5, 1.0, "at least one known character"),
    ],
)
def test_bad_input_is_invalid_argument_over_grpc_and_400_over_rest(writer, prompt, length, temperature, message):
    with pytest.raises(ClientError, match=message) as caught:
        generate(writer, MODEL, prompt, length, temperature, seed=0)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert writer.transport == "grpc" or caught.value.http_status == 400


def test_streaming_refuses_a_prompt_without_known_characters(writer):
    with pytest.raises(ClientError, match="no character of the model's charset") as caught:
        list(stream(writer, MODEL, "🙂🙂", 5, 1.0, seed=0))
    assert caught.value.code == "INVALID_ARGUMENT"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m client")
    add_generate_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_the_generate_command_prints_the_same_text_streamed_or_not(capsys, writer_served, transport):
    where = ["--server", writer_served.grpc_target] if transport == "grpc" else ["--rest", writer_served.rest_url]
    printed = {}
    for mode in ([], ["--stream"]):
        args = parse(["generate", "--model", MODEL, *where, "--prompt", "the ", "--length", "30", "--seed", "3", *mode])
        with connect(args) as client:
            args.run(client, args)
        captured = capsys.readouterr()
        printed[bool(mode)] = captured.out
        assert "30 characters in" in captured.err and "characters/s" in captured.err
    assert printed[True] == printed[False]
    assert printed[True].startswith("the ") and len(printed[True]) == len("the ") + 30 + 1
