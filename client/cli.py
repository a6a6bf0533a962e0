"""``python -m client``: call a served model from the shell over gRPC or REST.

Results go to stdout; the latency of every call goes to stderr, so ``contract > model.json`` stays
clean. Failures print one line: exit code 1 when a call fails (bad address, unknown model, server
error), 2 when the command line or a local file is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from client.client import METADATA_SIGNATURE, ServingClient
from client.errors import ClientError, InputError
from client.evaluate import evaluate_folder, read_labelled_folder
from client.generate import add_generate_command
from client.images import image_input, load_images
from client.loadgen import add_bench_command
from client.messages import DEFAULT_SIGNATURE, SignatureSpec
from client.options import DEFAULT_GRPC_TARGET, connection_options, model_option, version_options
from client.play import add_play_command
from client.sample import add_sample_command
from client.scores import probability_output
from client.stream import add_stream_command

Result = TypeVar("Result")


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per client call, each documenting its options."""
    parser = argparse.ArgumentParser(
        prog="python -m client",
        description="Call models on a TensorFlow Serving compatible server (ours or the real one).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_predict(commands)
    status = commands.add_parser(
        "status", parents=[connection_options(), model_option()], help="version states of a model",
        description="Each version of the model the server knows: its state and load error.",
    )
    status.add_argument("--version", type=int, help="only this version")
    status.set_defaults(run=run_status)
    metadata = commands.add_parser(
        "metadata", parents=[connection_options(), model_option(), version_options()],
        help="signatures of a model", description="The model's signatures: inputs and outputs with dtype and shape.",
    )
    metadata.set_defaults(run=run_metadata)
    contract = commands.add_parser(
        "contract", parents=[connection_options(), model_option(), version_options()],
        help="model.json of a model",
        description="The model's model.json, read from its 'metadata' signature. Over REST this needs our server "
        "(TF Serving's REST API cannot call a signature without inputs); against TF Serving use gRPC.",
    )
    contract.set_defaults(run=run_contract)
    listing = commands.add_parser(
        "list", parents=[connection_options()], help="every model (our server's REST extension)",
        description="Every model with its versions and labels: GET /v1/models, our server's extension (needs --rest).",
    )
    listing.set_defaults(run=run_list)
    _add_evaluate(commands)
    add_generate_command(commands)
    add_sample_command(commands)
    add_play_command(commands)
    add_stream_command(commands)
    add_bench_command(commands)
    return parser


def _add_predict(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict", parents=[connection_options(), model_option(), version_options()],
        help="run a signature on images or tensors",
        description="Run a signature. With --image, the files are read with OpenCV, resized and converted to the "
        "image input the signature declares (e.g. 28x28x1 uint8), and the top classes are printed.",
    )
    predict.add_argument("--signature", help=f"signature to run (default {DEFAULT_SIGNATURE})")
    data = predict.add_mutually_exclusive_group(required=True)
    data.add_argument("--image", nargs="+", metavar="PNG_OR_JPG", help="image files, sent as one batch")
    data.add_argument(
        "--input", action="append", metavar="NAME=VALUE",
        help="one input tensor, repeated for each input: NAME=FILE.npy or NAME=JSON, e.g. x='[1.0, 2.0]' or "
        "tag='[\"text\"]'",
    )
    predict.add_argument("--output", action="append", metavar="NAME", help="return only this output (repeatable)")
    predict.add_argument("--top", type=int, default=5, help="classes shown per image (default 5)")
    predict.set_defaults(run=run_predict)


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate", parents=[connection_options(), model_option()],
        help="accuracy and latency on a labelled image folder",
        description="Classify every image listed in FOLDER/labels.csv (columns file,label_id, as written by "
        "'python -m trainer vision samples') in batches, then print the accuracy, the latency per call "
        "(p50, p99) and the images per second.",
    )
    evaluate.add_argument("--images", required=True, metavar="FOLDER", help="folder with labels.csv and the images")
    evaluate.add_argument("--signature", help=f"signature to run (default {DEFAULT_SIGNATURE})")
    evaluate.add_argument("--batch-size", type=int, default=32, help="images per call (default 32)")
    evaluate.add_argument("--limit", type=int, help="only the first LIMIT images of labels.csv")
    evaluate.set_defaults(run=run_evaluate)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code instead of raising (usage errors exit 2 through argparse)."""
    args = build_parser().parse_args(argv)
    try:
        with connect(args) as client:
            args.run(client, args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ClientError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1
    return 0


def connect(args: argparse.Namespace) -> ServingClient:
    if args.rest:
        return ServingClient(args.rest, "rest", timeout=args.timeout, retries=args.retries, protocol=args.protocol)
    return ServingClient(
        args.server or DEFAULT_GRPC_TARGET, "grpc", timeout=args.timeout, retries=args.retries, protocol=args.protocol
    )


def timed(what: str, call: Callable[[], Result]) -> Result:
    """``call()``, printing how long it took to stderr."""
    started = time.perf_counter()
    result = call()
    print(f"{what}: {(time.perf_counter() - started) * 1000:.1f} ms", file=sys.stderr)
    return result


def run_predict(client: ServingClient, args: argparse.Namespace) -> None:
    signature_name = args.signature or DEFAULT_SIGNATURE
    inputs: dict[str, Any] = dict(parse_input(item) for item in args.input or [])
    signatures = timed(f"metadata {args.model}", lambda: client.metadata(args.model, args.version, args.label))
    spec = client.signature(args.model, signature_name, args.version, args.label)
    if args.image:
        image_spec = image_input(signature_name, spec)
        inputs = {image_spec.name: load_images(args.image, image_spec)}
    outputs = timed(
        f"predict {args.model}/{signature_name}",
        lambda: client.predict(args.model, inputs, signature_name, args.version, args.label, args.output),
    )
    scores = probability_output(spec, outputs) if args.image else None
    if scores is None:
        print_outputs(outputs)
        return
    names = class_names(client, args, signatures, signature_name, scores)
    print_top_classes(args.image, outputs[scores], names, args.top)


def parse_input(item: str) -> tuple[str, Any]:
    """``NAME=FILE.npy`` or ``NAME=JSON`` as a name and a value."""
    name, separator, value = item.partition("=")
    if not separator or not name:
        raise InputError(f"--input takes NAME=VALUE; got {item!r}")
    if value.endswith(".npy"):
        try:
            return name, np.load(value, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError(f"cannot load input {name!r} from {value!r}: {error}") from None
    try:
        return name, json.loads(value)
    except ValueError:
        raise InputError(f"--input {name}: {value!r} is neither JSON nor a .npy file") from None


def class_names(
    client: ServingClient, args: argparse.Namespace, signatures: dict[str, SignatureSpec], signature: str, output: str
) -> list[str] | None:
    """The labels model.json gives for ``output``; None when the model has no contract or it cannot be read
    (REST on TF Serving: then one line says so and what to use)."""
    if METADATA_SIGNATURE not in signatures:
        return None
    try:
        contract = timed(f"contract {args.model}", lambda: client.contract(args.model, args.version, args.label))
    except ClientError as error:
        if error.code != "UNIMPLEMENTED":
            raise
        print(f"note: class names come from the model's contract: {error.message}", file=sys.stderr)
        return None
    described = contract.get("outputs", {}).get(signature, {}).get(output, {})
    return described.get("labels") or contract.get("labels")


def print_top_classes(paths: list[str], scores: np.ndarray, names: list[str] | None, top: int) -> None:
    for path, row in zip(paths, scores):
        print(path)
        for index in np.argsort(row)[::-1][:top]:
            name = names[index] if names and index < len(names) else f"class {index}"
            print(f"  {row[index]:.4f}  {name}")


def print_outputs(outputs: dict[str, np.ndarray]) -> None:
    for alias, array in outputs.items():
        print(f"{alias} {array.dtype} {list(array.shape)}")
        print(np.array2string(array, threshold=100))


def run_status(client: ServingClient, args: argparse.Namespace) -> None:
    statuses = timed(f"status {args.model}", lambda: client.status(args.model, args.version))
    print(f"{'version':>8}  {'state':<10} error")
    for status in statuses:
        print(f"{status.version:>8}  {status.state:<10} {status.error}".rstrip())


def run_metadata(client: ServingClient, args: argparse.Namespace) -> None:
    signatures = timed(f"metadata {args.model}", lambda: client.metadata(args.model, args.version, args.label))
    for name, signature in signatures.items():
        print(f"{name}  ({signature.method_name})")
        for kind, tensors in (("in ", signature.inputs), ("out", signature.outputs)):
            for alias, spec in tensors.items():
                print(f"  {kind}  {alias:<16} {spec.dtype.name:<8} {spec.shape}")


def run_contract(client: ServingClient, args: argparse.Namespace) -> None:
    contract = timed(f"contract {args.model}", lambda: client.contract(args.model, args.version, args.label))
    print(json.dumps(contract, indent=2))


def run_list(client: ServingClient, args: argparse.Namespace) -> None:
    models = timed("list", client.list_models)
    for model in models:
        versions = ", ".join(f"{status.version} {status.state}" for status in model.versions)
        labels = ", ".join(f"{label}={version}" for label, version in sorted(model.labels.items()))
        print(f"{model.name}  versions: {versions or '-'}  labels: {labels or '-'}")


def run_evaluate(client: ServingClient, args: argparse.Namespace) -> None:
    images = read_labelled_folder(Path(args.images), args.limit)
    evaluation = evaluate_folder(client, args.model, images, args.batch_size, args.signature)
    print(evaluation.summary(client.transport))
