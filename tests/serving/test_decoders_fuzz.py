"""Property-based fuzzing of the two request decoders: REST JSON → arrays and TensorProto → array.

Whatever a client sends, a decoder returns arrays or raises the API's own error (ServingError, which the
front ends turn into a status): no other exception escapes. Bounded in examples and time, and
derandomized so that CI sees the same cases every run.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from serving.core.signature import Signature, TensorInfo
from serving.core.tensors import to_ndarray
from serving.errors import ServingError
from serving.rest import json_tensor
from serving.rest.predict_body import PredictBody

FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], database=None
)
DTYPES = [
    types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_UINT8,
    types_pb2.DT_INT8, types_pb2.DT_BOOL, types_pb2.DT_STRING, types_pb2.DT_HALF, types_pb2.DT_BFLOAT16,
    types_pb2.DT_COMPLEX64, types_pb2.DT_UINT16, types_pb2.DT_RESOURCE, types_pb2.DT_VARIANT,
]
SIGNATURE = Signature(
    name="serving_default",
    method_name="tensorflow/serving/predict",
    inputs={
        "a": TensorInfo("a", types_pb2.DT_FLOAT, (None, 2)),
        "b": TensorInfo("b", types_pb2.DT_INT64, (None,)),
        "tag": TensorInfo("tag", types_pb2.DT_STRING, (None,)),
    },
    outputs={},
)

json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.fixed_dictionaries({"b64": st.text(max_size=12)}),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from(["a", "b", "tag", "x", "b64"]), children, max_size=4)
    ),
    max_leaves=24,
)
documents = st.one_of(
    st.fixed_dictionaries({"instances": json_values}),
    st.fixed_dictionaries({"inputs": json_values}),
    st.fixed_dictionaries({"signature_name": json_values, "instances": json_values}),
    st.dictionaries(st.text(max_size=10), json_values, max_size=3),
    json_values,
)


def decode_json(body: bytes) -> None:
    """Decode as the REST API does (numeric fast path first), and with the general decoder alone."""
    request = PredictBody(body)
    request.signature_name()
    inputs, _ = request.inputs(SIGNATURE)
    assert all(isinstance(value, np.ndarray) for value in inputs.values())
    inputs, _ = json_tensor.predict_inputs_from_json(json_tensor.parse_json_body(body), SIGNATURE)
    assert all(isinstance(value, np.ndarray) for value in inputs.values())


@FUZZ
@given(documents)
def test_the_json_decoder_answers_any_document_with_arrays_or_its_own_error(document):
    try:
        decode_json(json.dumps(document, allow_nan=True).encode())
    except ServingError:
        pass


@FUZZ
@given(st.binary(max_size=200))
def test_the_json_decoder_answers_any_bytes_with_arrays_or_its_own_error(body):
    try:
        decode_json(body)
    except ServingError:
        pass


dimensions = st.lists(
    st.one_of(st.integers(min_value=-2, max_value=6), st.sampled_from([2**31, 2**40, 2**62])), max_size=4
)
tensor_protos = st.builds(
    lambda dtype, dims, unknown_rank, content, floats, ints, strings, bools: _tensor_proto(
        dtype, dims, unknown_rank, content, floats, ints, strings, bools
    ),
    st.sampled_from(DTYPES),
    dimensions,
    st.booleans(),
    st.binary(max_size=64),
    st.lists(st.floats(width=32), max_size=8),
    st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), max_size=8),
    st.lists(st.binary(max_size=6), max_size=4),
    st.lists(st.booleans(), max_size=4),
)


def _tensor_proto(dtype, dims, unknown_rank, content, floats, ints, strings, bools) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.CopyFrom(
        tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in dims],
                                          unknown_rank=unknown_rank)
    )
    if content:
        proto.tensor_content = content
    proto.float_val.extend(floats)
    proto.int_val.extend(ints)
    proto.string_val.extend(strings)
    proto.bool_val.extend(bools)
    return proto


@FUZZ
@given(tensor_protos)
@example(_tensor_proto(types_pb2.DT_FLOAT, [0, 2**31, 2**31], False, b"", [], [], [], []))  # found by this test
def test_the_tensor_proto_decoder_answers_any_proto_with_an_array_or_its_own_error(proto):
    try:
        array = to_ndarray(proto, "x")
    except ServingError:
        return
    assert isinstance(array, np.ndarray)
    assert array.size < 2**20, "a declared size was allocated without the values to fill it"
