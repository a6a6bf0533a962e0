"""``python -m client generate``: text from a char-LSTM model, in one call or streamed character by character.

Without ``--stream`` the model's ``serving_default`` generates the whole text in its graph (one call).
With ``--stream`` the client drives the model's ``step`` signature: the prompt is turned into ids by the
model's ``encode`` signature, then each call feeds the last character and draws the next one, which is
printed at once. Both ways use the same per-character seeds, so they print the same text for the same
seed. The client learns the recurrent states from the signature metadata (every ``step`` input that is
also an output, with its width), so it works over gRPC and REST, against our server or TF Serving.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator

import numpy as np

from client.client import ServingClient
from client.errors import invalid_argument
from client.messages import DEFAULT_SIGNATURE
from client.options import connection_options, model_option, version_options

STEP_SIGNATURE = "step"
ENCODE_SIGNATURE = "encode"
DRAWN_OUTPUTS = ("next_ids", "next_chars")


def add_generate_command(commands: argparse._SubParsersAction) -> None:
    """Add ``generate`` to the sub-commands of ``python -m client``."""
    parser = commands.add_parser(
        "generate", parents=[connection_options(), model_option(), version_options()],
        help="generate text with a char-LSTM model",
        description="Continue a prompt with a character-level language model and report characters per second. "
        "The same seed gives the same text, streamed or not.",
    )
    parser.add_argument("--prompt", required=True, help="text to continue")
    parser.add_argument("--length", type=int, default=200, help="characters to generate (default 200)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature > 0 (default 1.0)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument(
        "--stream", action="store_true", help="drive the 'step' signature, one call and one printed character at a time"
    )
    parser.set_defaults(run=run_generate)


def generate(
    client: ServingClient, model: str, prompt: str, length: int, temperature: float, seed: int,
    version: int | None = None, label: str | None = None,
) -> str:
    """The continuation of prompt, generated in the model's graph by one ``serving_default`` call."""
    inputs = {"prompt": [prompt], "length": [length], "temperature": [temperature], "seed": [seed]}
    outputs = client.predict(model, inputs, DEFAULT_SIGNATURE, version, label, output_filter=["text"])
    return outputs["text"][0].decode("utf-8")


def _prompt_ids(client: ServingClient, model: str, prompt: str, version: int | None, label: str | None) -> np.ndarray:
    """The prompt's ids [1, T] from the model's ``encode``; like serving_default, refuse a prompt it cannot read."""
    encoded = client.predict(model, {"text": [prompt]}, ENCODE_SIGNATURE, version, label)
    ids = encoded["char_ids"][:, : int(encoded["lengths"][0])]
    if not np.any(ids > 0):
        raise invalid_argument(f"the prompt {prompt!r} has no character of the model's charset")
    return ids


def _zero_states(client: ServingClient, model: str, version: int | None, label: str | None) -> dict[str, np.ndarray]:
    """Zero recurrent states: every ``step`` input that is also one of its outputs, [1, width]."""
    spec = client.signature(model, STEP_SIGNATURE, version, label)
    return {
        name: np.zeros((1, tensor.shape[1]), np.float32)
        for name, tensor in spec.inputs.items() if name in spec.outputs
    }


def stream(
    client: ServingClient, model: str, prompt: str, length: int, temperature: float, seed: int,
    version: int | None = None, label: str | None = None,
) -> Iterator[str]:
    """The continuation of prompt, one character per ``step`` call, yielded as each call returns."""
    if length < 1:
        raise invalid_argument(f"length must be at least 1, got {length}")
    char_ids = _prompt_ids(client, model, prompt, version, label)
    states = _zero_states(client, model, version, label)
    wanted = [*DRAWN_OUTPUTS, *states]
    for position in range(length):
        inputs = {"char_ids": char_ids, **states, "temperature": [temperature], "seed": [seed], "position": [position]}
        outputs = client.predict(model, inputs, STEP_SIGNATURE, version, label, output_filter=wanted)
        states = {name: outputs[name] for name in states}
        char_ids = outputs["next_ids"][:, None]
        yield outputs["next_chars"][0].decode("utf-8")


def run_generate(client: ServingClient, args: argparse.Namespace) -> None:
    """Print the prompt and its continuation (as it arrives with --stream), then the speed on stderr."""
    started = time.perf_counter()
    if args.stream:
        print(args.prompt, end="", flush=True)
        count = 0
        for character in stream(client, args.model, args.prompt, args.length, args.temperature, args.seed,
                                args.version, args.label):
            print(character, end="", flush=True)
            count += 1
        how = f"streamed, {count} '{STEP_SIGNATURE}' calls"
    else:
        text = generate(client, args.model, args.prompt, args.length, args.temperature, args.seed,
                        args.version, args.label)
        print(args.prompt + text, end="")
        count, how = len(text), f"in the graph, one '{DEFAULT_SIGNATURE}' call"
    print(flush=True)
    seconds = time.perf_counter() - started
    print(f"{count} characters in {seconds:.2f} s: {count / seconds:.1f} characters/s ({how} over {client.transport})",
          file=sys.stderr)
