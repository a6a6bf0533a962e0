"""Calls our server through a published Open Inference Protocol client and prints what it got as one JSON line.

Runs under the v2 clients' own virtual environment (tests/v2_clients.py makes it; their protobuf pin conflicts
with ours), one library per process since tritonclient.grpc and kserve register the same proto messages:

    .venv-v2clients/bin/python tests/v2_client_calls.py triton HTTP_HOST:PORT GRPC_HOST:PORT
    .venv-v2clients/bin/python tests/v2_client_calls.py kserve HTTP_HOST:PORT GRPC_HOST:PORT

Each scenario records a value or ``{"error": ..., "status": ...}``; tests/serving/v2/test_v2_published_clients.py
asserts on them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

import numpy as np

CLASSIFIER, LSTM, DQN = "fashion_mnist_classifier", "charlstm", "cartpole_dqn"


def images(count: int) -> np.ndarray:
    return (np.arange(count * 784) % 251).astype(np.uint8).reshape(count, 28, 28, 1)


LSTM_INPUTS = {
    "prompt": np.array([b"The ", b"A"], dtype=object),
    "length": np.array([6, 6], np.int32),
    "seed": np.array([1, 2], np.int64),
    "temperature": np.array([0.5, 0.5], np.float32),
}
OBSERVATIONS = np.array([[0.0, 0.0, 0.1, 0.0], [0.0, 0.0, -0.1, 0.0]], np.float32)


def recorded(call: Callable[[], object], describe_error: Callable[[Exception], dict]) -> object:
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - the scenario's outcome is what the test asserts on
        return describe_error(error)


def triton_scenarios(module, url: str) -> dict:
    """The same calls through tritonclient.http or tritonclient.grpc."""
    from tritonclient.utils import InferenceServerException

    client = module.InferenceServerClient(url)
    binary = {"binary_data": True} if module.__name__.endswith("http") else {}

    def infer(
        model: str, arrays: dict[str, tuple[np.ndarray, str]], outputs: list[str] | None = None, version: str = "",
        **options,
    ):
        inputs = []
        for name, (array, datatype) in arrays.items():
            tensor = module.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array, **binary)
            inputs.append(tensor)
        requested = [module.InferRequestedOutput(name, **binary) for name in outputs] if outputs else None
        result = client.infer(model, inputs, model_version=version, outputs=requested, **options)
        names = outputs or [output["name"] for output in _outputs(result)]
        return {name: _jsonable(result.as_numpy(name)) for name in names}

    def error(exception: Exception) -> dict:
        if isinstance(exception, InferenceServerException):
            return {"error": exception.message(), "status": str(exception.status())}
        return {"error": repr(exception), "status": type(exception).__name__}

    metadata = client.get_model_metadata(CLASSIFIER)
    server = client.get_server_metadata()
    compression = "request_compression_algorithm" if binary else "compression_algorithm"
    compressed = {
        f"dqn_{algorithm}": recorded(
            lambda: infer(DQN, {"observations": (OBSERVATIONS, "FP32")}, **{compression: algorithm}), error
        )
        for algorithm in ("gzip", "deflate")
    }
    return {
        **compressed,
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(LSTM),
        "unknown_model_ready": client.is_model_ready("no_such_model"),
        "server_metadata": _as_dict(server),
        "model_metadata": _as_dict(metadata),
        "classifier": recorded(lambda: infer(CLASSIFIER, {"images": (images(2), "UINT8")}, ["probabilities", "class_ids"]), error),
        "lstm": recorded(lambda: infer(LSTM, {name: (array, _datatype(array)) for name, array in LSTM_INPUTS.items()}), error),
        "dqn": recorded(lambda: infer(DQN, {"observations": (OBSERVATIONS, "FP32")}), error),
        "unknown_model": recorded(lambda: infer("no_such_model", {"x": (OBSERVATIONS, "FP32")}), error),
        "unknown_version": recorded(lambda: infer(DQN, {"observations": (OBSERVATIONS, "FP32")}, version="9"), error),
        "bad_datatype": recorded(lambda: infer(CLASSIFIER, {"images": (images(1).astype(np.float32), "FP32")}), error),
        "wrong_shape": recorded(lambda: infer(CLASSIFIER, {"images": (images(1).reshape(1, 28, 28), "UINT8")}), error),
    }


def kserve_scenarios(rest_url: str, grpc_url: str) -> dict:
    """The same calls through KServe's InferenceRESTClient (v2) and InferenceGRPCClient."""
    import httpx
    from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
    from kserve.protocol.infer_type import RequestedOutput

    def request(model: str, arrays: dict[str, tuple[np.ndarray, str]], outputs: list[str] | None = None) -> InferRequest:
        inputs = []
        for name, (array, datatype) in arrays.items():
            tensor = InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array, binary_data=True)
            inputs.append(tensor)
        requested = [RequestedOutput(name, {"binary_data": True}) for name in outputs] if outputs else None
        return InferRequest(model, inputs, request_outputs=requested)

    def error(exception: Exception) -> dict:
        if isinstance(exception, httpx.HTTPStatusError):
            return {"error": exception.response.json().get("error"), "status": exception.response.status_code}
        details = getattr(exception, "details", None)
        code = getattr(exception, "code", None)
        if callable(details) and callable(code):
            return {"error": details(), "status": code().name}
        return {"error": repr(exception), "status": type(exception).__name__}

    async def scenarios(client, infer: Callable) -> dict:
        async def outcome(coroutine_factory) -> object:
            try:
                response = await coroutine_factory()
            except Exception as exception:  # noqa: BLE001
                return error(exception)
            return {output.name: _jsonable(output.as_numpy()) for output in response.outputs}

        lstm_arrays = {name: (array, _datatype(array)) for name, array in LSTM_INPUTS.items()}
        return {
            "live": await client.is_server_live(*client_args),
            "ready": await client.is_server_ready(*client_args),
            "model_ready": await client.is_model_ready(*client_args, LSTM),
            "unknown_model_ready": await client.is_model_ready(*client_args, "no_such_model"),
            "classifier": await outcome(lambda: infer(request(CLASSIFIER, {"images": (images(2), "UINT8")}, ["probabilities", "class_ids"]))),
            "lstm": await outcome(lambda: infer(request(LSTM, lstm_arrays))),
            "dqn": await outcome(lambda: infer(request(DQN, {"observations": (OBSERVATIONS, "FP32")}))),
            "unknown_model": await outcome(lambda: infer(request("no_such_model", {"x": (OBSERVATIONS, "FP32")}))),
            "bad_datatype": await outcome(lambda: infer(request(CLASSIFIER, {"images": (images(1).astype(np.float32), "FP32")}))),
            "wrong_shape": await outcome(lambda: infer(request(CLASSIFIER, {"images": (images(1).reshape(1, 28, 28), "UINT8")}))),
        }

    async def run() -> dict:
        global client_args
        rest = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
        base = f"http://{rest_url}"
        client_args = (base,)
        rest_results = await scenarios(rest, lambda infer_request: rest.infer(base, infer_request, model_name=infer_request.model_name))
        await rest.close()
        grpc_client = InferenceGRPCClient(grpc_url, timeout=60)
        client_args = ()
        grpc_results = await scenarios(grpc_client, grpc_client.infer)
        await grpc_client.close()
        return {"rest": rest_results, "grpc": grpc_results}

    return asyncio.run(run())


client_args: tuple = ()


def _outputs(result) -> list[dict]:
    response = result.get_response()
    if isinstance(response, dict):
        return response["outputs"]
    return [{"name": output.name} for output in response.outputs]


def _as_dict(message) -> dict:
    if isinstance(message, dict):
        return message
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _datatype(array: np.ndarray) -> str:
    return "BYTES" if array.dtype == object else {"int32": "INT32", "int64": "INT64", "float32": "FP32"}[str(array.dtype)]


def _jsonable(array: np.ndarray) -> dict:
    values = array.tolist()
    if array.dtype == object:
        values = [item.decode("utf-8", "replace") if isinstance(item, bytes) else item for item in array.reshape(-1).tolist()]
    return {"dtype": str(array.dtype), "shape": list(array.shape), "values": values}


def main(library: str, rest_url: str, grpc_url: str) -> None:
    if library == "triton":
        import tritonclient.grpc
        import tritonclient.http

        results = {"http": triton_scenarios(tritonclient.http, rest_url), "grpc": triton_scenarios(tritonclient.grpc, grpc_url)}
    elif library == "kserve":
        results = kserve_scenarios(rest_url, grpc_url)
    else:
        raise SystemExit(f"error: unknown library {library!r}; expected triton or kserve")
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
