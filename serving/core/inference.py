"""Predict, Classify, Regress, MultiInference and GetModelMetadata on resolved servables.

The gRPC front end and warmup call the proto-level methods; the REST front end calls the
numpy-level ones after decoding JSON. A ``Runner`` executes a signature: directly, or through the
batching scheduler when ``--enable_batching`` is on.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Mapping

import grpc
import numpy as np
from google.protobuf import any_pb2
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from serving.core.servable import Servable, check_inputs
from serving.core.serving_map import ServingMap
from serving.core.signature import DEFAULT_SIGNATURE, Signature
from serving.core.tensors import to_ndarray, to_tensor_proto
from serving.errors import ServingError, failed_precondition, invalid_argument

Arrays = dict[str, np.ndarray]
Outputs = tuple[str, ...] | None  # the output aliases to fetch; None: every output of the signature
Runner = Callable[[Servable, Signature, Arrays, float | None, Outputs], Arrays]
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
SIGNATURE_DEF_FIELD = "signature_def"


def run_directly(
    servable: Servable, signature: Signature, inputs: Arrays, deadline: float | None, outputs: Outputs = None
) -> Arrays:
    """The runner without batching: call the signature in this thread, cancelled when the deadline passes."""
    check_deadline(deadline)
    return servable.run(signature, inputs, outputs, deadline)


def check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded before the model ran")


class Inference:
    """The handlers' single entry point to run models."""

    def __init__(self, servables: ServingMap, runner: Runner = run_directly, tensor_content: bool = False) -> None:
        self.servables = servables
        self.runner = runner
        self.tensor_content = tensor_content

    # ---- model resolution ---------------------------------------------------------------------
    def resolve(self, spec: model_pb2.ModelSpec, has_spec: bool = True) -> Servable:
        if not has_spec:
            raise invalid_argument("Missing ModelSpec")
        choice = spec.WhichOneof("version_choice")
        version = spec.version.value if choice == "version" else None
        label = spec.version_label if choice == "version_label" else None
        return self.servables.servable(spec.name, version=version, label=label)

    # ---- predict ------------------------------------------------------------------------------
    def predict_signature(self, servable: Servable, signature_name: str) -> Signature:
        signature = servable.find_signature(signature_name or DEFAULT_SIGNATURE)
        if signature is None:
            raise failed_precondition(f'Serving signature key "{signature_name or DEFAULT_SIGNATURE}" not found.')
        return signature

    def predict_arrays(
        self,
        servable: Servable,
        signature: Signature,
        inputs: Arrays,
        output_filter: Iterable[str] = (),
        deadline: float | None = None,
    ) -> Arrays:
        """Validate inputs and the output filter, then run fetching only the requested outputs."""
        wanted = select_outputs(signature, list(output_filter))
        check_inputs(signature, inputs)
        outputs = self.runner(servable, signature, inputs, deadline, tuple(sorted(wanted)))
        return {alias: outputs[alias] for alias in wanted}

    def predict(self, request: predict_pb2.PredictRequest, deadline: float | None = None) -> predict_pb2.PredictResponse:
        servable = self.resolve(request.model_spec, request.HasField("model_spec"))
        return self.predict_on(servable, request, deadline)

    def predict_on(
        self, servable: Servable, request: predict_pb2.PredictRequest, deadline: float | None = None
    ) -> predict_pb2.PredictResponse:
        signature = self.predict_signature(servable, request.model_spec.signature_name)
        inputs = {alias: to_ndarray(proto, alias) for alias, proto in request.inputs.items()}
        outputs = self.predict_arrays(servable, signature, inputs, request.output_filter, deadline)
        response = predict_pb2.PredictResponse(model_spec=resolved_spec(servable, signature.name))
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(to_tensor_proto(value, self.tensor_content))
        return response

    # ---- classify and regress -----------------------------------------------------------------
    def task_signature(self, servable: Servable, signature_name: str) -> Signature:
        name = signature_name or DEFAULT_SIGNATURE
        signature = servable.find_signature(name)
        if signature is None:
            raise invalid_argument(f"No signature was found with the name: {name}")
        return signature

    def classify_input(
        self, servable: Servable, signature: Signature, examples: input_pb2.Input, deadline: float | None = None
    ) -> classification_pb2.ClassificationResult:
        outputs = self._run_on_examples(servable, signature, examples, deadline)
        return classification_result(signature, outputs)

    def regress_input(
        self, servable: Servable, signature: Signature, examples: input_pb2.Input, deadline: float | None = None
    ) -> regression_pb2.RegressionResult:
        outputs = self._run_on_examples(servable, signature, examples, deadline)
        return regression_result(signature, outputs)

    def _run_on_examples(
        self, servable: Servable, signature: Signature, examples: input_pb2.Input, deadline: float | None
    ) -> Arrays:
        if len(signature.inputs) != 1 or next(iter(signature.inputs.values())).dtype != types_pb2.DT_STRING:
            raise invalid_argument(
                f"Expected one string input Tensor in signature {signature.name} for serialized tf.Examples"
            )
        alias = next(iter(signature.inputs))
        serialized = serialized_examples(examples)
        return self.runner(servable, signature, {alias: serialized}, deadline, None)

    def classify(self, request: classification_pb2.ClassificationRequest, deadline: float | None = None):
        servable = self.resolve(request.model_spec, request.HasField("model_spec"))
        return self.classify_on(servable, request, deadline)

    def classify_on(self, servable: Servable, request, deadline: float | None = None):
        signature = self.task_signature(servable, request.model_spec.signature_name)
        result = self.classify_input(servable, signature, request.input, deadline)
        return classification_pb2.ClassificationResponse(
            model_spec=resolved_spec(servable, signature.name), result=result
        )

    def regress(self, request: regression_pb2.RegressionRequest, deadline: float | None = None):
        servable = self.resolve(request.model_spec, request.HasField("model_spec"))
        return self.regress_on(servable, request, deadline)

    def regress_on(self, servable: Servable, request, deadline: float | None = None):
        signature = self.task_signature(servable, request.model_spec.signature_name)
        result = self.regress_input(servable, signature, request.input, deadline)
        return regression_pb2.RegressionResponse(model_spec=resolved_spec(servable, signature.name), result=result)

    # ---- multi-inference ----------------------------------------------------------------------
    def multi_inference(self, request: inference_pb2.MultiInferenceRequest, deadline: float | None = None):
        if not request.tasks:
            raise invalid_argument("MultiInferenceRequest must have at least one task")
        names = {task.model_spec.name for task in request.tasks}
        if len(names) != 1:
            raise invalid_argument("All ModelSpecs in a MultiInferenceRequest must access the same model name.")
        servable = self.resolve(request.tasks[0].model_spec)
        return self.multi_inference_on(servable, request, deadline)

    def multi_inference_on(self, servable: Servable, request, deadline: float | None = None):
        response = inference_pb2.MultiInferenceResponse()
        seen: set[str] = set()
        for task in request.tasks:
            name = task.model_spec.signature_name or DEFAULT_SIGNATURE
            if name in seen:
                raise invalid_argument(f"Duplicate evaluation of signature: {name}")
            seen.add(name)
            signature = servable.find_signature(name)
            if signature is None:
                raise invalid_argument(f"Requested signature not found in model graph: {name}")
            result = response.results.add(model_spec=resolved_spec(servable, name))
            if task.method_name == CLASSIFY_METHOD:
                result.classification_result.CopyFrom(self.classify_input(servable, signature, request.input, deadline))
            elif task.method_name == REGRESS_METHOD:
                result.regression_result.CopyFrom(self.regress_input(servable, signature, request.input, deadline))
            else:
                raise invalid_argument(f"Unsupported signature method_name: {task.method_name}")
        return response

    # ---- metadata -----------------------------------------------------------------------------
    def metadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest):
        servable = self.resolve(request.model_spec, request.HasField("model_spec"))
        if not request.metadata_field:
            raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
        for field_name in request.metadata_field:
            if field_name != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field_name} is not supported")
        return metadata_response(servable)


def resolved_spec(servable: Servable, signature_name: str | None = None) -> model_pb2.ModelSpec:
    """The response's model spec: name, the version actually used, and the signature name."""
    spec = model_pb2.ModelSpec(name=servable.name, signature_name=signature_name or "")
    spec.version.value = servable.version
    return spec


def metadata_response(servable: Servable) -> get_model_metadata_pb2.GetModelMetadataResponse:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in servable.signature_defs.items():
        signature_map.signature_def[name].CopyFrom(signature_def)
    packed = any_pb2.Any()
    packed.Pack(signature_map)
    response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=resolved_spec(servable))
    response.metadata[SIGNATURE_DEF_FIELD].CopyFrom(packed)
    return response


def select_outputs(signature: Signature, output_filter: list[str]) -> list[str]:
    """The output aliases to return; TensorFlow Serving's errors for unknown or repeated ones."""
    if not output_filter:
        return sorted(signature.outputs)
    seen: set[str] = set()
    for alias in output_filter:
        if alias not in signature.outputs:
            expected = "{" + ",".join(sorted(signature.outputs)) + "}"
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs expected to be in the set {expected}."
            )
        if alias in seen:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return output_filter


def serialized_examples(examples: input_pb2.Input) -> np.ndarray:
    """Serialized tf.Examples of an Input; context features are merged into every example."""
    kind = examples.WhichOneof("kind")
    if kind == "example_list":
        items = [example.SerializeToString() for example in examples.example_list.examples]
    elif kind == "example_list_with_context":
        items = _with_context(examples.example_list_with_context)
    else:
        items = []
    if not items:
        raise invalid_argument("Input is empty.")
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _with_context(listing: input_pb2.ExampleListWithContext) -> list[bytes]:
    merged = []
    for example in listing.examples:
        combined = example_pb2.Example()
        combined.CopyFrom(listing.context)
        combined.MergeFrom(example)
        merged.append(combined.SerializeToString())
    return merged


def classification_result(signature: Signature, outputs: Mapping[str, np.ndarray]):
    classes = outputs.get("classes") if "classes" in signature.outputs else None
    scores = outputs.get("scores") if "scores" in signature.outputs else None
    if classes is None and scores is None:
        raise invalid_argument(
            f"Expected classification signature outputs to contain classes or scores ({signature.name})"
        )
    batch = _batch_size(classes if classes is not None else scores)
    classes = _as_matrix(classes, batch, "classes")
    scores = _as_matrix(scores, batch, "scores")
    result = classification_pb2.ClassificationResult()
    for row in range(batch):
        width = (classes if classes is not None else scores).shape[1]
        classification = result.classifications.add()
        for column in range(width):
            entry = classification.classes.add()
            if classes is not None:
                entry.label = _text(classes[row, column])
            if scores is not None:
                entry.score = float(scores[row, column])
    return result


def regression_result(signature: Signature, outputs: Mapping[str, np.ndarray]) -> regression_pb2.RegressionResult:
    if "outputs" not in signature.outputs:
        raise invalid_argument(f"No 'outputs' output in regression signature {signature.name}")
    values = outputs["outputs"]
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise invalid_argument(f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got {list(values.shape)}")
    result = regression_pb2.RegressionResult()
    for value in values.tolist():
        result.regressions.add(value=float(value))
    return result


def _batch_size(array: np.ndarray) -> int:
    if array.ndim == 0:
        raise invalid_argument("Expected classification outputs with a batch dimension")
    return array.shape[0]


def _as_matrix(array: np.ndarray | None, batch: int, alias: str) -> np.ndarray | None:
    if array is None:
        return None
    if array.ndim != 2 or array.shape[0] != batch:
        raise invalid_argument(f"Expected {alias} output of shape [{batch}, num_classes] but got {list(array.shape)}")
    return array


def _text(value: object) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
