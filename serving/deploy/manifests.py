"""The docker-compose service and the Kubernetes objects that run the real TensorFlow Serving GPU image.

Each function returns a plain document (dicts and lists) that ``to_yaml`` writes; the values that
other files must agree with (ports, paths, file names) come from ``layout``.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from serving.deploy.layout import (
    APP_NAME,
    CONFIG_CHECKSUM_ANNOTATION,
    CONFIG_FILES,
    CONFIG_FLAGS,
    CONTAINER_CONFIG_DIR,
    CONTAINER_MODELS_DIR,
    GPU_RESOURCE,
    GRPC_PORT,
    REST_PORT,
    SERVER_BINARY,
    config_checksum,
    container_config_path,
)

LABELS = {"app.kubernetes.io/name": APP_NAME}
CONFIG_MAP_NAME = f"{APP_NAME}-config"
MODELS_CLAIM_NAME = f"{APP_NAME}-models"
MODEL_LOAD_SECONDS = 600  # the initial load of every model may take this long before liveness checks count
PROBE_PERIOD_SECONDS = 10
PROBE_FAILURES = 3
CPU_REQUEST = "2"
MEMORY_REQUEST = "4Gi"


@dataclass(frozen=True)
class ServerSpec:
    """What the compose service and the Deployment both run: image, flags, GPUs and the models volume."""

    image: str
    args: list[str]
    gpus: int
    replicas: int
    models_storage: str


def server_args(gpu_memory_fraction: float | None) -> list[str]:
    """tensorflow_model_server's flags: both ports, the three config files, batching and the gRPC health service.

    The health service turns SERVING only once every model in models.config is loaded, which is
    what the readiness probe needs; the REST status URL answers 200 earlier.
    """
    args = [f"--port={GRPC_PORT}", f"--rest_api_port={REST_PORT}", "--enable_batching"]
    args += [f"--{flag}={container_config_path(name)}" for flag, name in CONFIG_FLAGS.items()]
    args.append("--enable_grpc_healthcheck_service")
    if gpu_memory_fraction is not None:
        args.append(f"--per_process_gpu_memory_fraction={gpu_memory_fraction}")
    return args


def compose_document(spec: ServerSpec, models_source: str) -> dict:
    """One compose service: the image's binary run directly, models and configs mounted read-only, GPUs reserved.

    The healthcheck opens a TCP connection to the gRPC port with bash's /dev/tcp: the image has no
    curl or grpc_health_probe, and TensorFlow Serving opens its ports only after the models loaded.
    """
    volumes = [_bind(models_source, CONTAINER_MODELS_DIR)]
    volumes += [_bind(f"./{name}", container_config_path(name)) for name in CONFIG_FILES]
    service = {
        "image": spec.image,
        "entrypoint": [SERVER_BINARY],
        "command": spec.args,
        "ports": [{"target": port, "published": port, "protocol": "tcp"} for port in (GRPC_PORT, REST_PORT)],
        "volumes": volumes,
        "deploy": {"resources": {"reservations": {"devices": [
            {"driver": "nvidia", "count": spec.gpus, "capabilities": ["gpu"]}
        ]}}},
        "healthcheck": {
            "test": ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{GRPC_PORT}"],
            "interval": f"{PROBE_PERIOD_SECONDS}s",
            "timeout": "5s",
            "retries": PROBE_FAILURES,
            "start_period": f"{MODEL_LOAD_SECONDS}s",
        },
        "restart": "unless-stopped",
    }
    return {"services": {APP_NAME: service}}


def _bind(source: str, target: str) -> dict:
    return {"type": "bind", "source": source, "target": target, "read_only": True}


def config_map_document(config_texts: dict[str, str]) -> dict:
    """The three config files, byte for byte, as the ConfigMap the pods mount at the config directory."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP_NAME, "labels": LABELS},
        "data": {name: config_texts[name] for name in CONFIG_FILES},
    }


def models_claim_document(spec: ServerSpec) -> dict:
    """The volume that holds the saved_models tree; ReadWriteMany so a loader pod can add versions while serving."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": MODELS_CLAIM_NAME, "labels": LABELS},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": spec.models_storage}}},
    }


def deployment_document(spec: ServerSpec, config_texts: dict[str, str]) -> dict:
    """``replicas`` servers with GPUs, config and models mounted read-only, and gRPC health probes."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP_NAME, "labels": LABELS},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {
                    "labels": LABELS,
                    "annotations": {CONFIG_CHECKSUM_ANNOTATION: config_checksum(config_texts)},
                },
                "spec": _pod_spec(spec),
            },
        },
    }


def _pod_spec(spec: ServerSpec) -> dict:
    container = {
        "name": APP_NAME,
        "image": spec.image,
        "command": [SERVER_BINARY],
        "args": spec.args,
        "ports": [
            {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
            {"name": "http", "containerPort": REST_PORT, "protocol": "TCP"},
        ],
        "resources": {
            "requests": {"cpu": CPU_REQUEST, "memory": MEMORY_REQUEST},
            "limits": {GPU_RESOURCE: spec.gpus},
        },
        "startupProbe": _grpc_probe(MODEL_LOAD_SECONDS // PROBE_PERIOD_SECONDS),
        "readinessProbe": _grpc_probe(PROBE_FAILURES),
        "livenessProbe": _grpc_probe(PROBE_FAILURES),
        "volumeMounts": [
            {"name": "models", "mountPath": CONTAINER_MODELS_DIR, "readOnly": True},
            {"name": "config", "mountPath": CONTAINER_CONFIG_DIR, "readOnly": True},
        ],
    }
    return {
        "containers": [container],
        "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        "volumes": [
            {"name": "models", "persistentVolumeClaim": {"claimName": MODELS_CLAIM_NAME, "readOnly": True}},
            {"name": "config", "configMap": {"name": CONFIG_MAP_NAME}},
        ],
    }


def _grpc_probe(failure_threshold: int) -> dict:
    """Kubernetes' native gRPC probe (grpc.health.v1, empty service name) on the gRPC port."""
    return {
        "grpc": {"port": GRPC_PORT},
        "periodSeconds": PROBE_PERIOD_SECONDS,
        "timeoutSeconds": 5,
        "failureThreshold": failure_threshold,
    }


def service_document() -> dict:
    """A ClusterIP Service in front of the pods, gRPC on 8500 and REST on 8501."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": APP_NAME, "labels": LABELS},
        "spec": {
            "selector": LABELS,
            "ports": [
                {"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT, "protocol": "TCP", "appProtocol": "grpc"},
                {"name": "http", "port": REST_PORT, "targetPort": REST_PORT, "protocol": "TCP", "appProtocol": "http"},
            ],
        },
    }


class _BlockStrings(yaml.SafeDumper):
    """Writes multi-line strings (the config files in the ConfigMap) as literal ``|`` blocks a person can read."""

    def ignore_aliases(self, data) -> bool:
        """Repeat shared values (the labels) instead of writing YAML anchors."""
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStrings.add_representer(str, _represent_str)


def to_yaml(document: dict) -> str:
    """Deterministic YAML: keys in insertion order, no anchors, readable blocks for embedded files."""
    return yaml.dump(document, Dumper=_BlockStrings, sort_keys=False, default_flow_style=False, width=120)
