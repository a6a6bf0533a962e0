"""Serving overhead: p50/p99 latency of one model called in-process, over our gRPC and REST, TF Serving's API and
the Open Inference Protocol's (v2 gRPC with raw tensors, v2 REST with binary tensor data).

Everything is measured side by side in one run on the same export, the paths taking turns call by call, and
printed as ratios to the in-process signature call (absolute times on a shared machine are noise; ratios are
the result).

    python bench/serving_overhead.py --model-dir saved_models/fashion_mnist_classifier
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_server import interleaved_percentiles, latest_version, start_server  # noqa: E402
from inference_protocol import grpc_predict_v2_pb2 as pb  # noqa: E402
from inference_protocol import grpc_predict_v2_pb2_grpc as pb_grpc  # noqa: E402
from inference_protocol import tensors  # noqa: E402
from tensorflow_serving.apis import (  # noqa: E402
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="saved_models/fashion_mnist_classifier",
                        help="model base path (numbered versions inside)")
    parser.add_argument("--signature", default="serving_default", help="signature to call")
    parser.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    parser.add_argument("--requests", type=int, default=400, help="timed calls per configuration")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls per configuration")
    return parser.parse_args()


def percentiles(call, requests: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        call()
    samples = np.empty(requests)
    for index in range(requests):
        started = time.perf_counter()
        call()
        samples[index] = time.perf_counter() - started
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def sample_inputs(signature, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    inputs = {}
    for name, spec in signature.structured_input_signature[1].items():
        shape = [batch, *[dim or 1 for dim in spec.shape[1:]]]
        if spec.dtype == tf.uint8:
            inputs[name] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        else:
            inputs[name] = rng.random(shape).astype(spec.dtype.as_numpy_dtype)
    return inputs


def bench_batch(signature_fn, signature: str, inputs, grpc_port: int, rest_port: int, args) -> dict[str, tuple[float, float]]:
    """The five paths, interleaved call by call (bench_server.interleaved_percentiles), so that other work on the
    machine slows them alike and their ratios hold."""
    tensors_in = {name: tf.constant(value) for name, value in inputs.items()}
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "bench"
    predict.model_spec.signature_name = signature
    for name, value in inputs.items():
        predict.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    json_body = json.dumps({"signature_name": signature, "inputs": {name: value.tolist() for name, value in inputs.items()}}).encode()
    v2_body, v2_headers = v2_rest_body(signature, inputs)
    with ExitStack() as stack:
        channel = stack.enter_context(grpc.insecure_channel(f"localhost:{grpc_port}"))
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        v2_stub = pb_grpc.GRPCInferenceServiceStub(channel)
        infer = v2_grpc_request(signature, inputs)
        calls = {
            "in-process": lambda: signature_fn(**tensors_in),
            "gRPC": lambda: stub.Predict(predict, 30.0),
            "REST": stack.enter_context(rest_caller(rest_port, "/v1/models/bench:predict", json_body, {"Content-Type": "application/json"})),
            "v2 gRPC": lambda: v2_stub.ModelInfer(infer, 30.0),
            "v2 REST": stack.enter_context(rest_caller(rest_port, "/v2/models/bench/infer", v2_body, v2_headers)),
        }
        return interleaved_percentiles(calls, args.requests, args.warmup)


def v2_grpc_request(signature: str, inputs) -> pb.ModelInferRequest:
    """The Open Inference Protocol's ModelInfer with raw tensors, asking for the signature by parameter."""
    request = pb.ModelInferRequest(model_name="bench")
    request.parameters["signature_name"].string_param = signature
    for name, value in inputs.items():
        request.inputs.add(name=name, datatype=tensors.datatype_of_array(value), shape=value.shape)
        request.raw_input_contents.append(tensors.to_raw(value))
    return request


def v2_rest_body(signature: str, inputs) -> tuple[bytes, dict[str, str]]:
    """A v2 REST infer body with the binary tensor data extension (every output asked back as binary data)."""
    header = json.dumps({
        "parameters": {"signature_name": signature, "binary_data_output": True},
        "inputs": [
            {"name": name, "datatype": tensors.datatype_of_array(value), "shape": list(value.shape),
             "parameters": {"binary_data_size": len(tensors.to_raw(value))}}
            for name, value in inputs.items()
        ],
    }).encode()
    body = header + b"".join(tensors.to_raw(value) for value in inputs.values())
    return body, {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"}


@contextmanager
def rest_caller(rest_port: int, path: str, body: bytes, headers: dict[str, str]) -> Iterator[Callable[[], None]]:
    """A call that POSTs ``body`` to ``path`` over one keep-alive connection and reads the answer whole."""
    connection = http.client.HTTPConnection("localhost", rest_port)

    def rest_call() -> None:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(response.read())
        response.read()

    try:
        yield rest_call
    finally:
        connection.close()


def rpc_floor(grpc_port: int, args) -> tuple[float, float]:
    """p50/p99 of GetModelStatus: a gRPC round trip through the same server that runs no model."""
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "bench"
    with grpc.insecure_channel(f"localhost:{grpc_port}") as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        return percentiles(lambda: stub.GetModelStatus(request, 30.0), args.requests, args.warmup)


def main() -> None:
    args = parse_args()
    version_dir = latest_version(args.model_dir)
    signature_fn = tf.saved_model.load(str(version_dir)).signatures[args.signature]
    server = start_server(args.model_dir)
    grpc_port, rest_port = server.grpc_port, server.rest_port
    try:
        print(f"model {version_dir}, signature {args.signature}, {args.requests} timed calls each")
        floor50, floor99 = rpc_floor(grpc_port, args)
        print(f"gRPC floor (GetModelStatus, no model run): p50 {floor50 * 1e3:.3f} ms, p99 {floor99 * 1e3:.3f} ms")
        print(f"{'batch':>5} {'path':<11} {'p50 ms':>8} {'p99 ms':>8} {'p50 ratio':>10} {'p99 ratio':>10}")
        for batch in (int(size) for size in args.batches.split(",")):
            results = bench_batch(signature_fn, args.signature, sample_inputs(signature_fn, batch), grpc_port, rest_port, args)
            base50, base99 = results["in-process"]
            for path, (p50, p99) in results.items():
                print(f"{batch:>5} {path:<11} {p50 * 1e3:>8.3f} {p99 * 1e3:>8.3f} {p50 / base50:>9.2f}x {p99 / base99:>9.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
