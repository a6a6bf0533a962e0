"""The Open Inference Protocol (KServe v2) on our models: datatypes, tensor encodings and the protocol's calls.

The REST front end (serving/rest/v2_api.py) and the gRPC one (serving/grpc_api/inference_service.py)
decode their wire formats into ``serving.v2.models`` requests and run them through the same
``serving.core.inference.Inference`` as TensorFlow Serving's API, so both protocols share the manager,
the batcher, the deadlines and the metrics.
"""
