"""The Open Inference Protocol (KServe v2) gRPC messages and stubs, shared by serving/ and client/.

``grpc_predict_v2.proto`` is the protocol's published file, copied unchanged from KServe
(python/kserve/kserve/protocol/grpc/); ``grpc_predict_v2_pb2*.py`` are generated from it by
``scripts/generate_inference_protocol.py`` with grpcio-tools 1.85 (gencode for protobuf 7.x, our runtime).
Never edit the generated modules: change the generator and regenerate.
"""
