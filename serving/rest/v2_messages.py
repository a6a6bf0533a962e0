"""JSON (and binary tensor data) bodies of the Open Inference Protocol's REST infer call, to and from serving.v2.models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import orjson

from inference_protocol.tensors import BYTES, to_raw
from serving.errors import invalid_argument
from serving.v2.models import SIGNATURE_PARAMETER, InferRequest, InferResult, ModelMetadata, Tensor
from serving.v2.tensor_codec import from_raw, from_values

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_SIZE = "binary_data_size"


@dataclass(frozen=True)
class BinaryOutputs:
    """Which outputs go back as binary data: those named, or all with the request's ``binary_data_output``."""

    names: frozenset[str] = frozenset()
    every_output: bool = False

    def wants(self, name: str) -> bool:
        return self.every_output or name in self.names


def infer_request_from_json(
    model_name: str, version: str, body: bytes, header_length: str | None
) -> tuple[InferRequest, BinaryOutputs]:
    """The decoded request and its binary output choice; INVALID_ARGUMENT naming whatever is malformed."""
    header, binary = split_body(body, header_length)
    document = _parse_json(header)
    parameters = _mapping(document.get("parameters", {}), "request parameters")
    inputs = _decode_inputs(document.get("inputs"), memoryview(binary))
    outputs, binary_outputs = _requested_outputs(document.get("outputs"), bool(parameters.get("binary_data_output")))
    request = InferRequest(
        model_name=model_name,
        model_version=version,
        inputs=inputs,
        outputs=outputs,
        signature_name=_text(parameters.get(SIGNATURE_PARAMETER, ""), SIGNATURE_PARAMETER),
        request_id=_text(document.get("id", ""), "id"),
    )
    return request, binary_outputs


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary tensor data that follows it."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not text.isdigit():
        raise invalid_argument(f"{HEADER_LENGTH} must be a non-negative integer, got '{header_length}'")
    length = int(text)
    if length > len(body):
        raise invalid_argument(f"{HEADER_LENGTH} is {length} but the request body has only {len(body)} bytes")
    return body[:length], body[length:]


def _parse_json(header: bytes) -> dict:
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError as error:
        raise invalid_argument(f"failed to parse the request JSON: {error}") from None
    return _mapping(document, "the request")


def _decode_inputs(items: object, binary: memoryview) -> list[Tensor]:
    if not isinstance(items, list):
        raise invalid_argument("the request must have an 'inputs' list")
    inputs, offset = [], 0
    for item in items:
        tensor = _mapping(item, "an input")
        name = _text(tensor.get("name"), "input name")
        datatype = _text(tensor.get("datatype"), f"datatype of input '{name}'")
        shape = _shape(tensor.get("shape"), name)
        size = _mapping(tensor.get("parameters", {}), f"parameters of input '{name}'").get(BINARY_SIZE)
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
                raise invalid_argument(
                    f"input '{name}' {BINARY_SIZE} {size!r} does not fit the {len(binary) - offset} bytes of binary data left"
                )
            array = from_raw(bytes(binary[offset : offset + size]), datatype, shape, name)
            offset += size
        elif "data" in tensor:
            array = from_values(_flat(tensor["data"]), datatype, shape, name)
        else:
            raise invalid_argument(f"input '{name}' has neither 'data' nor a {BINARY_SIZE} parameter")
        inputs.append(Tensor(name, datatype, shape, array))
    if offset != len(binary):
        raise invalid_argument(f"the request has {len(binary) - offset} bytes of binary data that no input claims")
    return inputs


def _requested_outputs(items: object, every_output: bool) -> tuple[list[str] | None, BinaryOutputs]:
    if items is None:
        return None, BinaryOutputs(every_output=every_output)
    if not isinstance(items, list):
        raise invalid_argument("'outputs' must be a list")
    names, binary = [], set()
    for item in items:
        output = _mapping(item, "an output")
        name = _text(output.get("name"), "output name")
        names.append(name)
        wants_binary = _mapping(output.get("parameters", {}), f"parameters of output '{name}'").get("binary_data")
        if wants_binary if wants_binary is not None else every_output:
            binary.add(name)
    return names, BinaryOutputs(names=frozenset(binary))


def _shape(value: object, name: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(dim, int) and not isinstance(dim, bool) for dim in value):
        raise invalid_argument(f"shape of input '{name}' must be a list of integers, got {value!r}")
    return tuple(value)


def _flat(data: object) -> list:
    """The leaves of nested lists in order; iterative, since orjson accepts nesting deeper than Python's recursion."""
    if not isinstance(data, list):
        return [data]
    values: list = []
    pending = [iter(data)]
    while pending:
        for item in pending[-1]:
            if isinstance(item, list):
                pending.append(iter(item))
                break
            values.append(item)
        else:
            pending.pop()
    return values


def _mapping(value: object, what: str) -> Mapping:
    if not isinstance(value, dict):
        raise invalid_argument(f"{what} must be a JSON object")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise invalid_argument(f"{what} must be a string, got {value!r}")
    return value


def infer_response_body(result: InferResult, binary_outputs: BinaryOutputs) -> tuple[bytes, bytes]:
    """The JSON header and the binary data of the outputs asked for as binary (empty when none were)."""
    outputs, chunks = [], []
    for output in result.outputs:
        entry: dict = {"name": output.name, "datatype": output.datatype, "shape": list(output.shape)}
        if binary_outputs.wants(output.name):
            raw = to_raw(output.array)
            entry["parameters"] = {BINARY_SIZE: len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = json_values(output.array, output.datatype)
        outputs.append(entry)
    document: dict = {"model_name": result.model_name, "model_version": result.model_version, "outputs": outputs}
    if result.request_id:
        document["id"] = result.request_id
    return orjson.dumps(document), b"".join(chunks)


def json_values(array: np.ndarray, datatype: str) -> list:
    """An output's values as a flat JSON list; BYTES elements as UTF-8 text (undecodable bytes replaced)."""
    flat = array.reshape(-1)
    if datatype == BYTES:
        return [item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item) for item in flat]
    return flat.tolist()


def metadata_json(metadata: ModelMetadata) -> bytes:
    return orjson.dumps(metadata)
