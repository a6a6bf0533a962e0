"""Wires the server together: flags → options → core → front ends, then serves until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import grpc
import tensorflow as tf

import tf_startup
from serving import __version__
from serving.batching.scheduler import BatchScheduler
from serving.core.inference import Inference, run_directly
from serving.core.loading import VersionLoader
from serving.core.row_limit import RowLimit
from serving.core.server_core import ServerCore, StartupFailed
from serving.core.serving_map import ServingMap
from serving.core.warmup import Warmup
from serving.drain import GateInterceptor, RequestGate
from serving.errors import ServingError
from serving.flags import FlagError, parse_flags
from serving.grpc_api.profiler import profiler_backend
from serving.grpc_api.server import build_grpc_server
from serving.monitoring import Metrics
from serving.options import ServerOptions, server_options
from serving.rest.api import RestApi
from serving.rest.http_server import RestServer
from serving.rest.v2_api import V2RestApi
from serving.tf_runtime import configure_gpus, configure_threads
from serving.v2.models import V2Models

log = logging.getLogger("serving")
GRPC_STOP_GRACE_SECONDS = 5
EXIT_ON_SECOND_SIGNAL = 130


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        flags = parse_flags(sys.argv[1:] if argv is None else argv)
        if flags.version:
            print(f"TensorFlow ModelServer: {__version__}\nTensorFlow Library: {tf.__version__}")
            return 0
        return serve(server_options(flags))
    except (FlagError, ServingError, StartupFailed) as error:
        log.error("%s", error)
        return 1


def serve(options: ServerOptions) -> int:
    """Run until SIGTERM or SIGINT, drain, then stop cleanly; a second signal exits at once.

    The signals are caught from the moment the initial models have loaded, before any port opens: a
    SIGTERM sent as soon as a port answers then stops the server cleanly instead of killing it halfway
    through opening its other port. While the models load, the signals keep their default (the process ends).
    """
    stop = threading.Event()
    server = start_server(options, before_ports_open=lambda: _stop_on_signals(stop))
    while not stop.wait(0.5):
        pass
    log.info("Draining: new calls are refused; waiting up to %g s for calls in flight", options.shutdown_grace_seconds)
    if not server.drain(options.shutdown_grace_seconds):
        log.warning("Calls still running after %g s are cut off", options.shutdown_grace_seconds)
    log.info("Stopping the server")
    server.stop()
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    def first_signal(signum: int, _frame: object) -> None:
        stop.set()
        for again in (signal.SIGINT, signal.SIGTERM):
            signal.signal(again, _exit_at_once)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, first_signal)


def _exit_at_once(signum: int, _frame: object) -> None:
    log.warning("Second %s: exiting without waiting for calls in flight", signal.Signals(signum).name)
    logging.shutdown()
    tf_startup.release_stderr()
    os._exit(EXIT_ON_SECOND_SIGNAL)


@dataclass
class RunningServer:
    """A started server: its core and front ends, and how to stop them."""

    core: ServerCore
    inference: Inference
    grpc_server: grpc.Server
    grpc_executor: ThreadPoolExecutor
    rest_server: RestServer | None
    scheduler: BatchScheduler | None
    gate: RequestGate

    def drain(self, timeout: float) -> bool:
        """Readiness fails and new calls are refused from now on; wait (bounded) for the calls in flight."""
        return self.gate.drain(timeout)

    def stop(self) -> None:
        """Close the ports, let calls in flight finish, then stop loading and batching; joins every thread."""
        if self.rest_server is not None:
            self.rest_server.stop()
        self.grpc_server.stop(grace=GRPC_STOP_GRACE_SECONDS).wait()
        self.grpc_executor.shutdown(wait=True)
        self.core.stop()
        if self.scheduler is not None:
            self.scheduler.stop()


def start_server(options: ServerOptions, before_ports_open: Callable[[], None] = lambda: None) -> RunningServer:
    """Load the initial models, call before_ports_open, then open the ports (never before, as TF Serving)."""
    configure_threads(options.runtime.intra_op_threads, options.runtime.inter_op_threads)
    gpus = configure_gpus(options.runtime.gpu_memory_fraction)
    log.info("TensorFlow %s; GPUs: %s", tf.__version__, ", ".join(gpus) or "none")
    metrics = Metrics()
    scheduler = BatchScheduler(options.batching) if options.batching is not None else None
    serving_map = ServingMap()
    runner = scheduler or run_directly
    if options.max_rows_per_request:
        runner = RowLimit(runner, options.max_rows_per_request)
    inference = Inference(serving_map, runner, options.tensor_content)
    warmup = Warmup(inference, options.warmup_iterations) if options.warmup_iterations else None
    core = ServerCore(options.core, VersionLoader(options.load, metrics, warmup), serving_map)
    try:
        core.start(options.model_config)
    except BaseException:
        _stop_all(core, scheduler)
        raise
    before_ports_open()
    gate = RequestGate()
    grpc_executor = ThreadPoolExecutor(max_workers=options.grpc.max_threads, thread_name_prefix="grpc")
    grpc_options = replace(options.grpc, profiler_target=profiler_backend()) if options.enable_profiler else options.grpc
    grpc_server = build_grpc_server(inference, core, metrics, grpc_options, grpc_executor, [GateInterceptor(gate)])
    grpc_server.start()
    log.info("Running gRPC ModelServer at 0.0.0.0:%d ...", options.grpc.port)
    rest_server = start_rest(options, inference, metrics, core, gate)
    return RunningServer(core, inference, grpc_server, grpc_executor, rest_server, scheduler, gate)


def _stop_all(core: ServerCore, scheduler: BatchScheduler | None) -> None:
    core.stop()
    if scheduler is not None:
        scheduler.stop()


def start_rest(
    options: ServerOptions, inference: Inference, metrics: Metrics, core: ServerCore, gate: RequestGate
) -> RestServer | None:
    if options.rest is None:
        return None
    api = RestApi(inference, core, metrics, options.rest_api_timeout_seconds)
    v2_api = V2RestApi(V2Models(inference, core.is_ready), metrics, options.rest_api_timeout_seconds)
    server = RestServer(api, options.rest, metrics.render, lambda: core.is_ready() and not gate.draining, gate, v2_api)
    server.start()
    log.info("Exporting HTTP/REST API at:localhost:%d ...", options.rest.port)
    return server
