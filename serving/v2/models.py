"""The protocol's calls on our models, independent of REST or gRPC.

A v2 model is one of our models and a v2 version one of its versions (an empty version: the latest). A model
runs its ``serving_default`` signature unless the request's ``signature_name`` parameter names another;
metadata lists that signature's inputs and outputs. Inference goes through ``Inference.predict_arrays``, so
a v2 request batches with TensorFlow Serving requests for the same signature and honours the same deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from serving import __version__ as SERVER_VERSION
from serving.core.inference import Inference
from serving.core.servable import Servable
from serving.core.signature import DEFAULT_SIGNATURE, Signature, TensorInfo
from serving.errors import ServingError, invalid_argument
from serving.v2.datatypes import datatype_of, datatype_of_array

SERVER_NAME = "keras-serving-lab"
EXTENSIONS = ("binary_tensor_data",)
PLATFORM = "tensorflow_savedmodel"
SIGNATURE_PARAMETER = "signature_name"


@dataclass(frozen=True)
class Tensor:
    """One request input or response output: its name, datatype, shape and values."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request; ``outputs`` None asks for every output of the signature."""

    model_name: str
    model_version: str
    inputs: Sequence[Tensor]
    outputs: Sequence[str] | None = None
    signature_name: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class InferResult:
    model_name: str
    model_version: str
    outputs: list[Tensor] = field(default_factory=list)
    request_id: str = ""


@dataclass(frozen=True)
class TensorMetadata:
    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class V2Models:
    """Health, metadata and inference as the protocol defines them, on the models the server serves."""

    def __init__(self, inference: Inference, is_ready: Callable[[], bool]) -> None:
        self._inference = inference
        self._is_ready = is_ready

    def server_ready(self) -> bool:
        return self._is_ready()

    def model_ready(self, name: str, version: str) -> bool:
        try:
            self.servable(name, version)
        except ServingError:
            return False
        return True

    def servable(self, name: str, version: str) -> Servable:
        """The version a request names (latest when empty); NOT_FOUND or INVALID_ARGUMENT otherwise."""
        return self._inference.servables.servable(name, version=parse_version(version))

    def model_metadata(self, name: str, version: str) -> ModelMetadata:
        """The model's versions and its ``serving_default`` signature's inputs and outputs."""
        servable = self.servable(name, version)
        signature = self._inference.predict_signature(servable, DEFAULT_SIGNATURE)
        versions = [str(number) for number in sorted(self._inference.servables.versions(name))]
        return ModelMetadata(
            name=name,
            versions=versions,
            platform=PLATFORM,
            inputs=[tensor_metadata(info) for _, info in sorted(signature.inputs.items())],
            outputs=[tensor_metadata(info) for _, info in sorted(signature.outputs.items())],
        )

    def infer(self, request: InferRequest, deadline: float | None) -> InferResult:
        servable = self.servable(request.model_name, request.model_version)
        signature = self._inference.predict_signature(servable, request.signature_name)
        inputs = checked_inputs(signature, request.inputs, request.model_name)
        outputs = self._inference.predict_arrays(servable, signature, inputs, request.outputs or (), deadline)
        return InferResult(
            model_name=servable.name,
            model_version=str(servable.version),
            outputs=[infer_output(name, outputs[name]) for name in (request.outputs or sorted(outputs))],
            request_id=request.request_id,
        )


def parse_version(version: str) -> int | None:
    if not version:
        return None
    if not version.isdigit():
        raise invalid_argument(f"model version must be a non-negative integer, got '{version}'")
    return int(version)


def tensor_metadata(info: TensorInfo) -> TensorMetadata:
    shape = (-1,) if info.shape is None else tuple(-1 if dim is None else dim for dim in info.shape)
    return TensorMetadata(name=info.alias, datatype=datatype_of(info.dtype), shape=shape)


def checked_inputs(signature: Signature, inputs: Sequence[Tensor], model_name: str) -> dict[str, np.ndarray]:
    """The request's arrays by name, each checked against the signature's datatype and known dimensions."""
    arrays: dict[str, np.ndarray] = {}
    for tensor in inputs:
        if tensor.name in arrays:
            raise invalid_argument(f"input '{tensor.name}' appears more than once in the request")
        info = signature.inputs.get(tensor.name)
        if info is None:
            expected = ", ".join(sorted(signature.inputs))
            raise invalid_argument(f"unexpected inference input '{tensor.name}' for model '{model_name}'; expected {expected}")
        _check_tensor(info, tensor, model_name)
        arrays[tensor.name] = tensor.array
    missing = sorted(set(signature.inputs) - set(arrays))
    if missing:
        raise invalid_argument(f"expected inputs {', '.join(missing)} for model '{model_name}' are missing")
    return arrays


def _check_tensor(info: TensorInfo, tensor: Tensor, model_name: str) -> None:
    expected = datatype_of(info.dtype)
    if tensor.datatype != expected:
        raise invalid_argument(
            f"unexpected datatype {tensor.datatype} for inference input '{tensor.name}', expecting {expected}"
        )
    if info.shape is None:
        return
    fits = len(info.shape) == len(tensor.shape) and all(
        want is None or want == got for want, got in zip(info.shape, tensor.shape)
    )
    if not fits:
        wanted = [-1 if dim is None else dim for dim in info.shape]
        raise invalid_argument(
            f"unexpected shape for input '{tensor.name}' for model '{model_name}'. "
            f"Expected {wanted}, got {list(tensor.shape)}"
        )


def infer_output(name: str, array: np.ndarray) -> Tensor:
    array = np.asarray(array)
    return Tensor(name=name, datatype=datatype_of_array(array), shape=tuple(array.shape), array=array)
