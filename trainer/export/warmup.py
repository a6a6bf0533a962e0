"""`assets.extra/tf_serving_warmup_requests`: one PredictionLog per signature, replayed before publishing.

TensorFlow Serving replays this file while it loads a version and fails the load on any error, so every
request must match its signature exactly; `replay_warmup` runs them against the reloaded SavedModel
the same way before the export is renamed into place.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2, predict_pb2, prediction_log_pb2

from trainer.errors import TrainerError
from trainer.export.spec import CLASSIFY, PREDICT, Signature

CLASSIFY_INPUT = "inputs"
CLASSIFY_OUTPUTS = frozenset({"classes", "scores"})


def _predict_log(model_name: str, signature: Signature) -> prediction_log_pb2.PredictionLog:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature.name
    for name, value in signature.warmup.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def _classify_log(model_name: str, signature: Signature) -> prediction_log_pb2.PredictionLog:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature.name
    examples = request.input.example_list.examples
    examples.extend(tf.train.Example.FromString(serialized) for serialized in signature.warmup[CLASSIFY_INPUT])
    return prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=request))


def warmup_log(model_name: str, signature: Signature) -> prediction_log_pb2.PredictionLog:
    """The warmup record for one signature: a predict_log or a classify_log, by signature.method."""
    builders = {PREDICT: _predict_log, CLASSIFY: _classify_log}
    if signature.method not in builders:
        raise ValueError(f"signature '{signature.name}': method must be one of {sorted(builders)}")
    return builders[signature.method](model_name, signature)


def write_warmup(path: Path, model_name: str, signatures: Sequence[Signature]) -> None:
    """Write one warmup record per signature as a TFRecord file."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in signatures:
            writer.write(warmup_log(model_name, signature).SerializeToString())


def read_warmup(path: Path) -> list[prediction_log_pb2.PredictionLog]:
    """Parse a warmup file back into PredictionLogs."""
    records = tf.data.TFRecordDataset(str(path))
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in records]


def _mismatch(signature_name: str, problem: str) -> TrainerError:
    return TrainerError(f"warmup request for signature '{signature_name}' does not match it: {problem}")


def _predict_inputs(request: predict_pb2.PredictRequest, function: Any) -> dict[str, np.ndarray]:
    """The request's inputs as arrays, after checking names, dtypes and shapes against the signature."""
    name = request.model_spec.signature_name
    specs = function.structured_input_signature[1]
    if set(request.inputs) != set(specs):
        raise _mismatch(name, f"inputs {sorted(request.inputs)}, signature wants {sorted(specs)}")
    arrays = {}
    for key, proto in request.inputs.items():
        dtype, shape = tf.dtypes.as_dtype(proto.dtype), tf.TensorShape(proto.tensor_shape)
        if dtype != specs[key].dtype or not specs[key].shape.is_compatible_with(shape):
            raise _mismatch(name, f"input '{key}' is {dtype.name} {shape}, signature wants {specs[key]}")
        arrays[key] = tf.make_ndarray(proto)
    return arrays


def _check_classify_signature(name: str, function: Any) -> None:
    specs = function.structured_input_signature[1]
    if list(specs) != [CLASSIFY_INPUT] or specs[CLASSIFY_INPUT].dtype != tf.string:
        raise _mismatch(name, f"a classify signature needs exactly one string input '{CLASSIFY_INPUT}'")
    outputs = set(function.structured_outputs)
    if not outputs & CLASSIFY_OUTPUTS or not outputs <= CLASSIFY_OUTPUTS:
        raise _mismatch(name, f"a classify signature returns 'classes' and/or 'scores', not {sorted(outputs)}")


def _check_classify_result(name: str, outputs: dict[str, Any], examples: int) -> None:
    expected = {"classes": tf.string, "scores": tf.float32}
    for key, tensor in outputs.items():
        if tensor.dtype != expected[key] or tensor.shape.rank != 2 or tensor.shape[0] != examples:
            raise _mismatch(name, f"output '{key}' is {tensor.dtype.name} {tensor.shape}, wanted [{examples}, K]")


def _replay(log: prediction_log_pb2.PredictionLog, loaded: Any) -> tuple[str, dict[str, Any]]:
    kind = log.WhichOneof("log_type")
    request = getattr(log, kind).request
    name = request.model_spec.signature_name
    if name not in loaded.signatures:
        raise _mismatch(name, f"the SavedModel has no such signature (it has {sorted(loaded.signatures)})")
    function = loaded.signatures[name]
    try:
        if kind == "predict_log":
            return name, function(**_predict_inputs(request, function))
        if kind == "classify_log":
            _check_classify_signature(name, function)
            examples = [example.SerializeToString() for example in request.input.example_list.examples]
            outputs = function(**{CLASSIFY_INPUT: tf.constant(examples, dtype=tf.string)})
            _check_classify_result(name, outputs, len(examples))
            return name, outputs
    except (tf.errors.OpError, TypeError, ValueError) as error:
        raise _mismatch(name, str(error).strip().splitlines()[0]) from error
    raise _mismatch(name, f"unsupported warmup log type '{kind}'")


def replay_warmup(loaded: Any, path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Run every warmup request against a loaded SavedModel; return each signature's outputs.

    Raises TrainerError unless there is exactly one request per signature and each one runs.
    """
    results: dict[str, dict[str, np.ndarray]] = {}
    for log in read_warmup(path):
        name, outputs = _replay(log, loaded)
        if name in results:
            raise _mismatch(name, "more than one warmup request")
        results[name] = {key: np.asarray(tensor) for key, tensor in outputs.items()}
    missing = set(loaded.signatures) - set(results)
    if missing:
        raise TrainerError(f"no warmup request for signatures {sorted(missing)}")
    return results
