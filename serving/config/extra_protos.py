"""Config messages of TensorFlow Serving that the ``tensorflow-serving-api`` wheel does not ship.

BatchingParameters (``session_bundle_config.proto``), MonitoringConfig (``monitoring_config.proto``)
and SSLConfig (``ssl_config.proto``) are declared here with the same package, names, field numbers
and types, so the same text files parse here and in the real server.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

FieldProto = descriptor_pb2.FieldDescriptorProto
PACKAGE = "tensorflow.serving"

BATCHING_FIELDS = [
    ("max_batch_size", 1, ".google.protobuf.Int64Value"),
    ("batch_timeout_micros", 2, ".google.protobuf.Int64Value"),
    ("max_enqueued_batches", 3, ".google.protobuf.Int64Value"),
    ("num_batch_threads", 4, ".google.protobuf.Int64Value"),
    ("thread_pool_name", 5, ".google.protobuf.StringValue"),
    ("allowed_batch_sizes", 6, FieldProto.TYPE_INT64),
    ("pad_variable_length_inputs", 7, FieldProto.TYPE_BOOL),
    ("enable_large_batch_splitting", 8, ".google.protobuf.BoolValue"),
    ("max_execution_batch_size", 9, ".google.protobuf.Int64Value"),
]
PROMETHEUS_FIELDS = [("enable", 1, FieldProto.TYPE_BOOL), ("path", 2, FieldProto.TYPE_STRING)]
MONITORING_FIELDS = [("prometheus_config", 1, ".tensorflow.serving.PrometheusConfig")]
SSL_FIELDS = [
    ("server_key", 1, FieldProto.TYPE_STRING),
    ("server_cert", 2, FieldProto.TYPE_STRING),
    ("custom_ca", 3, FieldProto.TYPE_STRING),
    ("client_verify", 4, FieldProto.TYPE_BOOL),
]
REPEATED_FIELDS = {"allowed_batch_sizes"}


def _add_message(file_proto: descriptor_pb2.FileDescriptorProto, name: str, fields: list) -> None:
    message = file_proto.message_type.add(name=name)
    for field_name, number, kind in fields:
        label = FieldProto.LABEL_REPEATED if field_name in REPEATED_FIELDS else FieldProto.LABEL_OPTIONAL
        field = message.field.add(name=field_name, number=number, label=label)
        if isinstance(kind, str):
            field.type, field.type_name = FieldProto.TYPE_MESSAGE, kind
        else:
            field.type = kind


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="serving/config/extra_protos.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=[wrappers_pb2.DESCRIPTOR.name],
    )
    _add_message(file_proto, "BatchingParameters", BATCHING_FIELDS)
    _add_message(file_proto, "PrometheusConfig", PROMETHEUS_FIELDS)
    _add_message(file_proto, "MonitoringConfig", MONITORING_FIELDS)
    _add_message(file_proto, "SSLConfig", SSL_FIELDS)
    return file_proto


def _message_classes() -> dict[str, type]:
    pool = descriptor_pool.Default()
    try:
        file_descriptor = pool.FindFileByName("serving/config/extra_protos.proto")
    except KeyError:
        file_descriptor = pool.Add(_build_file())
    return {
        name: message_factory.GetMessageClass(file_descriptor.message_types_by_name[name])
        for name in ("BatchingParameters", "PrometheusConfig", "MonitoringConfig", "SSLConfig")
    }


_CLASSES = _message_classes()
BatchingParameters = _CLASSES["BatchingParameters"]
PrometheusConfig = _CLASSES["PrometheusConfig"]
MonitoringConfig = _CLASSES["MonitoringConfig"]
SSLConfig = _CLASSES["SSLConfig"]
