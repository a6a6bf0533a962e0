"""A version served from its ``model.tflite`` through TensorFlow Lite's interpreter (``--prefer_tflite_model``).

TensorFlow Serving's ``TfLiteSession`` (servables/tensorflow/tflite_session.cc) is followed: with the flag on,
a version directory holding ``model.tflite`` is served from it instead of the SavedModel beside it. Its
signatures are the SignatureDefs that the TF Lite tools store in the model's ``signature_defs_metadata``
(a FlexBuffer map from signature key to serialized SignatureDef); a model without them gets one generated
``serving_default`` signature whose aliases are its input and output tensor names without the ``:0`` suffix.
Inputs are resized to each request's shape, as the C++ session does, so one model answers any batch size
its graph allows. An interpreter runs one call at a time; ``pool_size`` interpreters (``--num_tflite_pools``)
run calls in parallel.

The interpreter is TensorFlow's own ``tf.lite.Interpreter``, the runtime the C++ server links: no second
dependency, and the same kernels as the converter that wrote the model.
"""

from __future__ import annotations

import os
import queue
import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
import tensorflow as tf
from flatbuffers import flexbuffers
from google.protobuf.message import DecodeError
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow_serving.apis import prediction_log_pb2

from serving.core.servable import Servable, build_servable, load_servable
from serving.core.signature import DEFAULT_SIGNATURE
from serving.core.tensors import DTYPE_BY_NUMPY
from serving.errors import invalid_argument

TFLITE_MODEL_FILE = "model.tflite"
TFLITE_FORMAT = "tflite"
SIGNATURE_DEFS_METADATA = b"signature_defs_metadata"
PREDICT_METHOD = "tensorflow/serving/predict"


def load_version(
    name: str, version: int, path: str, tags: frozenset[str], prefer_tflite: bool = False, pool_size: int = 1
) -> Servable:
    """The version at ``path``: from model.tflite when preferred and present, else from the SavedModel."""
    if prefer_tflite and os.path.isfile(os.path.join(path, TFLITE_MODEL_FILE)):
        return load_tflite_servable(name, version, path, pool_size)
    return load_servable(name, version, path, tags)


def load_tflite_servable(name: str, version: int, path: str, pool_size: int = 1) -> Servable:
    """Load ``path/model.tflite``; INVALID_ARGUMENT naming the file when TF Lite cannot use it."""
    model_file = os.path.join(path, TFLITE_MODEL_FILE)
    with open(model_file, "rb") as handle:
        content = handle.read()
    pool = InterpreterPool(content, max(pool_size, 1), model_file)
    signature_defs = read_signature_defs(content) or generated_signature_defs(pool.tensor_details())
    for key, signature_def in signature_defs.items():
        pool.resolve_names(key, signature_def)
    return build_servable(name, version, path, signature_defs, partial(TfLiteSignature, pool), pool, TFLITE_FORMAT)


def warmup_applies(servable: Servable, entry: prediction_log_pb2.PredictionLog) -> bool:
    """Whether a warmup record is for this version: on a TF Lite version, only records whose signatures the
    model has. An export's warmup file serves its SavedModel, whose other signatures (classify, metadata, ...)
    a TF Lite model cannot hold (TF Serving runs only its primary subgraph), so they are skipped rather than
    failing the load. (TF Serving replays them all and fails; there, such exports need
    ``--enable_model_warmup=false``.)"""
    if servable.model_format != TFLITE_FORMAT:
        return True
    kind = entry.WhichOneof("log_type")
    request = getattr(entry, kind).request if kind else None
    if kind == "multi_inference_log":
        names = [task.model_spec.signature_name for task in request.tasks]
    else:
        names = [request.model_spec.signature_name] if request is not None else []
    return all((name or DEFAULT_SIGNATURE) in servable.signatures for name in names)


def read_signature_defs(content: bytes) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs stored in the model's ``signature_defs_metadata``; empty when it has none."""
    model = schema.Model.GetRootAsModel(content, 0)
    for index in range(model.MetadataLength()):
        metadata = model.Metadata(index)
        if metadata.Name() == SIGNATURE_DEFS_METADATA:
            try:
                entries = flexbuffers.GetRoot(bytes(model.Buffers(metadata.Buffer()).DataAsNumpy())).AsMap
                return {key.AsKey: meta_graph_pb2.SignatureDef.FromString(value.AsStringBytes)
                        for key, value in zip(entries.Keys, entries.Values)}
            except (DecodeError, ValueError, TypeError, IndexError, struct.error) as error:
                raise invalid_argument(f"Invalid SignatureDefs found in TfLite model: {error}") from None
    return {}


def generated_signature_defs(details: tuple[list[dict], list[dict]]) -> dict[str, meta_graph_pb2.SignatureDef]:
    """TF Serving's signature for a model without SignatureDefs: every input and output by tensor name."""
    inputs, outputs = details
    signature_def = meta_graph_pb2.SignatureDef(method_name=PREDICT_METHOD)
    for detail in inputs:
        signature_def.inputs[legacy_name(detail["name"])].CopyFrom(tensor_info(detail))
    for detail in outputs:
        signature_def.outputs[legacy_name(detail["name"])].CopyFrom(tensor_info(detail))
    return {DEFAULT_SIGNATURE: signature_def}


def legacy_name(tensor_name: str) -> str:
    """A TensorFlow tensor name as early TF Lite converters wrote it (``x:0`` -> ``x``)."""
    return tensor_name.split(":", 1)[0]


def tensor_info(detail: dict) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=detail["name"], dtype=_data_type(np.dtype(detail["dtype"])))
    for size in detail["shape"]:
        info.tensor_shape.dim.add(size=int(size))
    return info


def _data_type(dtype: np.dtype) -> int:
    if dtype.kind in "OSU":
        return types_pb2.DT_STRING
    return DTYPE_BY_NUMPY.get(dtype, types_pb2.DT_INVALID)


class InterpreterPool:
    """``size`` interpreters of one model; a call borrows one for its whole run."""

    def __init__(self, content: bytes, size: int, model_file: str) -> None:
        self._idle: queue.SimpleQueue[tf.lite.Interpreter] = queue.SimpleQueue()
        for _ in range(size):
            self._idle.put(_interpreter(content, model_file))
        with self.borrow() as interpreter:
            self._details = (interpreter.get_input_details(), interpreter.get_output_details())
        self._inputs = {detail["name"]: detail["index"] for detail in self._details[0]}
        self._outputs = {detail["name"]: detail["index"] for detail in self._details[1]}

    def tensor_details(self) -> tuple[list[dict], list[dict]]:
        return self._details

    def resolve_names(self, key: str, signature_def: meta_graph_pb2.SignatureDef) -> None:
        """Point each TensorInfo at an existing tensor (legacy names without ``:0`` too), as TF Serving does."""
        for kind, infos, indices in (("input", signature_def.inputs, self._inputs),
                                     ("output", signature_def.outputs, self._outputs)):
            for alias, info in infos.items():
                if info.name not in indices and legacy_name(info.name) not in indices:
                    raise invalid_argument(f"Signature {key} {kind} {alias} references an unknown tensor '{info.name}'")
                if info.name not in indices:
                    info.name = legacy_name(info.name)

    def input_index(self, name: str) -> int:
        return self._inputs[name]

    def output_index(self, name: str) -> int:
        return self._outputs[name]

    @contextmanager
    def borrow(self) -> Iterator[tf.lite.Interpreter]:
        interpreter = self._idle.get()
        try:
            yield interpreter
        finally:
            self._idle.put(interpreter)


def _interpreter(content: bytes, model_file: str) -> tf.lite.Interpreter:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its notice that LiteRT's package will take over the interpreter
            interpreter = tf.lite.Interpreter(model_content=content)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise invalid_argument(f"Cannot build a TF Lite interpreter from {model_file}: {error}") from None
    return interpreter


class TfLiteSignature:
    """One signature of a TF Lite model, called with positional inputs in alias order."""

    def __init__(self, pool: InterpreterPool, signature_def: meta_graph_pb2.SignatureDef) -> None:
        self.input_aliases = tuple(sorted(signature_def.inputs))
        self.output_aliases = tuple(sorted(signature_def.outputs))
        self._pool = pool
        self._input_indices = [pool.input_index(signature_def.inputs[alias].name) for alias in self.input_aliases]
        self._output_index = {alias: pool.output_index(info.name) for alias, info in signature_def.outputs.items()}

    def callable_for(self, outputs: tuple[str, ...], timeout_ms: int | None = None) -> Callable[..., list[Any]]:
        """The call fetching `outputs`; TF Lite's interpreter cannot be cancelled, so `timeout_ms` is not applied."""
        indices = [self._output_index[alias] for alias in outputs]
        return lambda *inputs: self._run(inputs, indices)

    def _run(self, inputs: tuple[np.ndarray, ...], output_indices: list[int]) -> list[np.ndarray]:
        with self._pool.borrow() as interpreter:
            try:
                _feed(interpreter, self._input_indices, inputs)
                interpreter.invoke()
            except (ValueError, RuntimeError) as error:
                raise invalid_argument(f"TF Lite could not run the inputs: {error}") from None
            return [interpreter.get_tensor(index) for index in output_indices]


def _feed(interpreter: tf.lite.Interpreter, indices: list[int], inputs: tuple[np.ndarray, ...]) -> None:
    """Resize inputs whose shape changed (then reallocate once), then copy every input in."""
    resized = False
    for index, value in zip(indices, inputs):
        if _shape(interpreter, index) != value.shape:
            interpreter.resize_tensor_input(index, list(value.shape))
            resized = True
    if resized:
        interpreter.allocate_tensors()
    for index, value in zip(indices, inputs):
        interpreter.set_tensor(index, value)


def _shape(interpreter: tf.lite.Interpreter, index: int) -> tuple[int, ...]:
    return tuple(int(size) for size in interpreter.tensor(index)().shape)
