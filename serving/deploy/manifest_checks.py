"""Rules for docker-compose.yml and the Kubernetes objects: flags, mounts, ports, GPUs and health probes.

Each rule returns problems as one-line strings that start with the file they are about; an empty
list means the rule holds. The documents are whatever YAML held, so every lookup tolerates
missing or mistyped keys and reports them instead of raising.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from serving.deploy.layout import (
    APP_NAME,
    COMPOSE_FILE,
    CONFIG_FLAGS,
    CONTAINER_MODELS_DIR,
    GPU_RESOURCE,
    GRPC_PORT,
    K8S_FILES,
    REST_PORT,
)

PORT_FLAGS = {"port": GRPC_PORT, "rest_api_port": REST_PORT}
HEALTH_FLAG = "enable_grpc_healthcheck_service"
DEPLOYMENT = K8S_FILES["Deployment"]
SERVICE = K8S_FILES["Service"]


def dig(node: object, *path: str | int) -> object:
    """``node[path[0]][path[1]]...``, or None where a key is missing or a value has the wrong type."""
    for key in path:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def as_list(node: object) -> list:
    """``node`` if it is a YAML list, else an empty list."""
    return node if isinstance(node, list) else []


def index_by(items: object, key: str) -> dict[str, dict]:
    """The mappings of a YAML list by their string ``key``; entries without one are skipped."""
    return {item[key]: item for item in as_list(items) if isinstance(item, dict) and isinstance(item.get(key), str)}


def parse_flags(argv: object) -> dict[str, str]:
    """``--name=value`` and bare ``--name`` (meaning true), as tensorflow_model_server reads them."""
    flags = {}
    for arg in as_list(argv):
        if isinstance(arg, str) and arg.startswith("--"):
            name, equals, value = arg[2:].partition("=")
            flags[name] = value if equals else "true"
    return flags


def server_flag_problems(
    where: str, flags: dict[str, str], mount_problem: Callable[[str, str], str | None]
) -> list[str]:
    """The ports, the config files (each mounted where its flag points), batching and the health service."""
    problems = [
        f"{where}: --{flag}={flags.get(flag)} but the deployment files use {port}"
        for flag, port in PORT_FLAGS.items()
        if flags.get(flag) != str(port)
    ]
    for flag, file_name in CONFIG_FLAGS.items():
        if flag not in flags:
            problems.append(f"{where}: --{flag} is not set")
        elif (problem := mount_problem(flags[flag], file_name)) is not None:
            problems.append(f"{where}: --{flag}={flags[flag]} {problem}")
    if flags.get("enable_batching", "false") != "true":
        problems.append(f"{where}: --batching_parameters_file needs --enable_batching, which is not set")
    if flags.get(HEALTH_FLAG, "false") != "true":
        problems.append(f"{where}: --{HEALTH_FLAG} is not set, so the gRPC health check has nothing to ask")
    return problems


def compose_problems(compose: dict, deploy_dir: str, saved_models: str) -> list[str]:
    """The compose service runs the server with mounted configs and models, both ports, a GPU and a healthcheck."""
    service = dig(compose, "services", APP_NAME)
    if not isinstance(service, dict):
        return [f"{COMPOSE_FILE}: no service {APP_NAME!r} under services"]
    mounted = index_by(service.get("volumes"), "target")

    def mount_problem(path: str, file_name: str) -> str | None:
        return _bind_problem(mounted.get(path), deploy_dir, os.path.join(deploy_dir, file_name))

    problems = server_flag_problems(COMPOSE_FILE, parse_flags(service.get("command")), mount_problem)
    models_problem = _bind_problem(mounted.get(CONTAINER_MODELS_DIR), deploy_dir, saved_models)
    if models_problem is not None:
        problems.append(f"{COMPOSE_FILE}: the models mount at {CONTAINER_MODELS_DIR} {models_problem}")
    published = {str(dig(port, "target")): str(dig(port, "published")) for port in as_list(service.get("ports"))}
    problems += [
        f"{COMPOSE_FILE}: port {port} is not published as {port}:{port}"
        for port in (GRPC_PORT, REST_PORT)
        if published.get(str(port)) != str(port)
    ]
    return problems + _compose_gpu_problems(service) + _compose_health_problems(service)


def _bind_problem(volume: dict | None, deploy_dir: str, expected_source: str) -> str | None:
    """Why a bind volume does not mount ``expected_source`` read-only, or None if it does."""
    if volume is None:
        return "is not mounted"
    source = volume.get("source")
    if not isinstance(source, str) or os.path.realpath(os.path.join(deploy_dir, source)) != os.path.realpath(
        expected_source
    ):
        return f"is mounted from {source}, expected {os.path.relpath(expected_source, deploy_dir)}"
    if volume.get("read_only") is not True:
        return "is mounted writable, expected read_only: true"
    return None


def _compose_gpu_problems(service: dict) -> list[str]:
    devices = as_list(dig(service, "deploy", "resources", "reservations", "devices"))
    for device in devices:
        count = dig(device, "count")
        if dig(device, "driver") == "nvidia" and "gpu" in as_list(dig(device, "capabilities")) and (
            count == "all" or (isinstance(count, int) and count >= 1)
        ):
            return []
    return [f"{COMPOSE_FILE}: no GPU reserved (deploy.resources.reservations.devices with driver nvidia, "
            "capabilities [gpu] and count >= 1)"]


def _compose_health_problems(service: dict) -> list[str]:
    if not as_list(dig(service, "healthcheck", "test")):
        return [f"{COMPOSE_FILE}: the service has no healthcheck test"]
    return []


def kubernetes_problems(objects: dict[str, dict]) -> list[str]:
    """The Deployment runs the server with mounted configs and models, GPUs and gRPC probes; the Service matches it."""
    container = _server_container(objects.get("Deployment"))
    if container is None:
        return [f"{DEPLOYMENT}: no container named {APP_NAME!r}"]
    pod = dig(objects["Deployment"], "spec", "template", "spec")
    volumes = index_by(dig(pod, "volumes"), "name")
    mounts = index_by(container.get("volumeMounts"), "mountPath")

    def mount_problem(path: str, file_name: str) -> str | None:
        return _config_map_mount_problem(path, file_name, mounts, volumes, objects.get("ConfigMap"))

    problems = server_flag_problems(DEPLOYMENT, parse_flags(container.get("args")), mount_problem)
    problems += _models_volume_problems(mounts, volumes, objects.get("PersistentVolumeClaim"))
    problems += _gpu_limit_problems(container)
    problems += _probe_problems(container)
    problems += _port_problems(container, objects.get("Service"))
    return problems + _selector_problems(objects["Deployment"], objects.get("Service"))


def _server_container(deployment: dict | None) -> dict | None:
    return index_by(dig(deployment, "spec", "template", "spec", "containers"), "name").get(APP_NAME)


def _config_map_mount_problem(
    path: str, file_name: str, mounts: dict, volumes: dict, config_map: dict | None
) -> str | None:
    """Why ``path`` is not the ConfigMap key ``file_name`` in a mounted ConfigMap volume, or None if it is."""
    directory, key = os.path.split(path)
    volume = volumes.get(dig(mounts.get(directory), "name"))
    if volume is None:
        return f"is not mounted: no volume is mounted at {directory}"
    if dig(volume, "configMap", "name") != dig(config_map, "metadata", "name"):
        return f"is not in the ConfigMap of {K8S_FILES['ConfigMap']}"
    if key != file_name or key not in (dig(config_map, "data") or {}):
        return f"names key {key}, expected {file_name} in the ConfigMap"
    return None


def _models_volume_problems(mounts: dict, volumes: dict, claim: dict | None) -> list[str]:
    mount = mounts.get(CONTAINER_MODELS_DIR)
    if mount is None:
        return [f"{DEPLOYMENT}: nothing is mounted at {CONTAINER_MODELS_DIR}"]
    problems = []
    if mount.get("readOnly") is not True:
        problems.append(f"{DEPLOYMENT}: {CONTAINER_MODELS_DIR} is not mounted readOnly")
    claim_name = dig(volumes.get(mount.get("name")), "persistentVolumeClaim", "claimName")
    if claim_name is not None and claim_name != dig(claim, "metadata", "name"):
        problems.append(f"{DEPLOYMENT}: the models volume claims {claim_name}, which "
                        f"{K8S_FILES['PersistentVolumeClaim']} does not define")
    return problems


def _gpu_limit_problems(container: dict) -> list[str]:
    gpus = dig(container, "resources", "limits", GPU_RESOURCE)
    if str(gpus).isdigit() and int(gpus) >= 1:
        return []
    return [f"{DEPLOYMENT}: resources.limits.{GPU_RESOURCE} is {gpus}, expected a GPU count >= 1"]


def _probe_problems(container: dict) -> list[str]:
    """A readiness probe asking the gRPC health service on the gRPC port, and a liveness probe."""
    problems = []
    readiness = container.get("readinessProbe")
    if not isinstance(readiness, dict):
        problems.append(f"{DEPLOYMENT}: container {APP_NAME} has no readinessProbe")
    elif dig(readiness, "grpc", "port") != GRPC_PORT:
        problems.append(f"{DEPLOYMENT}: the readinessProbe must be a grpc probe on port {GRPC_PORT} "
                        f"(the REST status URL answers 200 before models are AVAILABLE)")
    if not isinstance(container.get("livenessProbe"), dict):
        problems.append(f"{DEPLOYMENT}: container {APP_NAME} has no livenessProbe")
    return problems


def _port_problems(container: dict, service: dict | None) -> list[str]:
    """Both container ports declared, and the Service forwarding 8500 and 8501 to them."""
    declared = {dig(port, "name"): dig(port, "containerPort") for port in as_list(container.get("ports"))}
    problems = [
        f"{DEPLOYMENT}: containerPort {port} is not declared" for port in (GRPC_PORT, REST_PORT)
        if port not in declared.values()
    ]
    forwarded = {
        dig(port, "port"): declared.get(dig(port, "targetPort"), dig(port, "targetPort"))
        for port in as_list(dig(service, "spec", "ports"))
    }
    problems += [
        f"{SERVICE}: port {port} does not forward to containerPort {port} (got {forwarded.get(port)})"
        for port in (GRPC_PORT, REST_PORT)
        if forwarded.get(port) != port
    ]
    return problems


def _selector_problems(deployment: dict, service: dict | None) -> list[str]:
    labels = dig(deployment, "spec", "template", "metadata", "labels")
    labels = labels if isinstance(labels, dict) else {}
    problems = []
    for where, selector in ((DEPLOYMENT, dig(deployment, "spec", "selector", "matchLabels")),
                            (SERVICE, dig(service, "spec", "selector"))):
        if not isinstance(selector, dict) or not selector or any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"{where}: selector {selector} does not match the pod labels {labels}")
    return problems
