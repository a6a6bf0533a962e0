"""The server's options: built once from the flags, validated, typed, and passed down (TF Serving's Server::Options).

Every file a flag names (model config, batching parameters, TLS, monitoring) is read here, so a bad file
stops the server before anything loads, with a message that names it.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from serving.batching.options import BatchingOptions, read_batching_options
from serving.config.extra_protos import MonitoringConfig, SSLConfig
from serving.config.model_config import ModelServerConfig, read_model_server_config, single_model_config
from serving.config.text_files import read_text_proto
from serving.core.loading import LoadOptions
from serving.core.manager import ManagerOptions
from serving.core.server_core import ServerCoreOptions
from serving.flags import FlagError, channel_arguments, parse_flags
from serving.grpc_api.server import GrpcOptions
from serving.monitoring import DEFAULT_PATH
from serving.rest.http_server import RestOptions

MAX_BATCHING_HANDLER_THREADS = 512
"""Most handler threads batching may ask for (TF Serving's default max_batch_size of 1000 would ask for more)."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeOptions:
    """TensorFlow's thread pools and GPU memory, set before the first model loads."""

    intra_op_threads: int = 0
    inter_op_threads: int = 0
    gpu_memory_fraction: float = 0.0


@dataclass(frozen=True)
class ServerOptions:
    """Everything `start_server` needs."""

    model_config: ModelServerConfig
    core: ServerCoreOptions
    grpc: GrpcOptions
    rest: RestOptions | None
    runtime: RuntimeOptions
    batching: BatchingOptions | None = None
    load: LoadOptions = LoadOptions()
    warmup_iterations: int | None = 1
    """Times each warmup record is replayed; None: warmup off."""
    tensor_content: bool = False
    enable_profiler: bool = True
    rest_api_timeout_seconds: float = 30.0
    shutdown_grace_seconds: float = 30.0
    max_rows_per_request: int = 0
    """0: no cap."""


def parse_options(argv: list[str]) -> ServerOptions:
    """Flags → options (``--version`` is the caller's to handle before this)."""
    return server_options(parse_flags(argv))


def server_options(flags: argparse.Namespace) -> ServerOptions:
    """Build and check the options from parsed flags; FlagError or ServingError name what is wrong."""
    batching = read_batching_options(flags.batching_parameters_file) if flags.enable_batching else None
    return ServerOptions(
        model_config=_initial_config(flags),
        core=_core_options(flags),
        grpc=_grpc_options(flags, batching),
        rest=_rest_options(flags),
        runtime=RuntimeOptions(
            flags.tensorflow_intra_op_parallelism, flags.tensorflow_inter_op_parallelism,
            flags.per_process_gpu_memory_fraction,
        ),
        batching=batching,
        load=LoadOptions(
            tags=frozenset(tag.strip() for tag in flags.saved_model_tags.split(",") if tag.strip()),
            prefer_tflite=flags.prefer_tflite_model,
            tflite_pool_size=flags.num_tflite_pools,
        ),
        enable_profiler=flags.enable_profiler,
        warmup_iterations=max(flags.num_request_iterations_for_warmup, 1) if flags.enable_model_warmup else None,
        tensor_content=flags.enable_serialization_as_tensor_content,
        rest_api_timeout_seconds=flags.rest_api_timeout_in_ms / 1000,
        shutdown_grace_seconds=_non_negative(flags.shutdown_grace_seconds, "--shutdown_grace_seconds"),
        max_rows_per_request=int(_non_negative(flags.max_rows_per_request, "--max_rows_per_request")),
    )


def _non_negative(value: float, flag: str) -> float:
    if value < 0:
        raise FlagError(f"{flag} must be >= 0, got {value:g}")
    return value


def _initial_config(flags: argparse.Namespace) -> ModelServerConfig:
    if flags.model_config_file:
        return read_model_server_config(flags.model_config_file)
    return single_model_config(flags.model_name, flags.model_base_path)


def _core_options(flags: argparse.Namespace) -> ServerCoreOptions:
    if flags.num_load_threads < 0:
        raise FlagError(f"--num_load_threads must be >= 0, got {flags.num_load_threads}")
    if flags.reload_config_timeout_seconds <= 0:
        raise FlagError(f"--reload_config_timeout_seconds must be > 0, got {flags.reload_config_timeout_seconds}")
    return ServerCoreOptions(
        manager=ManagerOptions(
            num_load_threads=flags.num_load_threads,
            max_num_load_retries=flags.max_num_load_retries,
            load_retry_interval_seconds=flags.load_retry_interval_micros / 1e6,
        ),
        file_system_poll_wait_seconds=flags.file_system_poll_wait_seconds,
        model_config_file=flags.model_config_file,
        model_config_file_poll_wait_seconds=flags.model_config_file_poll_wait_seconds,
        allow_version_labels_for_unavailable_models=flags.allow_version_labels_for_unavailable_models,
        max_reload_wait_seconds=flags.reload_config_timeout_seconds,
        allowed_base_paths=tuple(path.strip() for path in flags.allowed_model_base_paths.split(",") if path.strip()),
    )


def _grpc_options(flags: argparse.Namespace, batching: BatchingOptions | None) -> GrpcOptions:
    ssl_config = read_text_proto(flags.ssl_config_file, SSLConfig(), "SSLConfig") if flags.ssl_config_file else None
    return GrpcOptions(
        port=flags.port,
        bind_address=flags.grpc_bind_address,
        socket_path=flags.grpc_socket_path,
        max_threads=handler_threads(flags.grpc_max_threads, batching),
        channel_arguments=channel_arguments(flags.grpc_channel_arguments),
        ssl_config=ssl_config,
        enable_health=flags.enable_grpc_healthcheck_service,
    )


def handler_threads(requested: int, batching: BatchingOptions | None) -> int:
    """--grpc_max_threads, raised with batching so that whole batches can form.

    Here a request waits for its batch in a handler thread (TF Serving's C++ server waits asynchronously),
    so fewer threads than the requests a batch scheduler holds would cap every batch at the pool's size
    and leave each one waiting for its timeout. The pool grows its threads only as requests need them.
    """
    if batching is None:
        return requested
    needed = min(batching.waiting_requests, MAX_BATCHING_HANDLER_THREADS)
    if needed > requested:
        log.info("gRPC handler threads: %d (--grpc_max_threads=%d) so that batches of up to %d can form",
                 needed, requested, batching.max_batch_size)
    return max(requested, needed)


def _rest_options(flags: argparse.Namespace) -> RestOptions | None:
    if not flags.rest_api_port:
        return None
    if flags.rest_api_port == flags.port:
        log.error("--rest_api_port must differ from --port; the REST API is not started")
        return None
    for name in ("rest_api_max_body_bytes", "rest_api_idle_timeout_seconds", "rest_api_body_timeout_seconds"):
        if getattr(flags, name) <= 0:
            raise FlagError(f"--{name} must be > 0, got {getattr(flags, name):g}")
    return RestOptions(
        flags.rest_api_port, flags.rest_api_enable_cors_support, _prometheus_path(flags),
        host=flags.rest_api_bind_address or None, num_threads=flags.rest_api_num_threads,
        max_body_bytes=flags.rest_api_max_body_bytes, idle_timeout_seconds=flags.rest_api_idle_timeout_seconds,
        body_timeout_seconds=flags.rest_api_body_timeout_seconds,
    )


def _prometheus_path(flags: argparse.Namespace) -> str | None:
    if not flags.monitoring_config_file:
        return None
    config = read_text_proto(flags.monitoring_config_file, MonitoringConfig(), "MonitoringConfig")
    if not config.prometheus_config.enable:
        return None
    return config.prometheus_config.path or DEFAULT_PATH
