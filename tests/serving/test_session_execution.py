"""Our server runs a signature as TensorFlow Serving does (a session call on the SignatureDef's tensor names);
for every shipped model that gives what TensorFlow 2's own signature call gives, on the model's warmup requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from model_factory import export_half_plus
from server_process import REPO_ROOT, start_in_process
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.core.servable import load_servable
from serving.core.warmup import WARMUP_FILE, read_warmup_logs
from serving.errors import ServingError

SHIPPED_ROOT = Path(REPO_ROOT) / "saved_models"
LATEST_VERSIONS = sorted(
    max((path for path in model.iterdir() if path.name.isdigit()), key=lambda path: int(path.name))
    for model in SHIPPED_ROOT.iterdir()
    if model.is_dir() and any(path.name.isdigit() for path in model.iterdir())
)


def _warmup_requests(version_dir: Path) -> list:
    path = version_dir / WARMUP_FILE
    if not path.is_file():
        pytest.skip(f"{version_dir} has no warmup requests")
    return [entry.predict_log.request for entry in read_warmup_logs(str(path)) if entry.HasField("predict_log")]


def _assert_same(expected: np.ndarray, got: np.ndarray, where: str) -> None:
    expected, got = np.asarray(expected), np.asarray(got)
    assert expected.shape == got.shape and expected.dtype == got.dtype, where
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=where)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=where)


@pytest.mark.parametrize("version_dir", LATEST_VERSIONS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_session_call_matches_tensorflow2_signature_call(version_dir):
    requests = _warmup_requests(version_dir)
    servable = load_servable(version_dir.parent.name, int(version_dir.name), str(version_dir), frozenset({"serve"}))
    functions = tf.saved_model.load(str(version_dir)).signatures
    for request in requests:
        name = request.model_spec.signature_name or "serving_default"
        inputs = {alias: tf.make_ndarray(proto) for alias, proto in request.inputs.items()}
        ours = servable.run(servable.find_signature(name), inputs)
        theirs = functions[name](**{alias: tf.constant(value) for alias, value in inputs.items()})
        assert set(ours) == set(theirs)
        for alias, tensor in theirs.items():
            _assert_same(tensor.numpy(), ours[alias], f"{version_dir} {name}.{alias}")


def _edit_signatures(version_dir: Path, edit: Callable[[Mapping[str, meta_graph_pb2.SignatureDef]], None]) -> None:
    saved_model = saved_model_pb2.SavedModel.FromString((version_dir / "saved_model.pb").read_bytes())
    edit(saved_model.meta_graphs[0].signature_def)
    (version_dir / "saved_model.pb").write_bytes(saved_model.SerializeToString())


def test_a_signature_naming_a_missing_tensor_fails_its_calls_and_the_others_serve(tmp_path):
    version_dir = Path(export_half_plus(str(tmp_path), 1))
    _edit_signatures(version_dir, lambda defs: setattr(defs["regress_x_to_y"].outputs["outputs"], "name", "missing:0"))
    servable = load_servable("half_plus", 1, str(version_dir), frozenset({"serve"}))
    outputs = servable.run(servable.find_signature("serving_default"), {"x": np.array([2.0], np.float32)})
    np.testing.assert_allclose(outputs["y"], [3.0])
    with pytest.raises(ServingError, match="missing:0") as raised:
        servable.run(servable.find_signature("regress_x_to_y"), {"inputs": np.array([b""], object)})
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


def _with_a_broken_output(signature_defs: Mapping[str, meta_graph_pb2.SignatureDef]) -> None:
    outputs = signature_defs["serving_default"].outputs
    outputs["broken"].CopyFrom(outputs["y"])
    outputs["broken"].name = "missing:0"


@pytest.mark.parametrize("batching", [False, True], ids=["direct", "batching"])
def test_an_output_filter_fetches_only_the_requested_outputs(tmp_path, batching):
    """As on TensorFlow Serving, the session fetches only the filtered outputs, so an output the graph cannot
    compute fails only the requests that ask for it."""
    _edit_signatures(Path(export_half_plus(str(tmp_path / "half_plus"), 1)), _with_a_broken_output)
    server = start_in_process(f"--model_base_path={tmp_path / 'half_plus'}", *(["--enable_batching"] if batching else []))
    try:
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = predict_pb2.PredictRequest(output_filter=["y"])
            request.model_spec.name = "default"
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([2.0, 4.0], np.float32)))
            response = stub.Predict(request, timeout=30)
            assert list(response.outputs) == ["y"]
            np.testing.assert_allclose(tf.make_ndarray(response.outputs["y"]), [3.0, 4.0])
            del request.output_filter[:]
            with pytest.raises(grpc.RpcError) as raised:
                stub.Predict(request, timeout=30)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "missing:0" in raised.value.details()
    finally:
        server.stop()
