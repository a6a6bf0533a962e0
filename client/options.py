"""Command-line options shared by the client's commands, as argparse parent parsers."""

from __future__ import annotations

import argparse

DEFAULT_GRPC_TARGET = "localhost:8500"


def connection_options() -> argparse.ArgumentParser:
    """--server or --rest, --protocol, --timeout and --retries: where and how every command reaches the server."""
    options = argparse.ArgumentParser(add_help=False)
    where = options.add_mutually_exclusive_group()
    where.add_argument(
        "--server", metavar="HOST:PORT[,HOST:PORT...]",
        help=f"gRPC address of the server (default {DEFAULT_GRPC_TARGET}); several replicas, or one DNS name with "
        "several addresses, are balanced round robin",
    )
    where.add_argument(
        "--rest", metavar="URL[,URL...]",
        help="use the REST API at URL instead, e.g. http://localhost:8501; several replicas are taken in turn",
    )
    options.add_argument(
        "--protocol", choices=("tfserving", "v2"), default="tfserving",
        help="TensorFlow Serving's API (default) or the Open Inference Protocol, KServe v2 (Triton, KServe, our /v2)",
    )
    options.add_argument("--timeout", type=float, default=10.0, help="seconds per call, retries included (default 10)")
    options.add_argument(
        "--retries", type=int, default=3,
        help="extra attempts, each on the next replica, while a server is unavailable (default 3; 0: none)",
    )
    return options


def model_option() -> argparse.ArgumentParser:
    """--model: the name of the model on the server."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--model", required=True, help="name of the model on the server")
    return options


def version_options() -> argparse.ArgumentParser:
    """--version or --label: which version of the model to call."""
    options = argparse.ArgumentParser(add_help=False)
    choice = options.add_mutually_exclusive_group()
    choice.add_argument("--version", type=int, help="this version (default: the latest)")
    choice.add_argument("--label", help="the version with this label, e.g. stable")
    return options
