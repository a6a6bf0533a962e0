"""Builds the gRPC server: TF Serving's services and the Open Inference Protocol's, optional health, TLS, no 4 MB cap."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.config.extra_protos import SSLConfig
from serving.core.inference import Inference
from serving.core.server_core import ServerCore
from inference_protocol import grpc_predict_v2_pb2_grpc
from serving.grpc_api.inference_service import InferenceServicer
from serving.grpc_api.model_service import ModelServicer
from serving.grpc_api.prediction_service import PredictionServicer
from serving.grpc_api.profiler import ProfilerForwarder
from serving.monitoring import Metrics
from serving.v2.models import V2Models

MAX_MESSAGE_BYTES = 2**31 - 1
HEALTH_SERVICE_NAMES = ("ModelService", "PredictionService")


@dataclass
class GrpcOptions:
    port: int = 8500
    bind_address: str = "0.0.0.0"
    socket_path: str = ""
    max_threads: int = 16
    channel_arguments: list[tuple[str, object]] = field(default_factory=list)
    ssl_config: SSLConfig | None = None
    enable_health: bool = False
    profiler_target: str | None = None  # TensorFlow's profiler server to forward ProfilerService calls to


def build_grpc_server(
    inference: Inference, core: ServerCore, metrics: Metrics, options: GrpcOptions, executor: futures.ThreadPoolExecutor,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> grpc.Server:
    """A ready (not yet started) server bound to the TCP port and/or the UNIX socket; its calls run on
    `executor`, which the caller owns and shuts down after stopping the server."""
    server = grpc.server(
        executor,
        interceptors=list(interceptors),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            *options.channel_arguments,
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(inference, metrics), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core, metrics), server)
    grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceServicer(V2Models(inference, core.is_ready), metrics), server
    )
    if options.enable_health:
        _add_health_service(server)
    if options.profiler_target:
        server.add_generic_rpc_handlers((ProfilerForwarder(options.profiler_target),))
    if options.port:
        host = f"[{options.bind_address}]" if ":" in options.bind_address else options.bind_address
        address = f"{host}:{options.port}"
        if options.ssl_config is not None:
            server.add_secure_port(address, server_credentials(options.ssl_config))
        else:
            server.add_insecure_port(address)
    if options.socket_path:
        server.add_insecure_port(f"unix:{options.socket_path}")
    return server


def _add_health_service(server: grpc.Server) -> None:
    servicer = health.HealthServicer()
    for name in ("", *HEALTH_SERVICE_NAMES):
        servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)


def server_credentials(config: SSLConfig) -> grpc.ServerCredentials:
    """TLS from an SSLConfig whose fields hold PEM text, as TF Serving's ssl_config_file does."""
    return grpc.ssl_server_credentials(
        [(config.server_key.encode(), config.server_cert.encode())],
        root_certificates=config.custom_ca.encode() or None,
        require_client_auth=config.client_verify,
    )
