"""Checks that the deployment files parse, agree with the saved_models tree and agree with each other.

    python -m serving.deploy.check --saved-models saved_models --deploy serving/deploy

Prints each problem on one line and exits 1 if there is any, 0 otherwise. ``check`` returns the
same problems for tests and other tools.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass, field

import yaml
from google.protobuf import text_format
from google.protobuf.message import Message
from tensorflow_serving.config import model_server_config_pb2

from serving.config.extra_protos import BatchingParameters, MonitoringConfig
from serving.deploy import generate
from serving.deploy.layout import (
    BATCHING_CONFIG,
    COMPOSE_FILE,
    CONFIG_CHECKSUM_ANNOTATION,
    CONFIG_FILES,
    GENERATE_COMMAND,
    GENERATED_MARK,
    K8S_FILES,
    MODELS_CONFIG,
    MONITORING_CONFIG,
    config_checksum,
    container_model_path,
    find_models,
)
from serving.deploy.manifest_checks import compose_problems, dig, kubernetes_problems

DEFAULT_MAX_BATCH_SIZE = 1000  # TensorFlow's SharedBatchScheduler default when the field is unset
CONFIG_MESSAGES = {
    MODELS_CONFIG: model_server_config_pb2.ModelServerConfig,
    BATCHING_CONFIG: BatchingParameters,
    MONITORING_CONFIG: MonitoringConfig,
}


@dataclass
class DeployFiles:
    """What could be read from a deploy directory: raw texts, parsed configs and YAML documents."""

    directory: str
    texts: dict[str, str] = field(default_factory=dict)
    configs: dict[str, Message] = field(default_factory=dict)
    compose: dict | None = None
    objects: dict[str, dict] = field(default_factory=dict)


def load(directory: str) -> tuple[DeployFiles, list[str]]:
    """Read and parse every expected file; a missing or unparsable file is a problem, not an exception."""
    files = DeployFiles(directory)
    problems = []
    for path in (*CONFIG_FILES, COMPOSE_FILE, *K8S_FILES.values()):
        try:
            with open(os.path.join(directory, path), "rb") as handle:
                files.texts[path] = handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot read: {error}")
            continue
        if not files.texts[path].startswith(GENERATED_MARK):
            problems.append(f"{path}: does not start with the '{GENERATED_MARK}' header")
        problems += _parse(files, path)
    return files, problems


def _parse(files: DeployFiles, path: str) -> list[str]:
    text = files.texts[path]
    if path in CONFIG_MESSAGES:
        try:
            files.configs[path] = text_format.Parse(text, CONFIG_MESSAGES[path]())
        except text_format.ParseError as error:
            return [f"{path}: not a text {CONFIG_MESSAGES[path].DESCRIPTOR.name}: {error}"]
        return []
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as error:
        return [f"{path}: not YAML: {' '.join(str(error).split())}"]
    if path == COMPOSE_FILE:
        files.compose = documents[0] if len(documents) == 1 and isinstance(documents[0], dict) else None
        return [] if files.compose is not None else [f"{path}: expected one YAML mapping"]
    return _collect_object(files, path, documents)


def _collect_object(files: DeployFiles, path: str, documents: list) -> list[str]:
    kind = next(kind for kind, kind_path in K8S_FILES.items() if kind_path == path)
    found = [document for document in documents if dig(document, "kind") == kind]
    if len(found) != 1:
        return [f"{path}: expected one {kind}, found {len(found)}"]
    files.objects[kind] = found[0]
    return []


def model_problems(saved_models: str, config: Message) -> list[str]:
    """The models of the tree and of models.config are the same set, each at its base path under /models."""
    listed = [model.name for model in config.model_config_list.config]
    found = find_models(saved_models)
    problems = [f"{MODELS_CONFIG}: model {name} of {saved_models} is missing" for name in found if name not in listed]
    problems += [
        f"{MODELS_CONFIG}: model {name} has no numeric version directory under {saved_models}"
        for name in listed if name not in found
    ]
    problems += [f"{MODELS_CONFIG}: model {name} is listed more than once" for name in sorted(set(listed))
                 if listed.count(name) > 1]
    for model in config.model_config_list.config:
        if model.base_path.rstrip("/") != container_model_path(model.name):
            problems.append(f"{MODELS_CONFIG}: model {model.name} has base_path {model.base_path}, "
                            f"expected {container_model_path(model.name)}")
        if model.model_platform != "tensorflow":
            problems.append(f"{MODELS_CONFIG}: model {model.name} has model_platform "
                            f"{model.model_platform!r}, expected 'tensorflow'")
    return problems


def config_value_problems(files: DeployFiles) -> list[str]:
    """Values TF Serving would reject or that turn a feature off: batch sizes and the Prometheus endpoint."""
    problems = []
    batching = files.configs.get(BATCHING_CONFIG)
    if batching is not None:
        largest = batching.max_batch_size.value if batching.HasField("max_batch_size") else DEFAULT_MAX_BATCH_SIZE
        if largest < 1:
            problems.append(f"{BATCHING_CONFIG}: max_batch_size is {largest}, expected >= 1")
        if batching.allowed_batch_sizes and batching.allowed_batch_sizes[-1] != largest:
            problems.append(f"{BATCHING_CONFIG}: the last allowed_batch_sizes entry must equal max_batch_size")
    monitoring = files.configs.get(MONITORING_CONFIG)
    if monitoring is not None and not (monitoring.prometheus_config.enable and monitoring.prometheus_config.path):
        problems.append(f"{MONITORING_CONFIG}: prometheus_config must be enabled with a path")
    return problems


def config_copy_problems(files: DeployFiles) -> list[str]:
    """The ConfigMap holds byte-identical copies of the config files, and the pods carry their checksum."""
    config_map = files.objects.get("ConfigMap")
    if config_map is None or any(name not in files.texts for name in CONFIG_FILES):
        return []
    data = dig(config_map, "data") or {}
    problems = [
        f"{K8S_FILES['ConfigMap']}: data[{name!r}] is not a byte-identical copy of {name}"
        for name in CONFIG_FILES
        if dig(data, name) != files.texts[name]
    ]
    checksum = config_checksum({name: files.texts[name] for name in CONFIG_FILES})
    annotation = dig(files.objects.get("Deployment"), "spec", "template", "metadata", "annotations",
                     CONFIG_CHECKSUM_ANNOTATION)
    if "Deployment" in files.objects and annotation != checksum:
        problems.append(f"{K8S_FILES['Deployment']}: pod annotation {CONFIG_CHECKSUM_ANNOTATION} is not the "
                        "checksum of the config files, so pods would keep an old config")
    return problems


def stale_problems(files: DeployFiles) -> list[str]:
    """Files that differ from what the command in their header generates now.

    This catches a generator change that was not followed by a re-run, which the rules above
    cannot see while the old files are still consistent.
    """
    command = _recorded_command(files.texts.get(MODELS_CONFIG, ""))
    if command is None:
        return [f"{MODELS_CONFIG}: the header names no generate command"]
    try:
        options = generate.parse_options(command[len(shlex.split(GENERATE_COMMAND)):])
    except SystemExit:
        return [f"{MODELS_CONFIG}: the header's command does not parse: {shlex.join(command)}"]
    expected = generate.render(options, _generator_directory(files.directory, options.out))
    return [
        f"{path}: differs from what `{shlex.join(command)}` writes now; re-run it"
        for path, text in expected.items()
        if path in files.texts and files.texts[path] != text
    ]


def _generator_directory(deploy_dir: str, out: str) -> str:
    """The directory the generator ran in: the one from which its ``--out`` leads to ``deploy_dir``."""
    up_from_out = os.path.relpath(os.getcwd(), os.path.abspath(out))
    return os.path.normpath(os.path.join(os.path.abspath(deploy_dir), up_from_out))


def _recorded_command(text: str) -> list[str] | None:
    lines = text.splitlines()
    if len(lines) < 2 or not lines[1].startswith(f"#   {GENERATE_COMMAND} "):
        return None
    return shlex.split(lines[1][len("#"):])


def check(saved_models: str, deploy_dir: str) -> list[str]:
    """Every problem with the deployment files in ``deploy_dir`` for the models under ``saved_models``.

    Staleness against the generator is checked last and only when every rule holds, so a hand edit
    is reported by the rule it breaks rather than as "differs from the generator".
    """
    files, problems = load(deploy_dir)
    if MODELS_CONFIG in files.configs:
        problems += model_problems(saved_models, files.configs[MODELS_CONFIG])
    problems += config_value_problems(files)
    problems += config_copy_problems(files)
    if files.compose is not None:
        problems += compose_problems(files.compose, deploy_dir, saved_models)
    if "Deployment" in files.objects:
        problems += kubernetes_problems(files.objects)
    return problems or stale_problems(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.deploy.check", description=__doc__.splitlines()[0])
    parser.add_argument("--saved-models", required=True, help="the saved_models root the files must describe")
    parser.add_argument("--deploy", required=True, help="the directory serving.deploy.generate wrote")
    args = parser.parse_args(argv)
    problems = check(args.saved_models, args.deploy)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
