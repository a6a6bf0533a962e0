"""Opt-in hardening: ports bound to one address, model directories confined to an allow-list, mutual TLS."""

from __future__ import annotations

import datetime
import os
import socket

import grpc
import pytest
import tensorflow as tf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from model_factory import export_half_plus
from server_process import free_port, start_in_process
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc


def predict_request() -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([2.0]))
    return request


def accepts(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((address, port)) == 0


def test_both_ports_can_listen_on_loopback_only(tmp_path):
    export_half_plus(str(tmp_path / "m"), 1)
    server = start_in_process(
        "--model_name=m", f"--model_base_path={tmp_path / 'm'}",
        "--grpc_bind_address=127.0.0.1", "--rest_api_bind_address=127.0.0.1",
    )
    try:
        assert accepts("127.0.0.1", server.grpc_port) and accepts("127.0.0.1", server.rest_port)
        assert not accepts("127.0.0.2", server.grpc_port), "gRPC listens beyond 127.0.0.1"
        assert not accepts("127.0.0.2", server.rest_port), "REST listens beyond 127.0.0.1"
    finally:
        server.stop()


def reload_to(base_path: str) -> model_management_pb2.ReloadConfigRequest:
    request = model_management_pb2.ReloadConfigRequest()
    request.config.model_config_list.config.add(name="m", base_path=base_path, model_platform="tensorflow")
    return request


def test_model_directories_outside_the_allow_list_are_refused(tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    export_half_plus(str(allowed / "m"), 1)
    export_half_plus(str(outside / "m"), 1)
    os.symlink(outside / "m", allowed / "link")
    server = start_in_process("--model_name=m", f"--model_base_path={allowed / 'm'}", f"--allowed_model_base_paths={allowed}")
    channel = grpc.insecure_channel(server.grpc_target)
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    try:
        for escape in (outside / "m", allowed / ".." / "outside" / "m", allowed / "link"):
            with pytest.raises(grpc.RpcError) as refused:
                models.HandleReloadConfigRequest(reload_to(str(escape)), 30.0)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "outside the directories that --allowed_model_base_paths allows" in refused.value.details()
        assert models.HandleReloadConfigRequest(reload_to(str(allowed / "m")), 30.0).status.error_code == 0
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        assert stub.Predict(predict_request(), 10.0).outputs["y"].float_val[0] == 3.0
    finally:
        channel.close()
        server.stop()


def test_startup_refuses_a_base_path_outside_the_allow_list(tmp_path):
    export_half_plus(str(tmp_path / "m"), 1)
    with pytest.raises(Exception, match="--allowed_model_base_paths"):
        start_in_process("--model_name=m", f"--model_base_path={tmp_path / 'm'}", f"--allowed_model_base_paths={tmp_path / 'other'}")


class Certificates:
    """A CA, a server certificate for localhost, and a client certificate, all made by the test."""

    def __init__(self) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = self._certificate("test CA", self.ca_key.public_key(), is_ca=True)
        self.server_key, self.server = self._leaf("localhost")
        self.client_key, self.client = self._leaf("test client")

    def _leaf(self, name: str):
        key = ec.generate_private_key(ec.SECP256R1())
        return key, self._certificate(name, key.public_key(), is_ca=False)

    def _certificate(self, name: str, public_key, is_ca: bool) -> x509.Certificate:
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if not is_ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())


def pem(item) -> bytes:
    if isinstance(item, x509.Certificate):
        return item.public_bytes(serialization.Encoding.PEM)
    return item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def text_field(value: bytes) -> str:
    return value.decode().replace("\n", "\\n")


def test_mutual_tls_serves_clients_with_a_certificate_and_refuses_others(tmp_path):
    export_half_plus(str(tmp_path / "m"), 1)
    certificates = Certificates()
    ssl_config = tmp_path / "ssl.config"
    ssl_config.write_text(
        f'server_key: "{text_field(pem(certificates.server_key))}"\n'
        f'server_cert: "{text_field(pem(certificates.server))}"\n'
        f'custom_ca: "{text_field(pem(certificates.ca))}"\n'
        "client_verify: true\n"
    )
    port = free_port()
    server = start_in_process(  # the later --port wins over the helper's plain one: this port speaks TLS
        "--model_name=m", f"--model_base_path={tmp_path / 'm'}", f"--ssl_config_file={ssl_config}", f"--port={port}"
    )
    try:
        trusted = grpc.ssl_channel_credentials(pem(certificates.ca), pem(certificates.client_key), pem(certificates.client))
        with grpc.secure_channel(f"localhost:{port}", trusted) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            assert stub.Predict(predict_request(), 10.0).outputs["y"].float_val[0] == 3.0
        anonymous = grpc.ssl_channel_credentials(pem(certificates.ca))
        with grpc.secure_channel(f"localhost:{port}", anonymous) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(predict_request(), 10.0)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()

