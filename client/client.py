"""``ServingClient``: one client with the same methods over gRPC and REST, numpy in and numpy out.

It talks to TensorFlow Serving's APIs only, so it works against our server and the real one alike, and to
one server or several replicas (``client.transport``). The signatures of each served version are fetched
once and kept (``client.signatures``): they give the dtypes that inputs are cast to and that REST outputs are
decoded by, and the name of a lone input. Which version "latest" or a label means is asked again after
``refresh`` seconds, and at once when a gRPC answer comes from another version, so a newly loaded version
with other dtypes gets inputs cast for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Callable, TypeVar, Union

import numpy as np
import tensorflow as tf

from client.errors import ClientError, invalid_argument
from client.examples import ExampleLike, to_example
from client.grpc_transport import GrpcTransport
from client.messages import (
    DEFAULT_SIGNATURE,
    Classifications,
    ModelInfo,
    ModelRef,
    SignatureSpec,
    VersionStatus,
)
from client.rest_transport import RestTransport
from client.retry import RetryPolicy
from client.signatures import SignatureCache
from client.tensors import as_input_array
from client.transport import Transport, split_servers
from client.v2_grpc_transport import V2GrpcTransport
from client.v2_messages import unsupported
from client.v2_rest_transport import V2RestTransport

TRANSPORTS = ("grpc", "rest")
PROTOCOLS = ("tfserving", "v2")
"""TensorFlow Serving's API, or the Open Inference Protocol (KServe v2: Triton, KServe, our server's /v2)."""
METADATA_SIGNATURE = "metadata"
MODEL_JSON_OUTPUT = "model_json"
REJECTED = ("INVALID_ARGUMENT", "FAILED_PRECONDITION")
"""What a server answers to inputs cast for another version's signature (a dtype or a name it does not take)."""
Inputs = Union[Mapping[str, Any], np.ndarray, Sequence[Any]]
Result = TypeVar("Result")


class ServingClient:
    """A TF Serving client for ``target``: ``host:port`` for gRPC, ``http://host:port`` for REST.

    ``protocol="v2"`` speaks the Open Inference Protocol instead (any Triton or KServe server, or our /v2):
    predict, metadata and status work as over TF Serving's API for the signature v2 describes
    (``serving_default``); classify, regress, labels and the model list answer UNIMPLEMENTED.

    ``target`` may name several replicas (``"a:8500,b:8500"`` or a list); calls are balanced over them.
    ``timeout`` bounds every call in seconds, retries included; ``retries`` more attempts are made,
    ``backoff`` seconds apart and doubling, when a replica is unavailable (gRPC UNAVAILABLE, HTTP 503,
    connection refused or dropped), each on the next replica. ``max_message_bytes`` caps gRPC messages both
    ways (default: no cap, so large responses never hit gRPC's 4 MB receive default). ``refresh`` is how
    many seconds the version behind "latest" or a label is trusted before it is asked again. Every failure
    raises ``ClientError``.
    """

    def __init__(
        self,
        target: str | Sequence[str],
        transport: str = "grpc",
        timeout: float = 10.0,
        max_message_bytes: int | None = None,
        retries: int = 3,
        backoff: float = 0.1,
        refresh: float = 30.0,
        protocol: str = "tfserving",
    ) -> None:
        if transport not in TRANSPORTS:
            raise invalid_argument(f"transport must be one of {', '.join(TRANSPORTS)}; got {transport!r}")
        if protocol not in PROTOCOLS:
            raise invalid_argument(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or refresh < 0:
            raise invalid_argument(
                f"need timeout > 0, retries >= 0, backoff >= 0, refresh >= 0; got {timeout}, {retries}, {backoff}, "
                f"{refresh}"
            )
        self.servers = split_servers(target)
        self.target = ",".join(self.servers)
        self.transport = transport
        self.protocol = protocol
        self.timeout = timeout
        self.retry = RetryPolicy(retries=retries, initial_backoff=backoff)
        self._transport = open_transport(transport, protocol, self.servers, max_message_bytes, self.retry)
        self._signatures = SignatureCache(refresh)
        self._closed = False

    def predict(
        self,
        model: str,
        inputs: Inputs,
        signature: str | None = None,
        version: int | None = None,
        label: str | None = None,
        output_filter: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run a signature on ``inputs`` (a dict by input name, or one array for a one-input signature).

        Inputs are cast to the signature's dtypes; the outputs come back by name with those dtypes
        (strings as bytes), all of them or the ``output_filter`` ones.
        """
        ref = model_ref(model, version, label, signature)
        cast_for = self._signatures.version_of(ref)
        try:
            answered_as_cast, outputs = self._predict(ref, inputs, output_filter)
        except ClientError as error:
            if error.code not in REJECTED or not self._version_changed(ref, cast_for):
                raise
            return self._predict(ref, inputs, output_filter)[1]  # cast for the version now served
        if answered_as_cast:
            return outputs
        self._signatures.forget(ref)  # another version answered: its outputs may differ from the ones expected
        return self._predict(ref, inputs, output_filter)[1]

    def _version_changed(self, ref: ModelRef, cast_for: int | None) -> bool:
        """Whether "latest" or the label of ``ref`` now stands for another version than the inputs were cast for."""
        if ref.version is not None:
            return False
        self._signatures.forget(ref)
        self.metadata(ref.name, ref.version, ref.label)
        return self._signatures.version_of(ref) != cast_for

    def _predict(
        self, ref: ModelRef, inputs: Inputs, output_filter: Sequence[str] | None
    ) -> tuple[bool, dict[str, np.ndarray]]:
        """The outputs, and whether the version that answered is the one the inputs were cast for (as far as
        the API tells: a REST answer does not name its version)."""
        spec = self.signature(ref.name, ref.signature, ref.version, ref.label)
        cast_for = self._signatures.version_of(ref)
        arrays = _input_arrays(ref.signature, spec, inputs)
        names = _output_names(spec, output_filter)
        served, outputs = self._call(lambda seconds: self._transport.predict(ref, arrays, spec, names, seconds))
        return served is None or cast_for is None or served == cast_for, outputs

    def classify(
        self,
        model: str,
        examples: Sequence[ExampleLike],
        signature: str | None = None,
        version: int | None = None,
        label: str | None = None,
    ) -> Classifications:
        """TF Serving's Classify API: for each example, its ``(label, score)`` pairs."""
        ref = model_ref(model, version, label, signature)
        protos = _examples(examples)
        return self._call(lambda seconds: self._transport.classify(ref, protos, seconds))

    def regress(
        self,
        model: str,
        examples: Sequence[ExampleLike],
        signature: str | None = None,
        version: int | None = None,
        label: str | None = None,
    ) -> np.ndarray:
        """TF Serving's Regress API: one float32 value per example."""
        ref = model_ref(model, version, label, signature)
        protos = _examples(examples)
        return self._call(lambda seconds: self._transport.regress(ref, protos, seconds))

    def metadata(self, model: str, version: int | None = None, label: str | None = None) -> dict[str, SignatureSpec]:
        """Every signature of the model with its inputs and outputs (``tf.TensorSpec``: dtype and shape)."""
        ref = model_ref(model, version, label)
        served_version, signatures = self._call(lambda seconds: self._transport.metadata(ref, seconds))
        self._signatures.store(ref, served_version, signatures)
        return signatures

    def signature(
        self, model: str, signature: str | None = None, version: int | None = None, label: str | None = None
    ) -> SignatureSpec:
        """One signature (default ``serving_default``), from the metadata this client keeps per model version."""
        ref = model_ref(model, version, label, signature)
        signatures = self._signatures.get(ref) or self.metadata(model, version, label)
        if ref.signature not in signatures and self.protocol == "v2":
            raise unsupported(f'signature "{ref.signature}" of model "{model}" (v2 describes only serving_default)')
        if ref.signature not in signatures:
            raise ClientError(
                "FAILED_PRECONDITION",
                f'model "{model}" has no signature "{ref.signature}"; it has: {", ".join(signatures)}',
            )
        return signatures[ref.signature]

    def status(self, model: str, version: int | None = None) -> list[VersionStatus]:
        """Each version the server knows of, with its state (``AVAILABLE``, ``END``, …) and load error."""
        ref = model_ref(model, version, None)
        return self._call(lambda seconds: self._transport.status(ref, seconds))

    def contract(self, model: str, version: int | None = None, label: str | None = None) -> dict[str, Any]:
        """The model's model.json, read by calling its ``metadata`` signature (the export contract)."""
        outputs = self.predict(model, {}, METADATA_SIGNATURE, version, label, output_filter=[MODEL_JSON_OUTPUT])
        text = outputs[MODEL_JSON_OUTPUT].reshape(-1)[0]
        try:
            return json.loads(text)
        except ValueError as error:
            raise ClientError("DATA_LOSS", f"model_json of model {model!r} is not valid JSON: {error}") from None

    def list_models(self) -> list[ModelInfo]:
        """Every model with its versions and labels: our server's REST extension, not TF Serving's API."""
        return self._call(self._transport.list_models)

    def close(self) -> None:
        """Close the channel or the connections; later calls raise FAILED_PRECONDITION."""
        self._closed = True
        self._transport.close()

    def __enter__(self) -> ServingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, operation: Callable[[float], Result]) -> Result:
        if self._closed:
            raise ClientError("FAILED_PRECONDITION", f"the client of {self.target} is closed")
        return self.retry.call(operation, self.timeout)


def open_transport(
    transport: str, protocol: str, servers: list[str], max_message_bytes: int | None, retry: RetryPolicy
) -> Transport:
    """The transport for an API (gRPC or REST) of a protocol (TF Serving's or v2)."""
    if transport == "grpc":
        transport_class = GrpcTransport if protocol == "tfserving" else V2GrpcTransport
        return transport_class(servers, max_message_bytes, retry)
    return RestTransport(servers) if protocol == "tfserving" else V2RestTransport(servers)


def model_ref(model: str, version: int | None, label: str | None, signature: str | None = None) -> ModelRef:
    """Check the choice of model, version or label, and signature (default ``serving_default``)."""
    if not model:
        raise invalid_argument("a model name is required")
    if version is not None and label is not None:
        raise invalid_argument(f"choose a version or a label, not both (got version {version}, label {label!r})")
    return ModelRef(model, version, label, signature or DEFAULT_SIGNATURE)


def _input_arrays(signature_name: str, spec: SignatureSpec, inputs: Inputs) -> dict[str, np.ndarray]:
    if not isinstance(inputs, Mapping):
        if len(spec.inputs) != 1:
            raise invalid_argument(
                f'signature "{signature_name}" takes inputs {sorted(spec.inputs)}: pass a dict of them'
            )
        inputs = {next(iter(spec.inputs)): inputs}
    missing, unknown = sorted(spec.inputs.keys() - inputs.keys()), sorted(inputs.keys() - spec.inputs.keys())
    if missing or unknown:
        raise invalid_argument(
            f'signature "{signature_name}" takes inputs {sorted(spec.inputs)}; missing {missing}, unknown {unknown}'
        )
    return {alias: as_input_array(alias, value, spec.inputs[alias]) for alias, value in inputs.items()}


def _output_names(spec: SignatureSpec, output_filter: Sequence[str] | None) -> list[str]:
    """The outputs to return: all of them without a filter, else the filter's, each once."""
    if not output_filter:
        return list(spec.outputs)
    unknown = [alias for alias in output_filter if alias not in spec.outputs]
    if unknown:
        raise invalid_argument(f"unknown outputs {unknown}; the signature has {sorted(spec.outputs)}")
    return list(dict.fromkeys(output_filter))


def _examples(examples: Sequence[ExampleLike]) -> list[tf.train.Example]:
    if not examples:
        raise invalid_argument("classify and regress need at least one example")
    return [to_example(example) for example in examples]
