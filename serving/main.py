"""Wires the server together: flags → config → manager → front ends, then serves until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import tensorflow as tf

from serving import __version__
from serving.batching.options import read_batching_options
from serving.batching.scheduler import BatchScheduler
from serving.config.extra_protos import MonitoringConfig, SSLConfig
from serving.config.model_config import read_model_server_config, single_model_config
from serving.config.text_files import read_text_proto
from serving.core.inference import Inference, run_directly
from serving.core.loading import VersionLoader
from serving.core.manager import ManagerOptions, ModelManager
from serving.core.server_core import ServerCore, StartupFailed
from serving.errors import ServingError
from serving.flags import FlagError, channel_arguments, parse_flags
from serving.grpc_api.profiler import profiler_backend
from serving.grpc_api.server import GrpcOptions, build_grpc_server
from serving.monitoring import DEFAULT_PATH, Metrics
from serving.rest.api import RestApi
from serving.rest.http_server import RestOptions, RestServer
from serving.tf_runtime import configure_gpus, configure_threads

log = logging.getLogger("serving")
MAX_BATCHING_HANDLER_THREADS = 512
"""Most handler threads batching may ask for (TF Serving's default max_batch_size of 1000 would ask for more)."""


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        flags = parse_flags(sys.argv[1:] if argv is None else argv)
        if flags.version:
            print(f"TensorFlow ModelServer: {__version__}\nTensorFlow Library: {tf.__version__}")
            return 0
        return serve(flags)
    except (FlagError, ServingError, StartupFailed) as error:
        log.error("%s", error)
        return 1


def serve(flags: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT, then stop cleanly.

    The signals are caught from the moment the initial models have loaded, before any port opens: a
    SIGTERM sent as soon as a port answers then stops the server cleanly instead of killing it halfway
    through opening its other port. While the models load, the signals keep their default (the process ends).
    """
    stop = threading.Event()
    server = start_server(flags, before_ports_open=lambda: _stop_on_signals(stop))
    while not stop.wait(0.5):
        pass
    log.info("Stopping the server")
    server.stop()
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())


@dataclass
class RunningServer:
    """A started server: its core and front ends, and how to stop them."""

    core: ServerCore
    inference: Inference
    grpc_server: grpc.Server
    rest_server: RestServer | None
    scheduler: BatchScheduler | None
    stop_polling: threading.Event

    def stop(self) -> None:
        self.stop_polling.set()
        if self.rest_server is not None:
            self.rest_server.stop()
        self.grpc_server.stop(grace=5).wait()
        self.core.manager.stop()
        if self.scheduler is not None:
            self.scheduler.stop()


def start_server(flags: argparse.Namespace, before_ports_open: Callable[[], None] = lambda: None) -> RunningServer:
    """Load the initial models, call before_ports_open, then open the ports (never before, as TF Serving)."""
    configure_threads(flags.tensorflow_intra_op_parallelism, flags.tensorflow_inter_op_parallelism)
    gpus = configure_gpus(flags.per_process_gpu_memory_fraction)
    log.info("TensorFlow %s; GPUs: %s", tf.__version__, ", ".join(gpus) or "none")
    metrics = Metrics()
    core, inference, scheduler = build_core(flags, metrics)
    if flags.file_system_poll_wait_seconds >= 0:
        core.manager.start_polling(flags.file_system_poll_wait_seconds)
    core.start(initial_config(flags))
    stop_polling = threading.Event()
    if flags.model_config_file and flags.model_config_file_poll_wait_seconds > 0:
        _poll_config_file(core, flags.model_config_file, flags.model_config_file_poll_wait_seconds, stop_polling)
    before_ports_open()
    grpc_server = build_grpc_server(inference, core, metrics, grpc_options(flags, scheduler))
    grpc_server.start()
    log.info("Running gRPC ModelServer at 0.0.0.0:%d ...", flags.port)
    rest_server = start_rest(flags, inference, metrics, core)
    return RunningServer(core, inference, grpc_server, rest_server, scheduler, stop_polling)


def build_core(flags: argparse.Namespace, metrics: Metrics) -> tuple[ServerCore, Inference, BatchScheduler | None]:
    tags = frozenset(tag.strip() for tag in flags.saved_model_tags.split(",") if tag.strip())
    loader = VersionLoader(tags, metrics, flags.enable_model_warmup, max(flags.num_request_iterations_for_warmup, 1),
                           flags.prefer_tflite_model, flags.num_tflite_pools)
    manager = ModelManager(
        loader,
        ManagerOptions(
            max_num_load_retries=flags.max_num_load_retries,
            load_retry_interval_seconds=flags.load_retry_interval_micros / 1e6,
            allow_version_labels_for_unavailable_models=flags.allow_version_labels_for_unavailable_models,
        ),
    )
    scheduler = BatchScheduler(read_batching_options(flags.batching_parameters_file)) if flags.enable_batching else None
    inference = Inference(manager, scheduler or run_directly, flags.enable_serialization_as_tensor_content)
    loader.inference = inference
    return ServerCore(manager), inference, scheduler


def initial_config(flags: argparse.Namespace):
    if flags.model_config_file:
        return read_model_server_config(flags.model_config_file)
    return single_model_config(flags.model_name, flags.model_base_path)


def grpc_options(flags: argparse.Namespace, scheduler: BatchScheduler | None = None) -> GrpcOptions:
    ssl_config = read_text_proto(flags.ssl_config_file, SSLConfig(), "SSLConfig") if flags.ssl_config_file else None
    return GrpcOptions(
        port=flags.port,
        socket_path=flags.grpc_socket_path,
        max_threads=handler_threads(flags.grpc_max_threads, scheduler),
        channel_arguments=channel_arguments(flags.grpc_channel_arguments),
        ssl_config=ssl_config,
        enable_health=flags.enable_grpc_healthcheck_service,
        profiler_target=profiler_backend() if flags.enable_profiler else None,
    )


def handler_threads(requested: int, scheduler: BatchScheduler | None) -> int:
    """--grpc_max_threads, raised with batching so that whole batches can form.

    Here a request waits for its batch in a handler thread (TF Serving's C++ server waits asynchronously),
    so fewer threads than the requests a batch scheduler holds would cap every batch at the pool's size
    and leave each one waiting for its timeout. The pool grows its threads only as requests need them.
    """
    if scheduler is None:
        return requested
    needed = min(scheduler.options.waiting_requests, MAX_BATCHING_HANDLER_THREADS)
    if needed > requested:
        log.info("gRPC handler threads: %d (--grpc_max_threads=%d) so that batches of up to %d can form",
                 needed, requested, scheduler.options.max_batch_size)
    return max(requested, needed)


def start_rest(flags: argparse.Namespace, inference: Inference, metrics: Metrics, core: ServerCore) -> RestServer | None:
    if not flags.rest_api_port:
        return None
    if flags.rest_api_port == flags.port:
        log.error("--rest_api_port must differ from --port; the REST API is not started")
        return None
    api = RestApi(inference, metrics, flags.rest_api_timeout_in_ms / 1000)
    options = RestOptions(flags.rest_api_port, flags.rest_api_enable_cors_support, prometheus_path(flags))
    server = RestServer(api, options, metrics.render, core.manager.all_models_available)
    server.start()
    log.info("Exporting HTTP/REST API at:localhost:%d ...", flags.rest_api_port)
    return server


def prometheus_path(flags: argparse.Namespace) -> str | None:
    if not flags.monitoring_config_file:
        return None
    config = read_text_proto(flags.monitoring_config_file, MonitoringConfig(), "MonitoringConfig")
    if not config.prometheus_config.enable:
        return None
    return config.prometheus_config.path or DEFAULT_PATH


def _poll_config_file(core: ServerCore, path: str, seconds: int, stop: threading.Event) -> None:
    def loop() -> None:
        while not stop.wait(seconds):
            core.reload_from_file(path)

    threading.Thread(target=loop, name="config-poller", daemon=True).start()
