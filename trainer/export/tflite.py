"""`model.tflite` beside the SavedModel (`--tflite`): the serving signature converted by TensorFlow Lite.

TensorFlow Serving's `--prefer_tflite_model` serves a version's `model.tflite` instead of its SavedModel, and
reads the model's signatures from the `signature_defs_metadata` entry of the flatbuffer (a FlexBuffer map
from signature key to serialized SignatureDef; tensorflow/lite/tools/signature), not from the SignatureDefs
that today's converter writes. So the converted model gets both: the converter's own, for TF Lite's
signature runners, and the metadata, so that TF Serving (and our server) answer with the same input and
output aliases as the SavedModel. Only `serving_default` is converted: TF Serving runs a TF Lite model's
primary subgraph only, and each further signature would be a subgraph of its own.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.lite.tools import flatbuffer_utils

from trainer.errors import TrainerError
from trainer.export.spec import DEFAULT_SIGNATURE

TFLITE_FILE = "model.tflite"
SIGNATURE_DEFS_METADATA = b"signature_defs_metadata"


def write_tflite(saved_model_dir: Path) -> Path:
    """Convert `serving_default` of the SavedModel at saved_model_dir into saved_model_dir/model.tflite."""
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[DEFAULT_SIGNATURE])
        content = converter.convert()
    except Exception as error:  # the converter raises ConverterError and many others, all meaning "cannot"
        raise TrainerError(f"TF Lite cannot convert {DEFAULT_SIGNATURE} of {saved_model_dir}: {error}") from error
    path = saved_model_dir / TFLITE_FILE
    path.write_bytes(with_serving_signature_defs(content))
    return path


def with_serving_signature_defs(content: bytes) -> bytes:
    """The model with its SignatureDefs also stored as TF Serving's `signature_defs_metadata`."""
    builder = flexbuffers.Builder()
    with builder.Map():
        for key, signature_def in sorted(signature_defs(content).items()):
            builder.Key(key)
            builder.String(_Utf8Exempt(signature_def.SerializeToString()))
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    model.metadata = [entry for entry in model.metadata or [] if entry.name != SIGNATURE_DEFS_METADATA]
    buffer = flatbuffer_utils.schema_fb.BufferT()
    buffer.data = list(builder.Finish())
    model.buffers.append(buffer)
    metadata = flatbuffer_utils.schema_fb.MetadataT()
    metadata.name, metadata.buffer = SIGNATURE_DEFS_METADATA, len(model.buffers) - 1
    model.metadata.append(metadata)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def signature_defs(content: bytes) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The converter's signatures as SignatureDefs naming the TF Lite tensors (aliases as in the SavedModel)."""
    interpreter = _interpreter(content)
    result = {}
    for key in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(key)
        signature_def = meta_graph_pb2.SignatureDef(method_name=tf.saved_model.PREDICT_METHOD_NAME)
        for infos, details in ((signature_def.inputs, runner.get_input_details()),
                               (signature_def.outputs, runner.get_output_details())):
            for alias, detail in details.items():
                infos[alias].CopyFrom(_tensor_info(detail))
        result[key] = signature_def
    return result


def _tensor_info(detail: dict) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=detail["name"], dtype=tf.as_dtype(detail["dtype"]).as_datatype_enum)
    for size in detail["shape_signature"]:
        info.tensor_shape.dim.add(size=int(size))
    return info


def _interpreter(content: bytes) -> tf.lite.Interpreter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its notice that LiteRT's package will take over the interpreter
        return tf.lite.Interpreter(model_content=content)


class _Utf8Exempt(str):
    """Bytes for `flexbuffers.Builder.String`, which UTF-8-encodes its argument: a serialized proto is not text,
    and TF Serving reads the entry as a FlexBuffer string."""

    def __new__(cls, data: bytes) -> "_Utf8Exempt":
        text = super().__new__(cls, "")
        text.data = data
        return text

    def encode(self, *_: object, **__: object) -> bytes:
        return self.data
