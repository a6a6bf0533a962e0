"""GetModelStatus answers, shared by the gRPC ModelService and the REST status endpoints."""

from __future__ import annotations

from tensorflow_serving.apis import get_model_status_pb2

from serving.core.manager import AspiredVersionsManager
from serving.errors import invalid_argument


def model_status_response(
    manager: AspiredVersionsManager, request: get_model_status_pb2.GetModelStatusRequest
) -> get_model_status_pb2.GetModelStatusResponse:
    """Every version the manager knows (labels are ignored, as in TF Serving)."""
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")
    if not request.model_spec.name:
        raise invalid_argument("ModelSpec has no name specified.")
    spec = request.model_spec
    version = spec.version.value if spec.WhichOneof("version_choice") == "version" else None
    response = get_model_status_pb2.GetModelStatusResponse()
    for record in manager.version_status(spec.name, version):
        status = response.model_version_status.add(version=record.version, state=record.state)
        status.status.SetInParent()
        if record.error is not None:
            status.status.error_code = record.error.code.value[0]
            status.status.error_message = record.error.message
    return response
