"""Command-line flags with tensorflow_model_server's names, defaults and syntax (``--flag=value``)."""

from __future__ import annotations

import argparse
import logging
import os

log = logging.getLogger(__name__)
CPUS = os.cpu_count() or 1

IGNORED_FLAGS = {
    "enable_per_model_batching_parameters": "false",
    "tensorflow_session_parallelism": "0",
    "tensorflow_session_config_file": "",
    "platform_config_file": "",
    "num_unload_threads": "0",
    "flush_filesystem_caches": "true",
    "enable_signature_method_name_check": "false",
    "remove_unused_fields_from_bundle_metagraph": "true",
    "use_alts_credentials": "false",
    "num_tflite_interpreters_per_pool": "1",
    "xla_cpu_compilation_enabled": "false",
    "xla_gpu_compilation_enabled": "false",
    "mixed_precision": "",
    "thread_pool_factory_config_file": "",
    "skip_initialize_tpu": "false",
}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving",
        description="A drop-in for tensorflow_model_server: TensorFlow Serving's gRPC and REST APIs over SavedModels.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_network_flags(parser)
    _add_model_flags(parser)
    _add_runtime_flags(parser)
    ignored = parser.add_argument_group("accepted for compatibility, no effect here (a warning is logged)")
    for name, default in IGNORED_FLAGS.items():
        ignored.add_argument(f"--{name}", default=None, metavar=default or '""', help=f"TF Serving default: {default or 'empty'}")
    return parser


def _flag(group, name: str, kind=str, default=None, help_text: str = "") -> None:
    if kind is bool:
        group.add_argument(f"--{name}", type=parse_bool, nargs="?", const=True, default=default, help=help_text)
    else:
        group.add_argument(f"--{name}", type=kind, default=default, help=help_text)


def _add_network_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network")
    _flag(group, "port", int, 8500, "gRPC port on 0.0.0.0; 0 disables TCP gRPC (then --grpc_socket_path is needed)")
    _flag(group, "grpc_bind_address", str, "0.0.0.0", "(ours) address the gRPC port listens on (127.0.0.1: this machine only)")
    _flag(group, "grpc_socket_path", str, "", "also serve gRPC on this UNIX socket")
    _flag(group, "rest_api_port", int, 0, "REST port (0: REST off); must differ from --port")
    _flag(group, "rest_api_bind_address", str, "", "(ours) address the REST port listens on (empty: every IPv4 and IPv6 address)")
    _flag(group, "rest_api_timeout_in_ms", int, 30000, "deadline of a REST inference call")
    _flag(group, "rest_api_enable_cors_support", bool, False, "add CORS headers to REST responses")
    _flag(group, "rest_api_num_threads", int, 4 * CPUS, "threads running REST calls (the HTTP framing runs on one event loop)")
    _flag(group, "rest_api_max_body_bytes", int, 64 * 2**20, "(ours) largest REST request body; a larger one answers 413")
    _flag(group, "rest_api_idle_timeout_seconds", float, 60.0,
          "(ours) a REST connection that sends no complete request headers this long is closed (idle or slow client)")
    _flag(group, "rest_api_body_timeout_seconds", float, 30.0,
          "(ours) a REST request body not received this long after its headers answers 408")
    _flag(group, "grpc_max_threads", int, 4 * CPUS,
          "threads serving gRPC calls; with --enable_batching raised to hold max_batch_size x (num_batch_threads + 1) "
          "waiting requests (at most 512), since requests wait for their batch in these threads")
    _flag(group, "grpc_channel_arguments", str, "", "extra gRPC server arguments as k=v,k=v (integers as ints)")
    _flag(group, "ssl_config_file", str, "", "text SSLConfig (server_key, server_cert, custom_ca, client_verify) for gRPC TLS")
    _flag(group, "enable_grpc_healthcheck_service", bool, False, "register grpc.health.v1.Health")
    _flag(group, "monitoring_config_file", str, "", "text MonitoringConfig; enables Prometheus metrics on the REST port")
    _flag(group, "shutdown_grace_seconds", float, 30.0,
          "(ours) on SIGTERM/SIGINT, how long calls in flight may finish while new ones are refused; a second signal exits at once")
    _flag(group, "version", bool, False, "print the versions and exit")


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models")
    _flag(group, "model_name", str, "default", "model name when --model_base_path is used")
    _flag(group, "model_base_path", str, "", "directory holding numbered version directories")
    _flag(group, "model_config_file", str, "", "text ModelServerConfig; overrides --model_name/--model_base_path")
    _flag(group, "allowed_model_base_paths", str, "",
          "(ours) comma-separated directories; a model base path outside them is refused, from the flags, the "
          "config file or ReloadConfig (empty: no restriction)")
    _flag(group, "model_config_file_poll_wait_seconds", int, 0, "re-read the config file this often (0: read once)")
    _flag(group, "file_system_poll_wait_seconds", int, 1, "scan base paths for versions this often (0: once, <0: never)")
    _flag(group, "saved_model_tags", str, "serve", "comma-separated MetaGraph tags to load")
    _flag(group, "enable_model_warmup", bool, True, "replay assets.extra/tf_serving_warmup_requests while loading")
    _flag(group, "num_request_iterations_for_warmup", int, 0, "times each warmup record is replayed (0: once)")
    _flag(group, "num_load_threads", int, 0,
          "threads loading versions after start-up (0: one at a time); the initial models load on 4 x CPUs threads")
    _flag(group, "max_num_load_retries", int, 5, "retries of a failed version load")
    _flag(group, "load_retry_interval_micros", int, 60_000_000, "wait between load retries")
    _flag(group, "allow_version_labels_for_unavailable_models", bool, False, "allow new labels on versions not yet available")
    _flag(group, "reload_config_timeout_seconds", float, 300.0,
          "(ours) most seconds a ReloadConfig or a config-file reload waits for new models; an earlier RPC deadline wins")
    _flag(group, "prefer_tflite_model", bool, False, "serve a version's model.tflite (TF Lite) when it has one")
    _flag(group, "num_tflite_pools", int, 1, "TF Lite interpreters per version, each running one call at a time")


def _add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("runtime")
    _flag(group, "enable_batching", bool, False, "merge concurrent requests into batches")
    _flag(group, "batching_parameters_file", str, "", "text BatchingParameters (needs --enable_batching)")
    _flag(group, "tensorflow_intra_op_parallelism", int, 0, "threads within one op (0: automatic)")
    _flag(group, "tensorflow_inter_op_parallelism", int, 0, "ops run in parallel (0: automatic)")
    _flag(group, "per_process_gpu_memory_fraction", float, 0.0, "cap of GPU memory per GPU (0: TensorFlow's default)")
    _flag(group, "enable_serialization_as_tensor_content", bool, False, "gRPC outputs in tensor_content bytes")
    _flag(group, "max_rows_per_request", int, 0,
          "(ours) refuse requests of more rows than this (0: no cap); bounds the memory one request can take")
    _flag(group, "enable_profiler", bool, True, "serve TensorFlow's ProfilerService on the gRPC port (traces on demand)")


class FlagError(Exception):
    """Flags that cannot work together; the message says which."""


def parse_flags(argv: list[str]) -> argparse.Namespace:
    """Parse and check flags; warn about compatibility flags that have no effect here."""
    parser = build_parser()
    flags = parser.parse_args(argv)
    for name in IGNORED_FLAGS:
        if getattr(flags, name) is not None:
            log.warning("--%s is accepted for compatibility with tensorflow_model_server and has no effect", name)
    check_flags(flags)
    return flags


def check_flags(flags: argparse.Namespace) -> None:
    if flags.version:
        return
    if flags.batching_parameters_file and not flags.enable_batching:
        raise FlagError("--batching_parameters_file requires --enable_batching")
    if not flags.model_config_file and not flags.model_base_path:
        raise FlagError("Both --model_config_file and --model_base_path are empty: give one of them")
    if not flags.port and not flags.grpc_socket_path:
        raise FlagError("--port=0 needs --grpc_socket_path")
    if not 0.0 <= flags.per_process_gpu_memory_fraction <= 1.0:
        raise FlagError(f"--per_process_gpu_memory_fraction must be in [0, 1], got {flags.per_process_gpu_memory_fraction}")


def channel_arguments(text: str) -> list[tuple[str, object]]:
    """``k=v,k=v`` with integer values passed as ints, as TF Serving does."""
    arguments: list[tuple[str, object]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, separator, value = item.partition("=")
        if not separator:
            raise FlagError(f"--grpc_channel_arguments item {item!r} is not key=value")
        arguments.append((key, int(value) if value.lstrip("-").isdigit() else value))
    return arguments
